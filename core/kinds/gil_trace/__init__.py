"""``gil-trace``: a live trace of the GIL handing the interpreter from thread to thread.

``N`` threads each run a workload in tiny units and stamp the time (``time.perf_counter``) after
every unit. While a thread makes progress its stamps come every few microseconds; when it has to
wait (for the GIL, or for a core) there is a gap. Consecutive stamps closer than a threshold form one
*run bar* (a slice); drawn as one lane per thread, the bars show pure-Python threads taking turns
every switch interval (``sys.getswitchinterval()``, 5 ms by default), and GIL-releasing work (a
NumPy kernel, a sleep) running side by side.

Why a child process: the switch interval is a process-wide setting, and the app serves many
visitors from one interpreter whose own threads (Streamlit's, Dask's) compete for the same GIL.
Every trace runs in a fresh ``python -m core.kinds.gil_trace`` process: the parent's interpreter settings
are never changed, and the trace is not disturbed by the server's threads. The child records and
segments its stamps (sending 10⁵–10⁶ raw stamps over a pipe would cost more than the trace) and
returns the slices as JSON; the parent turns them into tidy frames and statistics. The caller holds
the run slot (:func:`core.kinds.base.measure` does): a trace taken while an experiment runs would
share the cores with it and show waits that are not the GIL's.

Why these units (see :func:`unit_factory`):

* ``python``: a ``for`` loop of 1 000 additions, ~20 µs of bytecode. Short against the 5 ms switch
  interval (so a hand-over shows up as a gap of about one interval), long against the cost of the
  stamp itself. Pure bytecode, no long C call: CPython checks for a GIL drop request between
  bytecodes, so the hand-over happens on time.
* ``numpy``: ``np.dot`` of a 96 × 96 float64 matrix into a preallocated output, ~35 µs, with BLAS
  pinned to 1 thread (so each Python thread uses one core, as in the lab's other NumPy runs). The
  product runs in C with the GIL released; only the call and the stamp need the GIL, for about a
  microsecond. (Larger kernels release it too, but give fewer stamps and coarser bars.)
* ``sleep``: ``time.sleep(100 µs)``. Sleeping releases the GIL: the stand-in for I/O. A sleeping
  thread is not computing, but it is not held up by the GIL either; its lane is solid.

The package, by concern: :mod:`~core.kinds.gil_trace.spec` (the spec and its limits),
:mod:`~core.kinds.gil_trace.child` (the child process's program: record and segment),
:mod:`~core.kinds.gil_trace.result` (statistics, frames, JSON), :mod:`~core.kinds.gil_trace.run` (the
parent: start the child, watch it), :mod:`~core.kinds.gil_trace.words`, :mod:`~core.kinds.gil_trace.chart`
and :mod:`~core.kinds.gil_trace.cli` (the verb, :data:`KIND`). Every name is importable from here.
"""

from __future__ import annotations

from core.kinds.gil_trace.chart import (
    TRACE_COLORS,
    TRACE_COLUMNS,
    gil_trace_chart,
    merge_short_gaps,
)
from core.kinds.gil_trace.child import (
    child_main,
    median_gap,
    pin_blas,
    python_unit,
    record_trace,
    segment,
    unit_factory,
)
from core.kinds.gil_trace.cli import (
    KIND,
    GilTraceKind,
)
from core.kinds.gil_trace.result import (
    GilTrace,
    build_trace,
    compare_traces,
    overlap_fractions,
    turns_of,
)
from core.kinds.gil_trace.run import (
    child_env,
    run_gil_trace,
)
from core.kinds.gil_trace.spec import (
    CHILD_GRACE_S,
    CHILD_START_S,
    GAP_FACTOR,
    GAP_FLOOR_S,
    MAX_STAMPS,
    NUMPY_SIDE,
    POLL_S,
    PYTHON_UNIT_LOOPS,
    REPO,
    SLEEP_UNIT_S,
    TRACE_LIMITS,
    TRACE_WORKLOAD_LABELS,
    TRACE_WORKLOADS,
    GilTraceSpec,
    TraceError,
    TraceWorkload,
    check_number,
)
from core.kinds.gil_trace.words import (
    explain_trace,
    trace_table,
)

__all__ = [
    "GAP_FACTOR",
    "GAP_FLOOR_S",
    "GilTrace",
    "GilTraceKind",
    "GilTraceSpec",
    "KIND",
    "MAX_STAMPS",
    "NUMPY_SIDE",
    "PYTHON_UNIT_LOOPS",
    "SLEEP_UNIT_S",
    "TRACE_LIMITS",
    "TRACE_WORKLOADS",
    "TRACE_WORKLOAD_LABELS",
    "TraceError",
    "TraceWorkload",
    "CHILD_GRACE_S",
    "CHILD_START_S",
    "POLL_S",
    "REPO",
    "TRACE_COLORS",
    "TRACE_COLUMNS",
    "check_number",
    "child_env",
    "child_main",
    "median_gap",
    "merge_short_gaps",
    "pin_blas",
    "python_unit",
    "turns_of",
    "unit_factory",
    "build_trace",
    "compare_traces",
    "explain_trace",
    "gil_trace_chart",
    "overlap_fractions",
    "record_trace",
    "run_gil_trace",
    "segment",
    "trace_table",
]
