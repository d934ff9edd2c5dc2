"""The GIL trace's result: per-thread statistics, the run bars, the overlap, JSON and frames."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.kinds.base import StrictJson, records
from core.kinds.gil_trace.chart import gil_trace_chart
from core.kinds.gil_trace.spec import TRACE_WORKLOAD_LABELS, GilTraceSpec
from core.kinds.gil_trace.words import explain_trace, trace_table
from core.measure.machine import MachineInfo
from core.measure.noise import Noise

if TYPE_CHECKING:
    import pandas as pd

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
        :func:`turns_of`). For pure Python on a busy machine this tracks the switch interval better
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


def turns_of(slices: pd.DataFrame) -> pd.DataFrame:
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
    turns = turns_of(slices)
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

