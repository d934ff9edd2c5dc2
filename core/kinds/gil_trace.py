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

Why these units (see :func:`_unit_factory`):

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
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from core.kinds.base import RunContext, StrictJson, machine_line, records
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo, gil_enabled, machine_info
from core.measure.noise import Noise, NoiseMeter
from core.spec import short_repr

if TYPE_CHECKING:
    import pandas as pd

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

_CHILD_GRACE_S = 60.0  # start-up (imports) and shutdown of the child, beyond the trace itself
_CHILD_START_S = 0.5  # what the estimate adds for starting the child interpreter
_POLL_S = 0.1  # how often a running trace looks for a stop request
_REPO = Path(__file__).resolve().parents[2]


class TraceError(RuntimeError):
    """The child process that runs a trace failed or did not finish in time."""


def _check_number(name: str, value: Any, *, integer: bool) -> float:
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
        _check_number("threads", self.threads, integer=True)
        _check_number("seconds", self.seconds, integer=False)
        _check_number("switch_interval_ms", self.switch_interval_ms, integer=False)
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


# --- the child: record and segment ----------------------------------------------------------------


def _python_unit() -> None:
    total = 0
    for i in range(PYTHON_UNIT_LOOPS):
        total += i


def _unit_factory(workload: str) -> Callable[[], Callable[[], object]]:
    """A factory of per-thread work units (each thread gets its own output buffer)."""
    if workload == "python":
        return lambda: _python_unit
    if workload == "sleep":
        return lambda: (lambda: time.sleep(SLEEP_UNIT_S))
    import numpy as np

    matrix = np.random.default_rng(0).random((NUMPY_SIDE, NUMPY_SIDE))

    def make() -> Callable[[], object]:
        out = np.empty_like(matrix)
        return lambda: np.dot(matrix, matrix, out=out)

    return make


def _pin_blas() -> list[dict[str, Any]]:
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


def _median_gap(stamps: list[array]) -> float:
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
    factory = _unit_factory(spec.workload)  # imports NumPy (and so loads BLAS) for the numpy workload
    blas = _pin_blas() if spec.workload == "numpy" else []
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
    unit_s = _median_gap(stamps)
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


def _child_main(argv: list[str]) -> int:
    spec = GilTraceSpec(**json.loads(argv[0]))
    sys.stdout.write(json.dumps(record_trace(spec)))
    sys.stdout.flush()
    return 0


# --- the parent: run the child, build the result ---------------------------------------------------


