"""``python -m core.kinds.gil_trace SPEC_JSON``: the trace's child process (see :mod:`core.kinds.gil_trace.child`)."""

import sys

from core.kinds.gil_trace.child import child_main

sys.exit(child_main(sys.argv[1:]))
