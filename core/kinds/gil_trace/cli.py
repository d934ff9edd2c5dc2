"""The ``gil-trace`` verb: its arguments, its spec and :data:`KIND`."""

from __future__ import annotations

import argparse

from core.kinds.base import KindBase, RunContext
from core.kinds.gil_trace.result import GilTrace
from core.kinds.gil_trace.run import run_gil_trace
from core.kinds.gil_trace.spec import CHILD_START_S, MAX_STAMPS, TRACE_WORKLOADS, GilTraceSpec
from core.measure.estimate import Cost

# --- the kind ----------------------------------------------------------------------------------------------


class GilTraceKind(KindBase, name="gil-trace", title="GIL trace", spec=GilTraceSpec,
                   help="trace threads taking turns on the GIL (run in a child process)"):
    """``python -m core gil-trace``: threads taking turns on the GIL, traced in a child process."""

    def cost(self, spec: GilTraceSpec) -> Cost:
        # The child keeps at most MAX_STAMPS float64 stamps (its share per thread) beside an interpreter.
        return Cost(seconds=spec.seconds + CHILD_START_S, memory_bytes=8 * MAX_STAMPS + 60_000_000,
                    what="this trace", advice="trace fewer seconds (the CLI's --force runs it anyway)")

    def run(self, spec: GilTraceSpec, ctx: RunContext) -> GilTrace:
        return run_gil_trace(spec, ctx)

    def add_arguments(self, trace: argparse.ArgumentParser) -> None:
        trace.add_argument("--threads", type=int, default=2, help="threads to trace, 1 to 16 (default 2)")
        trace.add_argument("--seconds", type=float, default=0.5, help="how long they work, 0.05 to 3 (default 0.5)")
        trace.add_argument("--workload", default="python", choices=list(TRACE_WORKLOADS),
                           help="python holds the GIL; numpy (np.dot) and sleep release it (default python)")
        trace.add_argument("--switch-interval-ms", type=float, default=5.0,
                           help="the trace process's switch interval, 0.5 to 100 ms (default 5, CPython's)")

    def spec_from_args(self, args: argparse.Namespace) -> GilTraceSpec:
        return GilTraceSpec(threads=args.threads, seconds=args.seconds, workload=args.workload,
                            switch_interval_ms=args.switch_interval_ms)


KIND = GilTraceKind()

