"""Allow ``python -m core``. The guard matters: process workers re-import ``__main__`` (spawn)."""

import signal
import sys

from core.cli import main

if __name__ == "__main__":
    # SIGTERM (a batch system's time limit, `kill`) would otherwise end the process without running its
    # exit hooks: clusters would not be closed and pool semaphores would be reported as leaked. Turning it
    # into SystemExit runs them. Installed here, not in main(), which tests call in-process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main())
