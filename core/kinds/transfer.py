"""``transfer``: what shipping data to tasks costs, by payload size and engine.

The ``transfer`` workload gives every task one shared array and only checksums it. Threads read the
caller's array in place; processes receive it pickled, copied and unpickled, once per task. Each
engine is a comparison over payload sizes, measured like one (:mod:`core.kinds.points`): all of its
sizes are points of the same interleaved rounds, so the repeats of every size are spread over the
same minutes and the growth with size, which is the lesson, is robust to drift. Engines are measured
one after the other (each one's payloads are freed before the next starts).
"""

from __future__ import annotations

import argparse
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core.kinds.base import KindBase, RunContext, StrictJson, add_option, check, machine_line, measure, records
from core.kinds.points import MAX_REPEATS, measure_points, parse_counts, parse_names, points_cost, table
from core.measure.estimate import MEMORY_FRACTION, BudgetError, Cost
from core.measure.machine import MachineInfo, available_memory_bytes, machine_info
from core.measure.noise import Noise, summarize
from core.spec import SCHEDULER_LABELS, ExperimentSpec, check_int
from core.workloads import WORKLOADS

TRANSFER_SCHEDULERS = ("sync", "threads", "processes", "cluster-threads", "cluster-processes")
DEFAULT_TRANSFER_SCHEDULERS = ("threads", "processes", "cluster-processes")
TRANSFER_SIZES_MB = (1, 10, 50, 100, 200)
TRANSFER_COLUMNS = ["scheduler", "engine", "mb", "tasks", "workers", "wall_s", "wall_min_s", "wall_max_s",
                    "compute_s", "setup_s", "throughput_mb_s", "run_id"]
MB_S_MEANING = ("MB/s = MB × tasks ÷ compute seconds: for processes, pickling + copying + unpickling; for threads,"
                " only reading memory.")


@dataclass(frozen=True)
class TransferSpec:
    """The ``transfer`` workload at each payload size on each engine.

    Parameters
    ----------
    sizes_mb : str or sequence of int
        Payload sizes in MB (1 to 400), e.g. ``"1,10,50"``; sorted. :func:`default_transfer_sizes`
        picks the sizes that fit in memory.
    schedulers : str or sequence of str
        Engines to compare, in this order (default threads, processes, cluster-processes).
    tasks : int
        Tasks per point; each one receives the payload.
    workers : int, optional
        Workers of every engine (default: the usable cores; sync has one).
    repeats : int
        Measured rounds (every size of an engine runs once per round).
    """

    sizes_mb: tuple[int, ...] = (1, 10, 50)
    schedulers: tuple[str, ...] = DEFAULT_TRANSFER_SCHEDULERS
    tasks: int = 4
    workers: int | None = None
    repeats: int = 2

    def __post_init__(self) -> None:
        wl = WORKLOADS["transfer"]
        object.__setattr__(self, "sizes_mb", parse_counts(self.sizes_mb, "sizes", int(wl.min_size), int(wl.max_size)))
        object.__setattr__(self, "schedulers", parse_names(self.schedulers, "schedulers", TRANSFER_SCHEDULERS))
        object.__setattr__(self, "workers", machine_info().usable_cores if self.workers is None else self.workers)
        check_int("repeats", self.repeats, (1, MAX_REPEATS))
        self.experiments()  # validates tasks and workers

    def experiments(self, scheduler: str | None = None) -> list[ExperimentSpec]:
        """The points, engine by engine, sizes ascending (of one engine when ``scheduler`` is given).

        ``processes`` reuses one pool for all of its sizes, so pool start-up (not a transfer cost) stays
        out of wall; every point gets the rounds' warm-up.
        """
        return [
            ExperimentSpec(workload="transfer", size=mb, tasks=self.tasks, scheduler=s,  # type: ignore[arg-type]
                           workers=1 if s == "sync" else int(self.workers or 1), repeats=self.repeats, warmup=1,
                           reuse_pool=s == "processes")
            for s in self.schedulers if scheduler in (None, s) for mb in self.sizes_mb
        ]

    @property
    def label(self) -> str:
        return (f"transfer sweep: {', '.join(map(str, self.sizes_mb))} MB × {self.tasks} tasks on"
                f" {', '.join(self.schedulers)}")


