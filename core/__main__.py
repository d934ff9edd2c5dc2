"""Allow ``python -m core``.

The CLI is imported under the guard, not at the top: whoever runs this file as a script or with
``runpy`` under another name (a spawned child re-running its parent's main is the classic case) must
not import the whole lab for nothing. (Spawn itself skips a ``-m`` package's ``__main__``, and the lab
starts its pools without the parent's main anyway: :mod:`core.workers`.)
"""

import signal
import sys

if __name__ == "__main__":
    from core.cli import main

    # SIGTERM (a batch system's time limit, `kill`) would otherwise end the process without running its
    # exit hooks: clusters would not be closed and pool semaphores would be reported as leaked. Turning it
    # into SystemExit runs them. Installed here, not in main(), which tests call in-process.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    sys.exit(main())
