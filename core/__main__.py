"""Allow ``python -m core``. The guard matters: process workers re-import ``__main__`` (spawn)."""

import sys

from core.cli import main

if __name__ == "__main__":
    sys.exit(main())
