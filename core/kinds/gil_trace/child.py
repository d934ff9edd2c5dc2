"""The child process of a GIL trace: run the threads, stamp every unit, cut the stamps into run bars.

Runs in a fresh ``python -m core.kinds.gil_trace`` interpreter (see the package's docstring), which
is why it imports little: the parent turns its JSON into frames.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any

from core.kinds.gil_trace.spec import (
    GAP_FACTOR,
    GAP_FLOOR_S,
    MAX_STAMPS,
    NUMPY_SIDE,
    PYTHON_UNIT_LOOPS,
    SLEEP_UNIT_S,
    GilTraceSpec,
)
from core.measure.machine import gil_enabled

# --- the child: record and segment ----------------------------------------------------------------


def python_unit() -> None:
    total = 0
    for i in range(PYTHON_UNIT_LOOPS):
        total += i


def unit_factory(workload: str) -> Callable[[], Callable[[], object]]:
    """A factory of per-thread work units (each thread gets its own output buffer)."""
    if workload == "python":
        return lambda: python_unit
    if workload == "sleep":
        return lambda: (lambda: time.sleep(SLEEP_UNIT_S))
    import numpy as np

    matrix = np.random.default_rng(0).random((NUMPY_SIDE, NUMPY_SIDE))

    def make() -> Callable[[], object]:
        out = np.empty_like(matrix)
        return lambda: np.dot(matrix, matrix, out=out)

    return make


def pin_blas() -> list[dict[str, Any]]:
    """Pin BLAS/OpenMP pools to one thread and report them (the child's env already asks for 1)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=1)
    return [{"internal_api": p.get("internal_api"), "num_threads": p.get("num_threads")} for p in threadpool_info()]


def segment(stamps: Sequence[float], unit_s: float, threshold_s: float) -> list[tuple[float, float]]:
    """Cut one thread's stamps into run bars: ``(start, end)`` pairs.

    Parameters
    ----------
    stamps : sequence of float
        Increasing times: the thread's start, then the end of each work unit.
    unit_s : float
        Typical (median) time of one unit when the thread runs freely.
    threshold_s : float
        A gap longer than this between consecutive stamps is a wait; shorter gaps are running.

    Returns
    -------
    list of (float, float)
        One pair per run bar. After a wait, the thread resumed somewhere inside the next unit: its
        bar starts one unit time before that unit's stamp (never before the previous stamp).
    """
    if not stamps:
        return []
    bars: list[tuple[float, float]] = []
    start = prev = stamps[0]
    for t in stamps[1:]:
        if t - prev > threshold_s:
            bars.append((start, prev))
            start = max(prev, t - unit_s)
        prev = t
    bars.append((start, prev))
    return bars


def median_gap(stamps: list[array]) -> float:
    diffs: list[float] = []
    for s in stamps:
        # A stride keeps the median cheap on a million stamps; a few 10⁵ samples pin it down.
        step = max(1, len(s) // 200_000)
        diffs.extend(s[i + 1] - s[i] for i in range(0, len(s) - 1, step))
    return statistics.median(diffs) if diffs else 0.0


def record_trace(spec: GilTraceSpec) -> dict[str, Any]:
    """Run the trace in THIS process and return its raw slices; :func:`run_gil_trace` runs it in a child.

    Every thread waits at one :class:`threading.Barrier`; the barrier's action notes the start time,
    so all threads share one deadline. Times in the result are seconds from that start. The switch
    interval is set for the trace and restored afterwards; the numpy workload pins BLAS to one
    thread for good (fine in the child, which exits).
    """
    factory = unit_factory(spec.workload)  # imports NumPy (and so loads BLAS) for the numpy workload
    blas = pin_blas() if spec.workload == "numpy" else []
    previous = sys.getswitchinterval()
    sys.setswitchinterval(spec.switch_interval_ms / 1000)
    try:
        return _record(spec, factory, blas)
    finally:
        sys.setswitchinterval(previous)


def _record(spec: GilTraceSpec, factory: Callable[[], Callable[[], object]], blas: list[dict[str, Any]]
            ) -> dict[str, Any]:
    n = spec.threads
    cap = max(2, MAX_STAMPS // n)
    stamps = [array("d") for _ in range(n)]
    truncated = [False] * n
    start = [0.0]
    barrier = threading.Barrier(n, action=lambda: start.__setitem__(0, time.perf_counter()))

    def worker(i: int) -> None:
        work = factory()
        out = stamps[i]
        clock = time.perf_counter
        append = out.append
        barrier.wait()
        deadline = start[0] + spec.seconds
        append(clock())  # the first moment this thread holds the GIL after the barrier
        for _ in range(cap - 1):
            work()
            now = clock()
            append(now)
            if now >= deadline:
                break
        else:
            truncated[i] = True

    threads = [threading.Thread(target=worker, args=(i,), name=f"gil-trace-{i + 1}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    unit_s = median_gap(stamps)
    threshold_s = max(GAP_FACTOR * unit_s, min(GAP_FLOOR_S, spec.switch_interval_ms / 2000))
    t0 = start[0]
    return {
        "switch_interval_s": sys.getswitchinterval(),
        "gil_enabled": gil_enabled(),
        "unit_s": unit_s,
        "threshold_s": threshold_s,
        "blas": blas,
        "threads": [
            {
                "thread": i + 1,
                "units": max(0, len(s) - 1),
                "truncated": truncated[i],
                "slices": [(a - t0, b - t0) for a, b in segment(s, unit_s, threshold_s)],
            }
            for i, s in enumerate(stamps)
        ],
    }


def child_main(argv: list[str]) -> int:
    spec = GilTraceSpec(**json.loads(argv[0]))
    sys.stdout.write(json.dumps(record_trace(spec)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
