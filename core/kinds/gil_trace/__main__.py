"""``python -m core.kinds.gil_trace SPEC_JSON``: the trace's child process (see :mod:`core.kinds.gil_trace.child`)."""

import sys

from core.kinds.gil_trace.child import _child_main

sys.exit(_child_main(sys.argv[1:]))