def default_transfer_sizes(
    schedulers: str | Sequence[str] = DEFAULT_TRANSFER_SCHEDULERS,
    tasks: int = 4,
    workers: int | None = None,
    candidates: Sequence[int] = TRANSFER_SIZES_MB,
) -> tuple[int, ...]:
    """The smallest ``candidates`` (MB) that fit in memory together on every engine: half of what is available.

    An engine's sizes are measured together, so their payloads are in memory at once, and a process
    engine also holds a pickle and a copy per task in flight (:func:`core.kinds.points.points_cost`).
    """
    available = available_memory_bytes()
    ok: list[int] = []
    for mb in sorted(int(c) for c in candidates):
        spec = TransferSpec((*ok, mb), schedulers, tasks, workers, 1)  # type: ignore[arg-type]
        need = max(points_cost(spec.experiments(s), 1, what="", advice="").memory_bytes for s in spec.schedulers)
        if available is not None and need > MEMORY_FRACTION * available:
            break
        ok.append(mb)
    return tuple(ok)


@dataclass(frozen=True)
class TransferResult(StrictJson):
    """A data-transfer sweep: the ``transfer`` workload over payload sizes and engines.

    Attributes
    ----------
    sizes_mb : tuple of int
        Payload sizes (MB) measured.
    schedulers : tuple of str
        Engines measured, in the order given.
    tasks, workers, repeats : int
        The same for every point (``sync`` always has one worker).
    frame : DataFrame
        One row per (engine, size) (:data:`TRANSFER_COLUMNS`): ``wall_s`` (median), ``wall_min_s``,
        ``wall_max_s``, ``compute_s`` (median), ``setup_s`` and ``throughput_mb_s`` = mb × tasks ÷
        compute_s: the payload megabytes delivered to tasks per second of compute.
    runs : DataFrame
        Every measured repeat of every point, stacked.
    machine : MachineInfo
    started_at, run_id : str
    rounds : DataFrame
        One row per engine, round and size: when each point ran, and other programs' CPU meanwhile.
    noise : Noise
        Other programs' CPU over all of it.
    """

    sizes_mb: tuple[int, ...]
    schedulers: tuple[str, ...]
    tasks: int
    workers: int
    repeats: int
    frame: pd.DataFrame = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    machine: MachineInfo = field(repr=False)
    started_at: str
    run_id: str
    rounds: pd.DataFrame = field(repr=False)
    noise: Noise

    def growth(self, scheduler: str) -> float:
        """Median wall at the largest size ÷ at the smallest, for ``scheduler`` (NaN if absent)."""
        rows = self.frame[self.frame["scheduler"] == scheduler].sort_values("mb")
        if len(rows) < 2 or rows["wall_s"].iloc[0] <= 0:
            return math.nan
        return float(rows["wall_s"].iloc[-1] / rows["wall_s"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: parameters, ``rows`` (one per engine and size), machine and runs."""
        return {
            "kind": "transfer",
            "workload": "transfer",
            "sizes_mb": list(self.sizes_mb),
            "schedulers": list(self.schedulers),
            "tasks": self.tasks,
            "workers": self.workers,
            "repeats": self.repeats,
            "started_at": self.started_at,
            "machine": self.machine.to_dict(),
            "rows": records(self.frame),
            "runs": records(self.runs),
        }


    # -- words, charts, terminal ---------------------------------------------------------------------

    def explain(self) -> list[str]:
        return describe_transfer(self)

    def metrics(self) -> list[tuple[str, str, str, str]]:
        out = []
        hi = max(self.sizes_mb)
        for s in self.schedulers:
            rows = self.frame[self.frame["scheduler"] == s].sort_values("mb")
            rate = float(rows["throughput_mb_s"].iloc[-1])
            growth = self.growth(s)
            note = f"at {hi} MB" + (f" · {growth:.1f}× the time of {min(self.sizes_mb)} MB"
                                    if math.isfinite(growth) else "")
            out.append((SCHEDULER_LABELS[s], f"{rate:,.0f} MB/s" if math.isfinite(rate) else "n/a", note,
                        "Payload megabytes delivered to the tasks per second of compute, at the largest size."))
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Transfer", transfer_chart(self.frame))]

    def captions(self) -> dict[str, str]:
        return {"Transfer": "Both axes are logarithmic: sizes span two orders of magnitude, times three. Left: median"
                            " wall time of a point (whiskers: fastest to slowest round). Right: implied MB/s = MB ×"
                            " tasks ÷ compute seconds. An engine's sizes ran in the same interleaved rounds."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"points": self.frame, "runs": self.runs, "rounds": self.rounds}

    def text(self) -> str:
        return "\n".join([
            f"transfer: {self.tasks} tasks per point, each receiving the same array of mb megabytes, {self.repeats}"
            " interleaved round(s) of every size",
            machine_line(self.machine) + f" · {self.noise.describe()}",
            "",
            table(self.frame, ["scheduler", "mb", "wall_s", "wall_min_s", "wall_max_s", "compute_s",
                               "throughput_mb_s"]),
            "",
            *[s.replace("**", "") for s in self.explain()],
            MB_S_MEANING,
        ])


def run_transfer(spec: TransferSpec, ctx: RunContext) -> TransferResult:
    """Measure every engine's sizes as the points of one set of interleaved rounds, engine after engine."""
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results, rounds, windows_noise = [], [], []
    for scheduler in spec.schedulers:
        points = measure_points(spec.experiments(scheduler), spec.repeats, ctx,
                                labels=[f"{mb} MB" for mb in spec.sizes_mb])
        results.extend(points.results)
        rounds.append(points.rounds.assign(scheduler=scheduler))
        windows_noise.append(points.noise)
    rows = []
    for r in results:
        s = r.spec
        compute = float(r.runs["compute_s"].median())
        rows.append({
            "scheduler": s.scheduler, "engine": SCHEDULER_LABELS[s.scheduler], "mb": int(s.size), "tasks": s.tasks,
            "workers": s.workers, "wall_s": r.wall_s, "wall_min_s": r.wall_min_s, "wall_max_s": r.wall_max_s,
            "compute_s": compute, "setup_s": r.setup_s,
            "throughput_mb_s": s.size * s.tasks / compute if compute > 0 else math.nan, "run_id": r.run_id,
        })
    return TransferResult(
        sizes_mb=spec.sizes_mb, schedulers=spec.schedulers, tasks=spec.tasks,
        workers=max(r.spec.workers for r in results), repeats=spec.repeats,
        frame=pd.DataFrame(rows, columns=TRANSFER_COLUMNS),
        runs=pd.concat([r.runs for r in results], ignore_index=True), machine=results[0].machine,
        started_at=started_at, run_id=run_id, rounds=pd.concat(rounds, ignore_index=True),
        noise=_overall(windows_noise),
    )


def _overall(parts: list[Noise]) -> Noise:
    """One noise reading for engines measured one after the other: their wall-time-weighted average."""
    cores = machine_info().usable_cores
    known = [n for n in parts if n.wall_s > 0 and math.isfinite(n.other_cores)]
    wall = sum(n.wall_s for n in known)
    if wall <= 0:
        return summarize([], cores)
    return Noise(other_cores=sum(n.other_cores * n.wall_s for n in known) / wall,
                 own_cores=sum(n.own_cores * n.wall_s for n in known) / wall, cores=cores, wall_s=wall,
                 peak_other_cores=max(n.peak_other_cores for n in known))


def transfer_sweep(
    sizes: str | Sequence[int] | None = None,
    schedulers: str | Sequence[str] = DEFAULT_TRANSFER_SCHEDULERS,
    tasks: int = 4,
    workers: int | None = None,
    repeats: int = 2,
    *,
    clusters: Any = None,
    max_seconds: float | None = 60.0,
    progress: Any = None,
) -> TransferResult:
    """Measure the ``transfer`` workload at each payload size on each engine (see :class:`TransferSpec`).

    ``sizes`` defaults to 1, 10, 50, 100, 200 MB, keeping those that fit in half the available memory
    (:func:`default_transfer_sizes`). ``max_seconds``: refuse (``BudgetError``) a sweep estimated longer,
    or needing more than half the available memory (``None``: no check).
    """
    spec = KIND.spec(sizes, schedulers, tasks, workers, repeats)
    if max_seconds is not None:
        check(KIND.cost(spec), max_seconds)
    return measure(KIND, spec, RunContext(clusters=clusters, **({"progress": progress} if progress else {})))


# --- words -----------------------------------------------------------------------------------------------


def describe_transfer(result: TransferResult) -> list[str]:
    """Markdown sentences from the transfer sweep's numbers: who stays flat, who grows, and MB/s."""
    f = result.frame
    out = []
    lo, hi = min(result.sizes_mb), max(result.sizes_mb)
    for s in result.schedulers:
        rows = f[f["scheduler"] == s].sort_values("mb")
        engine = SCHEDULER_LABELS[s]
        if len(rows) >= 2:
            a, b = float(rows["wall_s"].iloc[0]), float(rows["wall_s"].iloc[-1])
            rate = float(rows["throughput_mb_s"].iloc[-1])
            out.append(
                f"**{engine}**: {a * 1000:.0f} ms at {lo} MB → {b * 1000:.0f} ms at {hi} MB"
                f" ({b / a:.1f}×) · {rate:,.0f} MB/s delivered at {hi} MB."
            )
        else:
            out.append(f"**{engine}**: {float(rows['wall_s'].iloc[0]) * 1000:.0f} ms at {lo} MB.")
    return out


# --- the chart -----------------------------------------------------------------------------------------

_CHART_COLUMNS = ["engine", "mb", "tasks", "wall_s", "wall_min_s", "wall_max_s", "compute_s", "throughput_mb_s"]


def _decades(values: pd.DataFrame) -> list[float]:
    """Powers of ten spanning ``values`` (ticks for a log axis: one gridline per decade, not nine)."""
    finite = values.to_numpy(dtype=float).ravel()
    finite = finite[(finite > 0) & (finite < float("inf"))]
    if finite.size == 0:
        return [1.0]
    lo, hi = math.floor(math.log10(finite.min())), math.ceil(math.log10(finite.max()))
    return [10.0 ** k for k in range(lo, hi + 1)]


def transfer_chart(frame: pd.DataFrame, title: str | None = None, width: int = 330) -> Any:
    """Seconds and implied MB/s against payload size, one line per engine, both axes logarithmic.

    Log–log because the sizes span two orders of magnitude and the engines three: on threads a run
    takes milliseconds whatever the size; under processes it grows with MB × tasks.

    Parameters
    ----------
    frame : pandas.DataFrame
        The ``frame`` of :class:`TransferResult` (one row per engine and size): ``engine``, ``mb``,
        ``tasks``, ``wall_s``, ``wall_min_s``, ``wall_max_s``, ``compute_s`` and ``throughput_mb_s``
        (= mb × tasks ÷ compute_s).
    title : str, optional
        Title over both panels; none by default.
    width : int, default 330
        Width of each panel's plot area in pixels.

    Returns
    -------
    altair.HConcatChart
        Left, "Wall time (s)" vs "Payload (MB)": ``line`` with points per engine (coloured by engine)
        and whiskers from the fastest to the slowest repeat. Right, "Implied MB/s": ``line`` with points
        of ``throughput_mb_s`` per engine. The x axes tick at the measured sizes.

    Raises
    ------
    ValueError
        If ``frame`` is empty or lacks a column.
    """
    import altair as alt

    from core.report.palette import SECONDS, by_engine, engine_color, wall_tooltips

    data, order = by_engine(frame, _CHART_COLUMNS, "transfer")
    # A log scale cannot show 0: a run too fast for the clock is drawn at a microsecond, not dropped.
    for col in ("wall_s", "wall_min_s", "wall_max_s", "compute_s"):
        data[col] = data[col].clip(lower=1e-6)
    sizes = sorted({int(v) for v in data["mb"]})
    x = alt.X("mb:Q", title="Payload per task (MB)", scale=alt.Scale(type="log", nice=False, padding=14),
              axis=alt.Axis(values=sizes, format="d", grid=False))
    color = engine_color(order)
    tooltip = [
        alt.Tooltip("engine:N", title="Engine"),
        alt.Tooltip("mb:Q", title="Payload (MB)"),
        alt.Tooltip("tasks:Q", title="Tasks (each gets the payload)"),
        *wall_tooltips(),
        alt.Tooltip("compute_s:Q", title="Median compute (s)", format=SECONDS),
        alt.Tooltip("throughput_mb_s:Q", title="Implied MB/s", format=",.0f"),
    ]
    point = alt.OverlayMarkDef(size=60, filled=True)
    seconds = alt.layer(
        alt.Chart(data).mark_rule(strokeWidth=1.5).encode(
            x=x, y=alt.Y("wall_min_s:Q", title="Wall time (s)"), y2="wall_max_s:Q", color=color, tooltip=tooltip),
        alt.Chart(data).mark_line(point=point, strokeWidth=2.5).encode(
            x=x, y=alt.Y("wall_s:Q", title="Wall time (s)", scale=alt.Scale(type="log"),
                         axis=alt.Axis(values=_decades(data[["wall_min_s", "wall_max_s"]]), format="~g")),
            color=color, tooltip=tooltip),
    ).properties(width=width, height=300, title=alt.TitleParams("Time per run (median, whiskers: min–max)",
                                                                anchor="start", fontSize=13))
    rate = alt.Chart(data).mark_line(point=point, strokeWidth=2.5).encode(
        x=x, y=alt.Y("throughput_mb_s:Q", title="Implied MB/s (MB × tasks ÷ compute s)",
                     scale=alt.Scale(type="log"), axis=alt.Axis(values=_decades(data[["throughput_mb_s"]]),
                                                                format="~s")),
        color=color, tooltip=tooltip,
    ).properties(width=width, height=300, title=alt.TitleParams("Implied throughput", anchor="start", fontSize=13))
    chart = alt.hconcat(seconds, rate, spacing=36).resolve_scale(color="shared")
    return chart.properties(title=title) if title else chart


# --- the kind ----------------------------------------------------------------------------------------------


class TransferKind(KindBase, name="transfer", title="data-transfer sweep", spec=TransferSpec,
                   help="cost of shipping a payload to every task, by size and engine"):
    """``python -m core transfer``: seconds and MB/s to get a payload to every task, by size and engine."""

    def spec(self, sizes: str | Sequence[int] | None, schedulers: str | Sequence[str], tasks: int,
             workers: int | None, repeats: int) -> TransferSpec:
        """A :class:`TransferSpec`, its sizes the ones that fit in memory when ``sizes`` is None."""
        if sizes is None:
            sizes = default_transfer_sizes(schedulers, tasks, workers)
            if not sizes:
                raise BudgetError("not even a 1 MB payload fits in half the available memory on these engines")
        return TransferSpec(sizes, schedulers, tasks, workers, repeats)  # type: ignore[arg-type]

    def cost(self, spec: TransferSpec) -> Cost:
        parts = [points_cost(spec.experiments(s), spec.repeats, what="", advice="") for s in spec.schedulers]
        points = len(spec.sizes_mb) * len(spec.schedulers)
        return Cost(seconds=sum(p.seconds for p in parts), memory_bytes=max(p.memory_bytes for p in parts),
                    longest_uncancellable_s=max(p.longest_uncancellable_s for p in parts),
                    what=f"this sweep ({points} points)",
                    advice="use fewer or smaller sizes, fewer tasks or repeats (the CLI's --force runs it anyway)")

    def run(self, spec: TransferSpec, ctx: RunContext) -> TransferResult:
        return run_transfer(spec, ctx)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--sizes", help="payload sizes in MB, e.g. 1,10,50 (default 1,10,50,100,200 within memory)")
        p.add_argument("--schedulers", default="threads,processes,cluster-processes",
                       help="engines, e.g. threads,processes (default threads,processes,cluster-processes)")
        add_option(p, "tasks", "tasks per point, each gets the payload", 4)
        add_option(p, "workers", "workers per engine (default: usable cores)")
        add_option(p, "repeats", "measured rounds, every size once per round", 2)

    def spec_from_args(self, args: argparse.Namespace) -> TransferSpec:
        return self.spec(args.sizes, args.schedulers, args.tasks, args.workers, args.repeats)


KIND = TransferKind()
