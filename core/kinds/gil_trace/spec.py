"""The GIL trace's spec: threads, seconds, workload and switch interval, validated once; its limits."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from core.spec import short_repr

TraceWorkload = Literal["python", "numpy", "sleep"]
TRACE_WORKLOADS: tuple[str, ...] = get_args(TraceWorkload)

TRACE_WORKLOAD_LABELS: dict[str, str] = {
    "python": "pure Python (holds the GIL)",
    "numpy": "NumPy np.dot (releases the GIL)",
    "sleep": "time.sleep (releases the GIL)",
}

TRACE_LIMITS: dict[str, tuple[float, float]] = {
    "threads": (1, 16),
    "seconds": (0.05, 3.0),
    # Below ~0.5 ms a hand-over gap is no longer clearly longer than OS scheduling noise.
    "switch_interval_ms": (0.5, 100.0),
}

MAX_STAMPS = 2_000_000
"""Stamps kept in the child, all threads together (16 MB of float64): a thread stops at its share."""

PYTHON_UNIT_LOOPS = 1_000
NUMPY_SIDE = 96
SLEEP_UNIT_S = 100e-6
GAP_FACTOR = 4.0
"""A gap between stamps longer than this many median units is a wait (the unit time varies ~±50 %)."""
GAP_FLOOR_S = 250e-6
"""…and at least this long (capped at half the switch interval): shorter stalls are OS noise (an
interrupt, a page fault), not a lost GIL. A GIL hand-over costs a whole switch interval."""

CHILD_GRACE_S = 60.0  # start-up (imports) and shutdown of the child, beyond the trace itself
CHILD_START_S = 0.5  # what the estimate adds for starting the child interpreter
POLL_S = 0.1  # how often a running trace looks for a stop request
REPO = Path(__file__).resolve().parents[3]


class TraceError(RuntimeError):
    """The child process that runs a trace failed or did not finish in time."""


def check_number(name: str, value: Any, *, integer: bool) -> float:
    low, high = TRACE_LIMITS[name]
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be {kind} from {low:g} to {high:g} (got {short_repr(value)})")
    return value


@dataclass(frozen=True)
class GilTraceSpec:
    """What to trace: ``threads`` threads running ``workload`` for ``seconds``.

    Parameters
    ----------
    threads : int
        Threads started behind one barrier (1 to 16).
    seconds : float
        How long every thread keeps working (0.05 to 3 s).
    workload : {"python", "numpy", "sleep"}
        ``python`` holds the GIL; ``numpy`` (``np.dot``, BLAS pinned to 1 thread) and ``sleep``
        release it.
    switch_interval_ms : float
        The child interpreter's switch interval (0.5 to 100 ms; CPython's default is 5): how long a
        thread waiting for the GIL waits before it asks the holder to drop it.
    """

    threads: int = 2
    seconds: float = 0.5
    workload: TraceWorkload = "python"
    switch_interval_ms: float = 5.0

    def __post_init__(self) -> None:
        check_number("threads", self.threads, integer=True)
        check_number("seconds", self.seconds, integer=False)
        check_number("switch_interval_ms", self.switch_interval_ms, integer=False)
        if not isinstance(self.workload, str) or self.workload not in TRACE_WORKLOADS:
            raise ValueError(f"workload must be one of {', '.join(TRACE_WORKLOADS)} (got {short_repr(self.workload)})")
        object.__setattr__(self, "seconds", float(self.seconds))
        object.__setattr__(self, "switch_interval_ms", float(self.switch_interval_ms))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-serialisable)."""
        return asdict(self)

    @property
    def label(self) -> str:
        """E.g. ``2 threads × python for 0.5 s, switch interval 5 ms``."""
        return (f"{self.threads} thread{'s' if self.threads != 1 else ''} × {self.workload} for {self.seconds:g} s,"
                f" switch interval {self.switch_interval_ms:g} ms")