@dataclass(frozen=True)
class GilTrace(StrictJson):
    """What one :func:`run_gil_trace` measured.

    Attributes
    ----------
    spec : GilTraceSpec
        What was traced.
    threads : DataFrame
        One row per thread: ``thread`` (1…N), ``units`` (work units done), ``running_s`` (time in
        run bars), ``running_share`` (of the wall time), ``slices`` (number of run bars),
        ``mean_slice_ms``, ``max_slice_ms``, ``waits`` (gaps between bars), ``mean_wait_ms``
        (NaN without waits), ``turns``, ``mean_turn_ms``, ``truncated`` (hit its share of
        :data:`MAX_STAMPS`).
    slices : DataFrame
        One row per run bar: ``thread``, ``start_s``, ``end_s`` (seconds from the barrier's
        release), ``length_ms``.
    parallel_fraction : float
        Fraction of the wall time during which two or more threads made progress at once.
    busy_fraction : float
        Fraction of the wall time during which at least one thread made progress.
    mean_turn_ms : float
        Mean length of a *turn*: a thread's bars until another thread's bar starts (see
        :func:`_turns`). For pure Python on a busy machine this tracks the switch interval better
        than the bars, which the operating system also cuts.
    handoffs : int
        Times progress passed from one thread to another (turns − 1).
    switch_interval_s : float
        The child's switch interval, as it reported it.
    wall_s : float
        From the barrier's release to the last thread's last stamp.
    unit_us, gap_threshold_us : float
        Median time of one work unit, and the gap above which the trace counts a wait.
    gil_enabled : bool
        Whether the GIL was enabled in the child (False only on a free-threaded build running without it).
    blas : tuple of dict
        The child's BLAS pools after pinning (``numpy`` workload only).
    machine : MachineInfo
        The machine (the child runs the same interpreter).
    started_at, run_id : str
        ISO timestamp (UTC), and the trace's id.
    noise : Noise, optional
        Other programs' CPU while the child ran (not in the JSON).
    """

    spec: GilTraceSpec
    threads: pd.DataFrame = field(repr=False)
    slices: pd.DataFrame = field(repr=False)
    parallel_fraction: float
    busy_fraction: float
    mean_turn_ms: float
    handoffs: int
    switch_interval_s: float
    wall_s: float
    unit_us: float
    gap_threshold_us: float
    gil_enabled: bool
    blas: tuple[dict[str, Any], ...]
    machine: MachineInfo
    started_at: str
    run_id: str = ""
    noise: Noise | None = field(default=None, repr=False)

    @property
    def workload(self) -> str:
        return self.spec.workload

    @property
    def title(self) -> str:
        """What was traced, in words: ``pure Python (holds the GIL)``."""
        return TRACE_WORKLOAD_LABELS[self.workload]

    @property
    def truncated(self) -> bool:
        """Whether any thread stopped early at its share of :data:`MAX_STAMPS`."""
        return bool(self.threads["truncated"].any())

    @property
    def mean_slice_ms(self) -> float:
        """Mean run-bar length over all threads (ms)."""
        return float(self.slices["length_ms"].mean()) if len(self.slices) else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``spec``, ``threads`` and ``slices`` (lists of records), the fractions, ``machine``."""
        return {
            "started_at": self.started_at,
            "spec": self.spec.to_dict(),
            "workload": self.workload,
            "switch_interval_s": self.switch_interval_s,
            "wall_s": self.wall_s,
            "parallel_fraction": self.parallel_fraction,
            "busy_fraction": self.busy_fraction,
            "mean_slice_ms": self.mean_slice_ms,
            "mean_turn_ms": self.mean_turn_ms,
            "handoffs": self.handoffs,
            "unit_us": self.unit_us,
            "gap_threshold_us": self.gap_threshold_us,
            "gil_enabled": self.gil_enabled,
            "truncated": self.truncated,
            "blas": list(self.blas),
            "machine": self.machine.to_dict(),
            "threads": records(self.threads),
            "slices": records(self.slices),
        }


    # -- words, charts, terminal ---------------------------------------------------------------------

    def explain(self) -> list[str]:
        return explain_trace(self)

    def metrics(self) -> list[tuple[str, str, str, str]]:
        out = [("parallel_fraction", f"{self.parallel_fraction:.0%}", "",
                "Share of the wall time during which two or more threads made progress at once.")]
        if self.workload == "python":
            out += [("Mean turn", f"{self.mean_turn_ms:.1f} ms", "",
                     "How long a thread stayed in front before another thread's bar started. For pure Python this"
                     f" follows the switch interval ({self.switch_interval_s * 1000:g} ms)."),
                    ("Hand-overs", f"{self.handoffs}", "", "Times progress passed from one thread to another.")]
        else:  # lanes run side by side: turns and hand-overs mean little, bar lengths do
            out += [("Mean bar", f"{self.mean_slice_ms:.1f} ms", "",
                     "How long a thread made progress without a break, on average."),
                    ("Waits", f"{int(self.threads['waits'].sum())}", "",
                     "Gaps in all lanes together: times a thread had to wait (for the GIL or a core).")]
        out.append(("Busy", f"{self.busy_fraction:.0%}", "",
                    "Share of the wall time during which at least one thread made progress."))
        return out

    def charts(self, window_s: tuple[float, float] | None = None) -> list[tuple[str, Any]]:
        """The lanes chart, of the whole trace or of ``window_s`` (seconds); none if the window has no bars."""
        try:
            return [("Lanes", gil_trace_chart(self.slices, window_s=window_s))]
        except ValueError:  # a window in which this trace has no bars: nothing to draw
            return []

    def captions(self) -> dict[str, str]:
        return {"Lanes": f"Work unit ≈ {self.unit_us:.0f} µs; a gap over {self.gap_threshold_us:.0f} µs between two"
                         " stamps counts as a wait. The operating system also cuts bars (another program on the"
                         " core), without moving the GIL: *turns* count only changes of the thread in front."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"threads": self.threads, "slices": self.slices}

    def text(self) -> str:
        return trace_table(self)


def compare_traces(traces: Sequence[GilTrace]) -> pd.DataFrame:
    """One row per trace: its workload and the figures that tell taking turns from running side by side."""
    import pandas as pd

    return pd.DataFrame({
        "workload": [t.workload for t in traces],
        "parallel_fraction": [t.parallel_fraction for t in traces],
        "hand-overs": [t.handoffs for t in traces],
        "mean turn (ms)": [t.mean_turn_ms for t in traces],
        "mean bar (ms)": [t.mean_slice_ms for t in traces],
        "busy": [t.busy_fraction for t in traces],
    })


def overlap_fractions(slices: pd.DataFrame, wall_s: float) -> tuple[float, float]:
    """``(parallel, busy)``: fractions of ``wall_s`` with ≥ 2 and ≥ 1 threads inside a run bar.

    A sweep over the bars' start (+1) and end (−1) events; a thread's own bars never overlap.
    """
    if wall_s <= 0 or slices.empty:
        return 0.0, 0.0
    events = sorted([(float(s), 1) for s in slices["start_s"]] + [(float(e), -1) for e in slices["end_s"]])
    parallel = busy = 0.0
    running = 0
    prev = events[0][0]
    for t, step in events:
        if running >= 2:
            parallel += t - prev
        if running >= 1:
            busy += t - prev
        running += step
        prev = t
    return min(1.0, parallel / wall_s), min(1.0, busy / wall_s)


def _turns(slices: pd.DataFrame) -> pd.DataFrame:
    """Merge each thread's consecutive bars into *turns*: a turn ends when another thread's bar starts.

    A lane also breaks when the operating system gives the core to another program (on a busy
    machine, every few ms): then nobody makes progress, and the GIL stays where it was. Counting only
    changes of the thread in front separates the GIL's hand-overs from that noise. With threads
    running side by side (GIL released) bars interleave and turns are about as many as bars.
    """
    import pandas as pd

    if slices.empty:
        return pd.DataFrame(columns=["thread", "start_s", "end_s", "length_ms"])
    ordered = slices.sort_values(["start_s", "thread"], kind="stable")
    turn = (ordered["thread"] != ordered["thread"].shift()).cumsum()
    grouped = ordered.groupby(turn, sort=True).agg(thread=("thread", "first"), start_s=("start_s", "min"),
                                                   end_s=("end_s", "max"))
    grouped["length_ms"] = (grouped["end_s"] - grouped["start_s"]) * 1000
    return grouped.reset_index(drop=True)


def build_trace(spec: GilTraceSpec, raw: dict[str, Any], machine: MachineInfo, started_at: str,
                run_id: str = "") -> GilTrace:
    """Turn the child's raw slices into a :class:`GilTrace` (per-thread stats, overlap fractions)."""
    import pandas as pd

    rows = [(t["thread"], float(a), float(b)) for t in raw["threads"] for a, b in t["slices"]]
    slices = pd.DataFrame(rows, columns=["thread", "start_s", "end_s"]).astype({"thread": "int64"})
    slices["length_ms"] = (slices["end_s"] - slices["start_s"]) * 1000
    wall_s = float(slices["end_s"].max()) if len(slices) else 0.0
    turns = _turns(slices)
    stats = []
    for t in raw["threads"]:
        mine = slices[slices["thread"] == t["thread"]]
        my_turns = turns[turns["thread"] == t["thread"]]
        gaps = (mine["start_s"].to_numpy()[1:] - mine["end_s"].to_numpy()[:-1]) * 1000
        running = float((mine["end_s"] - mine["start_s"]).sum())
        stats.append({
            "thread": int(t["thread"]),
            "units": int(t["units"]),
            "running_s": running,
            "running_share": running / wall_s if wall_s > 0 else math.nan,
            "slices": len(mine),
            "mean_slice_ms": float(mine["length_ms"].mean()) if len(mine) else math.nan,
            "max_slice_ms": float(mine["length_ms"].max()) if len(mine) else math.nan,
            "waits": len(gaps),
            "mean_wait_ms": float(gaps.mean()) if len(gaps) else math.nan,
            "turns": len(my_turns),
            "mean_turn_ms": float(my_turns["length_ms"].mean()) if len(my_turns) else math.nan,
            "truncated": bool(t["truncated"]),
        })
    parallel, busy = overlap_fractions(slices, wall_s)
    return GilTrace(
        spec=spec,
        threads=pd.DataFrame(stats),
        slices=slices,
        parallel_fraction=parallel,
        busy_fraction=busy,
        mean_turn_ms=float(turns["length_ms"].mean()) if len(turns) else math.nan,
        handoffs=max(0, len(turns) - 1),
        switch_interval_s=float(raw["switch_interval_s"]),
        wall_s=wall_s,
        unit_us=float(raw["unit_s"]) * 1e6,
        gap_threshold_us=float(raw["threshold_s"]) * 1e6,
        gil_enabled=bool(raw["gil_enabled"]),
        blas=tuple(raw.get("blas", ())),
        machine=machine,
        started_at=started_at,
        run_id=run_id or uuid.uuid4().hex[:8],
    )


def _child_env(workload: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO), env.get("PYTHONPATH", "")) if p)
    if workload == "numpy":
        # Set before NumPy loads: BLAS then never starts its helper threads (threadpoolctl pins it too).
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
    return env


def run_gil_trace(spec: GilTraceSpec, ctx: RunContext | None = None) -> GilTrace:
    """Run a GIL trace in a fresh child process and return what it measured.

    Parameters
    ----------
    spec : GilTraceSpec
        Threads, duration, workload and switch interval (validated by the spec).
    ctx : RunContext, optional
        Progress, a stop request (polled while the child runs: a closed browser tab kills it) and a
        deadline. The caller holds the run slot.

    Returns
    -------
    GilTrace
        Per-thread statistics, the run bars, ``parallel_fraction`` and the machine. This process's
        own switch interval is never touched.

    Raises
    ------
    TraceError
        If the child process fails or overruns its time limit.
    RunCancelled
        If ``ctx.should_stop()`` turned true while the child ran.
    """
    ctx = ctx or RunContext()
    cmd = [sys.executable, "-m", "core.kinds.gil_trace", json.dumps(spec.to_dict())]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    limit = spec.seconds + _CHILD_GRACE_S
    if ctx.deadline_s is not None:
        limit = min(limit, ctx.deadline_s)
    ctx.progress(f"Tracing {spec.label} in a fresh Python process", 0.0)
    with NoiseMeter(machine_info().usable_cores) as meter:  # other programs' CPU while the child runs
        proc = subprocess.Popen(cmd, cwd=_REPO, env=_child_env(spec.workload), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        t0 = time.monotonic()
        try:
            while True:
                try:
                    out, err = proc.communicate(timeout=_POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    if ctx.should_stop is not None and ctx.should_stop():
                        from core.engines import RunCancelled

                        raise RunCancelled("the trace was stopped on request") from None
                    if time.monotonic() - t0 > limit:
                        raise TraceError(f"the trace process did not finish within {limit:.0f} s") from None
        finally:
            if proc.poll() is None:  # stopped, or a limit passed: the child goes with it
                proc.kill()
                proc.communicate()
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise TraceError(f"the trace process failed (exit {proc.returncode}): {last}")
    try:
        raw = json.loads(out)
    except json.JSONDecodeError as exc:
        raise TraceError(f"the trace process printed no result: {out[:200]!r}") from exc
    ctx.progress("Done", 1.0)
    return replace(build_trace(spec, raw, machine_info(), started_at), noise=meter.noise)


def explain_trace(trace: GilTrace) -> list[str]:
    """Plain-language sentences (Markdown) about one trace, written from its measured numbers.

    Never claims that threads cannot run Python in parallel when the trace ran without the GIL.
    """
    spec, pf, cores = trace.spec, trace.parallel_fraction, trace.machine.usable_cores
    interval_ms = trace.switch_interval_s * 1000
    if spec.threads == 1:
        return [f"One thread has no one to hand the GIL to: it made progress {trace.busy_fraction:.0%} of the time"
                " (gaps, if any, are the operating system running something else on its core)."]
    together = f"two or more threads made progress at the same moment **{pf:.0%}** of the time"
    out: list[str] = []
    if spec.workload == "python":
        if not trace.gil_enabled:
            out.append(f"This interpreter ran the trace **without the GIL**: {together}. Python threads here can run"
                       " bytecode on several cores at once.")
        else:
            out.append(f"The threads handed the interpreter over **{trace.handoffs}** times: a turn lasted"
                       f" **{trace.mean_turn_ms:.1f} ms** on average, against a switch interval of {interval_ms:g} ms;"
                       f" {together}. Only the thread holding the GIL runs Python bytecode.")
            if pf > 0.1:
                out.append("That overlap is more than the GIL allows for pure Python: bars start about one work"
                           " unit early, and a loaded machine blurs them.")
    else:
        what = "np.dot releases the GIL while it multiplies" if spec.workload == "numpy" else (
            "a sleeping thread releases the GIL and needs no core")
        lead = "Lanes overlap" if pf >= 0.3 else "The lanes barely overlapped"
        out.append(f"{lead}: {together} ({what}).")
        if spec.workload == "numpy" and spec.threads > cores:
            out.append(f"With {spec.threads} threads on {cores} usable core{'s' if cores != 1 else ''}, the gaps"
                       " are threads waiting for a core, not for the GIL.")
        if spec.workload == "numpy" and pf < 0.3 and cores >= 2:
            out.append(f"Less overlap than {cores} cores allow. np.dot still needs the GIL for a moment between"
                       " products: when other programs keep the cores busy, a thread that has just released the GIL"
                       " often takes it back before the waiting thread has woken up (the *convoy effect*), and the"
                       " lanes take turns as if the work held the GIL. Measure again when the machine is quieter.")
    if trace.truncated:
        out.append(f"Some threads stopped early: the trace keeps at most {MAX_STAMPS:,} time stamps.")
    return out


def trace_table(trace: GilTrace) -> str:
    """The command line's human summary of a trace: header, per-thread table, overlap."""
    cols = ["thread", "units", "running_s", "slices", "mean_slice_ms", "turns", "mean_turn_ms", "mean_wait_ms"]
    lines = [
        f"GIL trace: {trace.spec.label}",
        machine_line(trace.machine, gil=f"{'enabled' if trace.gil_enabled else 'disabled'} in the trace process")
        + f" · switch interval {trace.switch_interval_s * 1000:g} ms"
        + "".join(f" · BLAS {b['internal_api']} {b['num_threads']} thread(s)" for b in trace.blas),
        f"work unit ≈ {trace.unit_us:.0f} µs; a gap over {trace.gap_threshold_us:.0f} µs counts as a wait",
        "",
        trace.threads[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"),
        "",
        f"wall {trace.wall_s:.3f} s · parallel_fraction {trace.parallel_fraction:.3f}"
        f" (share of the wall time with 2+ threads making progress at once)"
        f" · busy {trace.busy_fraction:.3f} · {trace.handoffs} hand-overs, mean turn {trace.mean_turn_ms:.2f} ms",
    ]
    if trace.truncated:
        lines.append(f"note: some threads stopped early at their share of {MAX_STAMPS:,} stamps")
    return "\n".join(lines)


# --- the chart -----------------------------------------------------------------------------------------

_TRACE_COLUMNS = ["thread", "start_s", "end_s"]
_TRACE_COLORS = ["#f28e2b", "#4e79a7", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f", "#bab0ac"]  # Tableau 10, orange first (threads sharing one GIL, as in every chart)


def _merge_short_gaps(bars: pd.DataFrame, max_bars: int) -> tuple[pd.DataFrame, float]:
    """Fill in each lane's shortest gaps until at most ``max_bars`` bars remain.

    Returns the bars and the longest gap filled in (0 if none): thousands of sub-pixel bars would make
    the chart slow and no more readable, and the caption says what was filled in.
    """
    bars = bars.sort_values(["thread", "start_s"], kind="stable").reset_index(drop=True)
    if len(bars) <= max_bars:
        return bars, 0.0
    same_lane = bars["thread"].eq(bars["thread"].shift())
    gaps = (bars["start_s"] - bars["end_s"].shift()).where(same_lane)
    n_merge = len(bars) - max_bars
    known = gaps.dropna().sort_values(kind="stable")
    if known.empty:
        return bars, 0.0
    cut = float(known.iloc[min(n_merge, len(known)) - 1])
    new_bar = ~(same_lane & (gaps <= cut))
    merged = bars.groupby(new_bar.cumsum(), sort=False).agg(
        thread=("thread", "first"), start_s=("start_s", "min"), end_s=("end_s", "max"))
    return merged.reset_index(drop=True), cut


def gil_trace_chart(
    slices: pd.DataFrame,
    window_s: tuple[float, float] | None = None,
    max_bars: int = 3000,
    title: str | None = None,
) -> Any:
    """One lane per thread, a bar wherever that thread made progress.

    Parameters
    ----------
    slices : pandas.DataFrame
        Run bars with ``thread`` (1…N), ``start_s`` and ``end_s`` (seconds from the threads' start),
        as in :attr:`GilTrace.slices`.
    window_s : (float, float), optional
        Show only this time window (seconds); bars crossing its edges are cut at them. A 20–50 ms
        window shows individual GIL hand-overs of a 5 ms switch interval.
    max_bars : int, default 3000
        Above this many bars, each lane's shortest gaps are filled in (the subtitle says up to which
        length), so the chart stays fast; narrow the window to see every gap.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.Chart
        ``bar`` marks from ``start_ms`` (x) to ``end_ms`` (x2) on ``lane`` (y, ``thread 1`` …),
        coloured by lane, with a tooltip; the x axis zooms and pans with the mouse (a scale-bound
        interval selection).

    Raises
    ------
    ValueError
        If ``slices`` is empty or lacks a column, the window is not an increasing pair, or nothing
        falls inside it.
    """
    import altair as alt

    from core.report.charts import _require

    _require(slices, _TRACE_COLUMNS, "slices")
    if isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < 1:
        raise ValueError(f"max_bars must be a positive integer (got {max_bars!r})")
    bars = slices[_TRACE_COLUMNS].astype({"thread": "int64", "start_s": "float64", "end_s": "float64"})
    domain = None
    if window_s is not None:
        lo, hi = (float(v) for v in window_s)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"window_s must be two increasing finite times in seconds (got {window_s!r})")
        bars = bars[(bars["end_s"] > lo) & (bars["start_s"] < hi)].copy()
        if bars.empty:
            raise ValueError(f"no bars between {lo:g} s and {hi:g} s: there is nothing to chart")
        bars["start_s"] = bars["start_s"].clip(lower=lo)
        bars["end_s"] = bars["end_s"].clip(upper=hi)
        domain = [lo * 1000, hi * 1000]
    threads = sorted(int(t) for t in slices["thread"].unique())  # every lane, even one idle in the window
    bars, filled_s = _merge_short_gaps(bars, max_bars)
    bars["lane"] = "thread " + bars["thread"].astype(str)
    bars["start_ms"] = bars["start_s"] * 1000
    bars["end_ms"] = bars["end_s"] * 1000
    bars["length_ms"] = bars["end_ms"] - bars["start_ms"]
    lanes = [f"thread {t}" for t in threads]
    colors = [_TRACE_COLORS[i % len(_TRACE_COLORS)] for i in range(len(lanes))]
    subtitle = (f"{len(bars)} bars; gaps up to {filled_s * 1000:.3g} ms filled in to keep the chart readable"
                " (narrow the window to see them)" if filled_s > 0 else
                "Bars: the thread made progress. Gaps: it waited. Scroll to zoom, drag to pan.")
    chart = alt.Chart(bars).mark_bar(cornerRadius=1).encode(
        x=alt.X("start_ms:Q", title="Time since the threads started (ms)",
                scale=alt.Scale(domain=domain, nice=False) if domain else alt.Scale(domainMin=0, nice=False)),
        x2="end_ms:Q",
        y=alt.Y("lane:N", sort=lanes, title=None, scale=alt.Scale(domain=lanes, paddingInner=0.25),
                axis=alt.Axis(labelLimit=120)),
        color=alt.Color("lane:N", scale=alt.Scale(domain=lanes, range=colors), legend=None),
        tooltip=[
            alt.Tooltip("lane:N", title="Thread"),
            alt.Tooltip("start_ms:Q", title="From (ms)", format=".2f"),
            alt.Tooltip("end_ms:Q", title="To (ms)", format=".2f"),
            alt.Tooltip("length_ms:Q", title="Ran for (ms)", format=".3~r"),
        ],
    ).properties(
        width="container", height=alt.Step(30),
        # Vega drops a subtitle whose title is empty, so there is always a title.
        title=alt.TitleParams(title or "When each thread made progress", subtitle=subtitle, anchor="start",
                              fontSize=13, subtitleColor="#555555"),
    )
    # A named selection (not ``.interactive()``, whose name is random): the same spec on every rerun.
    zoom = alt.selection_interval(bind="scales", encodings=["x"], name="gil_trace_zoom")
    return chart.add_params(zoom)


# --- the kind ----------------------------------------------------------------------------------------------


class GilTraceKind:
    """``python -m core gil-trace``: threads taking turns on the GIL, traced in a child process."""

    name: ClassVar[str] = "gil-trace"
    title: ClassVar[str] = "GIL trace"
    spec_type: ClassVar[type] = GilTraceSpec
    help: ClassVar[str] = "trace threads taking turns on the GIL (run in a child process)"

    def cost(self, spec: GilTraceSpec) -> Cost:
        # The child keeps at most MAX_STAMPS float64 stamps (its share per thread) beside an interpreter.
        return Cost(seconds=spec.seconds + _CHILD_START_S, memory_bytes=8 * MAX_STAMPS + 60_000_000,
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


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
