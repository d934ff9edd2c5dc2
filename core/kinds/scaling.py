"""``sweep``: how one engine scales with workers (strong scaling), with the knee and an Amdahl fit.

One workload on one engine at 1, 2, … workers, as *strong scaling*: the total work is fixed (the
same ``tasks`` at every worker count) and the question is how much faster more workers finish it.
It is a comparison over worker counts, measured like one (:mod:`core.kinds.points`): every worker
count is a point of interleaved rounds, so the repeats of every count are spread over the same
minutes and a burst of load on the shared machine hits them all alike; the sweep is robust to drift.
Speedup is measured against **the 1-worker run of the same engine** (its baseline: the engine's own
overhead cancels out and only parallelism is left); a ``sync`` point is added for reference. An
Amdahl's-law fit gives the serial fraction ``f``, with what it can and cannot say on few cores.
"""

from __future__ import annotations

import argparse
import math
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.kinds.base import RunContext, StrictJson, check, machine_line, measure, records
from core.kinds.points import MAX_REPEATS, Points, measure_points, parse_counts, points_cost, table
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo, machine_info
from core.measure.noise import Noise
from core.spec import LIMITS, PROCESS_POOL_SCHEDULERS, SCHEDULER_LABELS, ExperimentSpec, check_int, short_repr
from core.workloads import WORKLOADS

# Every engine whose size can be swept. joblib-loky is not among them: its executor is one per process, so the
# worker counts of a sweep (open together, in interleaved rounds) cannot have one each.
SCALING_SCHEDULERS = ("threads", "processes", "cluster-threads", "cluster-processes", "futures-threads",
                      "futures-processes", "multiprocessing", "joblib-threads")
SCALING_WORKLOADS = ("fib", "numpy-sort", "numpy-matmul", "numpy-small")
TASKS_PER_WORKER = 2  # default k in tasks = k × max(workers): every worker of the widest run gets two tasks

SCALING_COLUMNS = ["scheduler", "engine", "workload", "size", "tasks", "workers", "cores", "balanced",
                   "wall_s", "wall_min_s", "wall_max_s", "compute_s", "setup_s", "speedup", "speedup_min",
                   "speedup_max", "efficiency", "ideal_speedup", "amdahl_speedup", "serial_fraction",
                   "speedup_vs_sync", "run_id"]
BASELINE = "the 1-worker run of the same engine"


# --- defaults ------------------------------------------------------------------------------------------


def max_sweep_workers(cores: int | None = None) -> int:
    """Largest worker count a sweep accepts: 4 × the usable cores (at least 4, at most the spec's 32).

    Twice the cores already shows the flat part after the knee; 4 × leaves room to look further.
    """
    cores = machine_info().usable_cores if cores is None else cores
    return min(LIMITS["workers"][1], max(4, 4 * cores))


def default_worker_counts(max_workers: int, cores: int | None = None) -> tuple[int, ...]:
    """Every count from 1 to ``max_workers`` when that is at most 8; else powers of two plus the core count."""
    cores = machine_info().usable_cores if cores is None else cores
    if max_workers <= 8:
        return tuple(range(1, max_workers + 1))
    counts = {1, max_workers, min(cores, max_workers)}
    p = 2
    while p < max_workers:
        counts.add(p)
        p *= 2
    return tuple(sorted(counts))


def default_tasks(workers: Sequence[int], per_worker: int = TASKS_PER_WORKER) -> int:
    """Total tasks for a strong-scaling sweep over ``workers``.

    The smallest multiple of lcm(workers) that gives the widest run ``per_worker`` tasks per worker,
    so every worker count divides the tasks evenly (no half-empty last wave). When that exceeds the
    spec's 64-task limit (e.g. 1…8 workers: lcm 840), ``per_worker × max(workers)`` instead, and the
    rows whose count does not divide it are flagged ``balanced = False``.
    """
    widest = max(workers)
    lcm = math.lcm(*workers)
    want = per_worker * widest
    tasks = lcm * math.ceil(want / lcm)
    if tasks <= LIMITS["tasks"][1]:
        return tasks
    return min(want, LIMITS["tasks"][1])


# --- Amdahl's law -----------------------------------------------------------------------------------


def amdahl(serial_fraction: float, p: float | np.ndarray) -> float | np.ndarray:
    """Amdahl's speedup on ``p`` cores: 1 / (f + (1 − f) / p)."""
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / np.asarray(p, dtype=float))


def fit_serial_fraction(workers: Sequence[int], speedup: Sequence[float], cores: int) -> tuple[float, int]:
    """Least-squares fit of Amdahl's serial fraction ``f`` to measured speedups.

    Fits S(p) = 1 / (f + (1 − f) / p) with p = min(workers, cores) (more workers than cores cannot
    compute more at once), minimising the squared error in S over f ∈ [0, 1] (a dense grid, then
    a finer one around the best point: one parameter, no optimiser needed).

    Returns
    -------
    (f, points) : tuple of float and int
        ``f`` (NaN when nothing constrains it) and the number of distinct p > 1 that did. Points at
        p = 1 carry no information (S(1) = 1 for every f). With 2 cores there is only p = 2:
        ``f = 2 / S(2) − 1``, one number fitted to one measurement.
    """
    p = np.minimum(np.asarray(workers, dtype=float), float(cores))
    s = np.asarray(speedup, dtype=float)
    keep = (p > 1) & np.isfinite(s) & (s > 0)
    if not keep.any():
        return math.nan, 0
    p, s = p[keep], s[keep]

    def best(grid: np.ndarray) -> float:
        err = ((s[None, :] - amdahl(grid[:, None], p[None, :])) ** 2).sum(axis=1)
        return float(grid[int(np.argmin(err))])

    coarse = best(np.linspace(0.0, 1.0, 1001))
    fine = best(np.linspace(max(0.0, coarse - 1e-3), min(1.0, coarse + 1e-3), 201))
    return fine, int(len(set(p.tolist())))


def amdahl_caveat(cores: int, points: int) -> str:
    """What the Amdahl fit can and cannot say on this machine."""
    if points == 0:
        return "Amdahl's f is not defined here: no run had more than one worker on more than one core."
    if cores <= 2 or points == 1:
        return (
            f"With {cores} usable core{'s' if cores != 1 else ''} the fit rests on a single speedup (at"
            f" p = {min(cores, 2) if cores >= 2 else 1}): f = p/S − 1 over p − 1 is one number computed from one"
            " measurement. It cannot tell a truly serial part from start-up, scheduling overhead, another"
            " program on the cores or noise, and it predicts nothing about more cores."
        )
    return (
        f"The fit uses {points} core counts above 1; f lumps together the serial part, per-task overhead"
        " and contention, so read it as a summary of this machine, not a property of the code."
    )


# --- the spec ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalingSpec:
    """A strong-scaling sweep: ``tasks`` tasks of ``workload`` on ``scheduler`` at each worker count.

    Parameters
    ----------
    workload, size : str, float
        A CPU-bound workload (fib, numpy-sort, numpy-matmul, numpy-small) and its size.
    scheduler : {"threads", "processes", "cluster-threads", "cluster-processes"}
    workers : str or sequence of int
        Worker counts, e.g. ``"1,2,4"`` (1 to :func:`max_sweep_workers`; no duplicates). 1 is added:
        it is the baseline of every speedup.
    tasks : int, optional
        Total tasks of every point, at least the largest worker count (default :func:`default_tasks`,
        which every count divides evenly; a count that does not divide it is flagged ``balanced = False``).
    repeats : int
        Measured rounds (every point runs once per round); medians are reported with min and max.
    include_sync : bool
        Also run the tasks on ``sync``, for reference (``speedup_vs_sync``).
    """

    workload: str = "fib"
    size: float = 27
    scheduler: str = "processes"
    workers: tuple[int, ...] = (1, 2, 4)
    tasks: int | None = None
    repeats: int = 3
    include_sync: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.workload, str) or self.workload not in WORKLOADS:
            raise ValueError(f"workload must be one of {', '.join(WORKLOADS)} (got {short_repr(self.workload)})")
        wl = WORKLOADS[self.workload]
        if not wl.cpu_bound or self.workload == "transfer":
            raise ValueError(f"scaling sweeps measure CPU-bound work; {self.workload} is not (waiting needs no core:"
                             " see the I/O page, and the transfer sweep for transfer)")
        if self.scheduler not in SCALING_SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCALING_SCHEDULERS)}"
                             f" (got {short_repr(self.scheduler)})")
        counts = parse_counts(self.workers, "workers", 1, max_sweep_workers())
        counts = counts if 1 in counts else (1, *counts)
        object.__setattr__(self, "workers", counts)
        tasks = default_tasks(counts) if self.tasks is None else check_int("tasks", self.tasks)
        if tasks < max(counts):
            raise ValueError(f"tasks must be at least the largest worker count ({max(counts)}) so every worker has"
                             f" work (got {tasks})")
        object.__setattr__(self, "tasks", tasks)
        check_int("repeats", self.repeats, (1, MAX_REPEATS))
        object.__setattr__(self, "include_sync", bool(self.include_sync))
        object.__setattr__(self, "size", self.experiments()[-1].size)  # validates the size; fib n is whole

    def experiments(self) -> list[ExperimentSpec]:
        """The points, the sync reference first.

        A process pool (Dask's ``processes``, ``futures-processes``, ``multiprocessing``) keeps one pool per
        worker count (``reuse_pool``): a new pool on every compute would add its start-up (≈0.2 s per
        process) to every repeat and bury the scaling; that start-up is ``setup_s``, as is a LocalCluster's.
        Every point gets the rounds' warm-up.
        """
        common = {"workload": self.workload, "size": self.size, "tasks": self.tasks, "repeats": self.repeats,
                  "warmup": 1}
        specs = [ExperimentSpec(scheduler="sync", workers=1, **common)] if self.include_sync else []
        reuse = self.scheduler in PROCESS_POOL_SCHEDULERS
        return specs + [ExperimentSpec(scheduler=self.scheduler, workers=w, reuse_pool=reuse, **common)  # type: ignore[arg-type]
                        for w in self.workers]

    @property
    def label(self) -> str:
        return (f"scaling sweep: {self.workload} {WORKLOADS[self.workload].describe_size(self.size)} × {self.tasks}"
                f" on {self.scheduler} × {','.join(map(str, self.workers))}")


def scaling_specs(workload: str = "fib", size: float = 27, scheduler: str = "processes",
                  workers: str | Sequence[int] = (1, 2, 4), tasks: int | None = None, repeats: int = 3, *,
                  include_sync: bool = True) -> list[ExperimentSpec]:
    """The points of a sweep, validated (no measurement): :meth:`ScalingSpec.experiments`."""
    return ScalingSpec(workload, size, scheduler, workers, tasks, repeats, include_sync).experiments()  # type: ignore[arg-type]


# --- the result ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalingResult(StrictJson):
    """A strong-scaling sweep: one engine, one workload, a fixed number of tasks, several worker counts.

    Attributes
    ----------
    workload, size, scheduler, tasks, repeats : as in :class:`core.spec.ExperimentSpec`
    workers : tuple of int
        The worker counts measured (1 is always among them: it is the baseline).
    frame : DataFrame
        One row per worker count (:data:`SCALING_COLUMNS`): ``wall_s`` (median over rounds),
        ``wall_min_s``, ``wall_max_s``, ``compute_s``, ``setup_s`` (one-time start-up, never in wall),
        ``speedup`` = wall(1 worker) ÷ wall (``speedup_min`` / ``speedup_max`` from the slowest and
        fastest round), ``efficiency`` = speedup ÷ workers, ``ideal_speedup`` = min(workers, cores),
        ``amdahl_speedup`` (the fitted curve at that count), ``speedup_vs_sync`` (NaN without sync),
        ``balanced`` (tasks divide evenly among the workers) and the ``run_id`` of the point.
    runs : DataFrame
        Every measured repeat of every point (the sync reference included), stacked.
    serial_fraction : float
        Amdahl's f fitted to the speedups (NaN when no point constrains it).
    fit_points : int
        Distinct core counts above 1 behind the fit.
    cores : int
        Usable cores of the machine (where the ideal line bends: the knee).
    sync_wall_s : float or None
        Median wall of the same tasks on the sync scheduler, if it was run.
    machine : MachineInfo
    started_at, run_id : str
        When the sweep began (ISO, UTC), and its id.
    rounds : DataFrame
        One row per round and point (:class:`core.kinds.points.Points`): when each ran, and its noise.
    noise : Noise
        Other programs' CPU while the sweep measured.
    """

    workload: str
    size: float
    scheduler: str
    tasks: int
    repeats: int
    workers: tuple[int, ...]
    frame: pd.DataFrame = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    serial_fraction: float
    fit_points: int
    cores: int
    sync_wall_s: float | None
    machine: MachineInfo = field(repr=False)
    started_at: str
    run_id: str
    rounds: pd.DataFrame = field(repr=False)
    noise: Noise

    baseline: ClassVar[str] = BASELINE

    @property
    def caveat(self) -> str:
        """What the Amdahl fit can tell on this machine (little, on 2 cores)."""
        return amdahl_caveat(self.cores, self.fit_points)

    @property
    def balanced(self) -> bool:
        """Whether every worker count divided the tasks evenly."""
        return bool(self.frame["balanced"].all())

    @property
    def engine(self) -> str:
        return SCHEDULER_LABELS[self.scheduler]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the sweep's parameters, ``rows`` (one per worker count), fit, machine, runs."""
        return {
            "kind": "scaling",
            "workload": self.workload,
            "size": self.size,
            "scheduler": self.scheduler,
            "engine": self.engine,
            "tasks": self.tasks,
            "repeats": self.repeats,
            "workers": list(self.workers),
            "baseline": self.baseline,
            "cores": self.cores,
            "serial_fraction": self.serial_fraction,
            "fit_points": self.fit_points,
            "fit_caveat": self.caveat,
            "sync_wall_s": self.sync_wall_s,
            "started_at": self.started_at,
            "machine": self.machine.to_dict(),
            "rows": records(self.frame),
            "runs": records(self.runs),
        }


    # -- words, charts, terminal ---------------------------------------------------------------------

    def explain(self) -> list[str]:
        return describe_scaling(self)

    def metrics(self) -> list[tuple[str, str, str, str]]:
        f = self.frame
        best = f.loc[f["speedup"].idxmax()]
        fit = self.serial_fraction
        out = [
            ("Best speedup", f"{best['speedup']:.2f}×", f"at {int(best['workers'])} workers",
             f"over the 1-worker run of {self.engine}"),
            ("Ideal on this machine", f"{min(max(self.workers), self.cores)}×", "",
             "min(workers, usable cores) at best"),
            ("Amdahl serial fraction f", "n/a" if not math.isfinite(fit) else f"{fit:.2f}", "", self.caveat),
        ]
        if self.sync_wall_s is not None:
            out.append(("sync, same tasks", f"{self.sync_wall_s:.2f} s", "",
                        f"1 worker on {self.scheduler}: {f['wall_s'].iloc[0]:.2f} s"))
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Scaling", scaling_chart(self.frame))]

    def captions(self) -> dict[str, str]:
        return {"Scaling": "Solid: measured medians (whiskers: from the slowest to the fastest round). Dashed grey:"
                           " the ideal. Dotted: Amdahl's law with the fitted f. The vertical line marks the"
                           f" {self.cores} usable cores: the knee. Every worker count ran once in every round."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"points": self.frame, "runs": self.runs, "rounds": self.rounds}

    def text(self) -> str:
        what = f"{self.workload} {WORKLOADS[self.workload].describe_size(self.size)} × {self.tasks} tasks"
        return "\n".join([
            f"strong scaling: {what} on {self.engine}, {self.repeats} interleaved round(s) of every worker count",
            machine_line(self.machine),
            f"baseline: {self.baseline}; wall excludes one-time start-up (setup_s) · {self.noise.describe()}",
            "",
            table(self.frame, ["workers", "wall_s", "wall_min_s", "wall_max_s", "setup_s", "speedup", "efficiency",
                               "ideal_speedup", "amdahl_speedup"]),
            "",
            *[s.replace("**", "") for s in self.explain()],
        ])


def scaling_result(spec: ScalingSpec, points: Points, run_id: str, started_at: str) -> ScalingResult:
    """Assemble a :class:`ScalingResult` from the points of :meth:`ScalingSpec.experiments`."""
    results = list(points.results)
    sync = [r for r in results if r.spec.scheduler == "sync"]
    swept = [r for r in results if r.spec.scheduler != "sync"]
    machine = swept[0].machine
    cores = machine.usable_cores
    base = swept[0].wall_s
    sync_wall = sync[0].wall_s if sync else None
    rows = []
    for r in swept:
        w = r.spec.workers
        rows.append({
            "scheduler": r.spec.scheduler, "engine": SCHEDULER_LABELS[r.spec.scheduler], "workload": r.spec.workload,
            "size": r.spec.size, "tasks": r.spec.tasks, "workers": w, "cores": cores, "balanced": r.spec.tasks % w == 0,
            "wall_s": r.wall_s, "wall_min_s": r.wall_min_s, "wall_max_s": r.wall_max_s,
            "compute_s": float(r.runs["compute_s"].median()), "setup_s": r.setup_s,
            "speedup": base / r.wall_s if r.wall_s > 0 else math.nan,
            "speedup_min": base / r.wall_max_s if r.wall_max_s > 0 else math.nan,
            "speedup_max": base / r.wall_min_s if r.wall_min_s > 0 else math.nan,
            "ideal_speedup": float(min(w, cores)),
            "speedup_vs_sync": sync_wall / r.wall_s if sync_wall and r.wall_s > 0 else math.nan,
            "run_id": r.run_id,
        })
    frame = pd.DataFrame(rows)
    frame["efficiency"] = frame["speedup"] / frame["workers"]
    f, fit_points = fit_serial_fraction(frame["workers"], frame["speedup"], cores)
    frame["serial_fraction"] = f
    frame["amdahl_speedup"] = amdahl(f, np.minimum(frame["workers"], cores)) if fit_points else math.nan
    return ScalingResult(
        workload=spec.workload, size=spec.size, scheduler=spec.scheduler, tasks=int(spec.tasks or 0),
        repeats=spec.repeats, workers=spec.workers, frame=frame[SCALING_COLUMNS],
        runs=pd.concat([r.runs for r in (*sync, *swept)], ignore_index=True), serial_fraction=f,
        fit_points=fit_points, cores=cores, sync_wall_s=sync_wall, machine=machine, started_at=started_at,
        run_id=run_id, rounds=points.rounds, noise=points.noise,
    )


class _ClustersOnly:
    """The caller's LocalClusters, but no warm process pools: each worker count starts its own.

    Every point of a sweep is open at once, one pool per worker count. A shared source keeps a few
    warm pools and closes the least recently used one when another is asked for, which could close a
    pool this sweep is still measuring on; the sweep's own pools start before the rounds (``setup_s``,
    never in the wall time) and close with them.
    """

    def __init__(self, source: Any) -> None:
        self._source = source

    def get(self, processes: bool, n_workers: int, threads_per_worker: int) -> Any:
        return self._source.get(processes, n_workers, threads_per_worker)


def run_scaling(spec: ScalingSpec, ctx: RunContext) -> ScalingResult:
    """Measure the sweep: every worker count (and sync) a point of the same interleaved rounds.

    Clusters come from ``ctx.clusters``; without one, the sweep starts its own and closes them at the end.
    """
    from core.engines import ClusterRegistry  # the engines import Dask: only when measuring

    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    specs = spec.experiments()
    labels = ["sync" if s.scheduler == "sync" else f"{s.workers} worker{'s' if s.workers > 1 else ''}" for s in specs]
    with ExitStack() as stack:
        source = ctx.clusters if ctx.clusters is not None else stack.enter_context(ClusterRegistry())
        points = measure_points(specs, spec.repeats, ctx, labels=labels, clusters=_ClustersOnly(source))
    return scaling_result(spec, points, run_id, started_at)


def scaling_sweep(workload: str = "fib", size: float = 27, scheduler: str = "processes",
                  workers: str | Sequence[int] = (1, 2, 4), tasks: int | None = None, repeats: int = 3, *,
                  include_sync: bool = True, clusters: Any = None, max_seconds: float | None = 60.0,
                  progress: Any = None) -> ScalingResult:
    """Measure speedup and parallel efficiency of ``scheduler`` at each worker count (see :class:`ScalingSpec`).

    ``max_seconds``: refuse (``BudgetError``) a sweep estimated longer, or needing more than half the
    available memory (``None``: no check). ``clusters``, ``progress``: as in :class:`RunContext`.
    """
    spec = ScalingSpec(workload, size, scheduler, workers, tasks, repeats, include_sync)  # type: ignore[arg-type]
    if max_seconds is not None:
        check(KIND.cost(spec), max_seconds)
    ctx = RunContext(clusters=clusters, **({"progress": progress} if progress else {}))
    return measure(KIND, spec, ctx)


# --- words -----------------------------------------------------------------------------------------------


def describe_scaling(result: ScalingResult) -> list[str]:
    """Markdown sentences written from the sweep's own numbers: the knee, the best point, f and its limits."""
    f = result.frame
    cores = result.cores
    engine = result.engine
    best = f.loc[f["speedup"].idxmax()]
    if int(best["workers"]) == 1:
        out = [f"On **{engine}**, no worker count beat 1 worker: more workers only added overhead"
               f" (best other: {f['speedup'].iloc[1:].max():.2f}×)." if len(f) > 1 else
               f"Only 1 worker was measured on **{engine}**."]
    else:
        out = [
            f"On **{engine}**, {int(best['workers'])} workers ran the {result.tasks} tasks fastest:"
            f" **{best['speedup']:.2f}×** the 1-worker time ({best['wall_s']:.3f} s vs {f['wall_s'].iloc[0]:.3f} s),"
            f" efficiency {best['efficiency']:.0%}."
        ]
    at_cores = f[f["workers"] == cores]
    beyond = f[f["workers"] > cores]
    if not at_cores.empty and not beyond.empty:
        s_knee = float(at_cores["speedup"].iloc[0])
        s_beyond = float(beyond["speedup"].max())
        out.append(
            f"The knee is at **{cores} workers = {cores} usable cores**: {s_knee:.2f}× there, at most"
            f" {s_beyond:.2f}× beyond. Extra workers cannot compute at the same time — they take turns on"
            f" the same {cores} cores."
        )
    wl = WORKLOADS[result.workload]
    if result.scheduler in ("threads", "cluster-threads") and wl.gil == "holds" and f["speedup"].max() < 1.3:
        out.append(
            f"Threads do not scale for {result.workload}: every worker thread lives in one process with one"
            " GIL, and pure-Python bytecode runs only while holding it, so the threads take turns."
        )
    if math.isfinite(result.serial_fraction):
        out.append(
            f"Amdahl fit: serial fraction **f = {result.serial_fraction:.2f}** — as if {result.serial_fraction:.0%}"
            f" of the 1-worker time could not be parallelised (best possible speedup 1/f ="
            f" {'∞' if result.serial_fraction == 0 else f'{1 / result.serial_fraction:.1f}×'}). {result.caveat}"
        )
    else:
        out.append(result.caveat)
    above = f[f["speedup_min"] > 1.1 * f["ideal_speedup"]]
    if not above.empty:
        out.append(
            f"Above the ideal at {', '.join(str(w) for w in above['workers'])} workers: not extra cores, but a"
            " 1-worker run slowed by per-task overhead (sending each task, collecting its result) that more"
            " workers overlap with computing."
        )
    if result.sync_wall_s is not None:
        one, sync = float(f["wall_s"].iloc[0]), result.sync_wall_s
        if one > 1.1 * sync:
            why = f"the {one - sync:.3f} s difference is what the engine itself costs"
        elif sync > 1.1 * one:
            why = "sync was the slower one this time: same work on one thread, so that is this machine's noise"
        else:
            why = "about the same: this engine adds little to tasks of this size"
        out.append(
            f"For reference, sync ran the same tasks in {sync:.3f} s and the 1-worker {result.scheduler} run in"
            f" {one:.3f} s: {why}."
        )
    if not result.balanced:
        odd = ", ".join(str(w) for w in f.loc[~f["balanced"], "workers"])
        out.append(f"{result.tasks} tasks do not divide evenly among {odd} workers: those runs end with a"
                   " half-empty wave and sit below the ideal for that reason alone.")
    return out


# --- the chart -----------------------------------------------------------------------------------------

_CHART_COLUMNS = ["engine", "workers", "cores", "wall_s", "wall_min_s", "wall_max_s", "speedup", "efficiency",
                  "ideal_speedup", "amdahl_speedup", "serial_fraction"]
_LINE_STYLES = {"measured": [1, 0], "Amdahl fit": [2, 3], "ideal": [7, 4]}


def _line_dash() -> Any:
    """Shared dash scale: solid = measured, dotted = Amdahl fit, dashed = ideal (one legend for both panels)."""
    import altair as alt

    from core.report.charts import _INK

    return alt.StrokeDash("series:N", title="Line", scale=alt.Scale(domain=list(_LINE_STYLES),
                                                                     range=list(_LINE_STYLES.values())),
                          legend=alt.Legend(orient="bottom", symbolType="stroke", symbolStrokeColor=_INK,
                                            symbolStrokeWidth=2, symbolSize=300))


def scaling_chart(frame: pd.DataFrame, title: str | None = None, width: int = 330) -> Any:
    """Speedup and parallel efficiency against workers, with the ideal line, the Amdahl fit and the core count.

    Parameters
    ----------
    frame : pandas.DataFrame
        The ``frame`` of :class:`ScalingResult` (one row per worker count; several engines may be
        stacked): ``engine``, ``workers``, ``cores``, ``wall_s``, ``wall_min_s``, ``wall_max_s``,
        ``speedup``, ``efficiency``, ``ideal_speedup``, ``amdahl_speedup`` and ``serial_fraction``
        (NaN where no fit); ``speedup_min`` / ``speedup_max`` add whiskers when present.
    title : str, optional
        Title over both panels; none by default.
    width : int, default 330
        Width of each panel's plot area in pixels (a concatenated chart cannot follow its container);
        both panels with their axes fit a 900-pixel column.

    Returns
    -------
    altair.HConcatChart
        Left, "Speed-up over 1 worker (×)": the ideal (dashed grey ``line``: linear up to the usable
        cores, flat after), a vertical dashed ``rule`` at the core count with the ``text`` "N cores"
        (the knee), the Amdahl curve S(p) = 1/(f + (1 − f)/p), p = min(workers, cores), drawn densely
        (dotted ``line`` per engine), and the measured medians (``line`` with points, coloured by engine,
        whiskers from the slowest to the fastest repeat). Right, "Parallel efficiency": speedup ÷
        workers with the ideal min(workers, cores) ÷ workers and the same core rule. The x axes tick
        at the measured worker counts; the line-style legend is shared.

    Raises
    ------
    ValueError
        If ``frame`` is empty or lacks a column.
    """
    import altair as alt

    from core.report.charts import _INK, _PERCENT, _SECONDS, _by_engine, _engine_scale

    data, order = _by_engine(frame, _CHART_COLUMNS, "scaling")
    data["series"] = "measured"
    cores = int(data["cores"].iloc[0])
    counts = sorted({int(w) for w in data["workers"]})
    top = max(counts)
    x_scale = alt.Scale(domain=[1, max(top, 2)], nice=False, padding=14)

    def x_axis(name: str = "workers") -> alt.X:
        return alt.X(f"{name}:Q", title="Workers", scale=x_scale,
                     axis=alt.Axis(values=counts, format="d", grid=False))

    color = alt.Color("engine:N", title="Engine", scale=_engine_scale(order),
                      legend=alt.Legend(orient="bottom", labelLimit=260))
    tooltip = [
        alt.Tooltip("engine:N", title="Engine"),
        alt.Tooltip("workers:Q", title="Workers"),
        alt.Tooltip("wall_s:Q", title="Median wall (s)", format=_SECONDS),
        alt.Tooltip("wall_min_s:Q", title="Fastest repeat (s)", format=_SECONDS),
        alt.Tooltip("wall_max_s:Q", title="Slowest repeat (s)", format=_SECONDS),
        alt.Tooltip("speedup:Q", title="Speed-up (×)", format=".2f"),
        alt.Tooltip("efficiency:Q", title="Efficiency", format=_PERCENT),
        alt.Tooltip("ideal_speedup:Q", title="Ideal speed-up (×)", format=".2f"),
        alt.Tooltip("amdahl_speedup:Q", title="Amdahl fit (×)", format=".2f"),
        alt.Tooltip("serial_fraction:Q", title="Fitted serial fraction f", format=".3f"),
    ]

    # The ideal is piecewise linear (bends once, at the core count): its corners are enough.
    corners = sorted({1, top, min(cores, top)})
    ideal = pd.DataFrame({"workers": corners, "speedup": [float(min(w, cores)) for w in corners]})
    ideal["efficiency"] = ideal["speedup"] / ideal["workers"]
    # The efficiency ideal is a hyperbola after the knee: draw it densely.
    span = max(top, 2) - 1
    dense = sorted({1 + span * i / 59 for i in range(60)} | {float(min(cores, top))})
    ideal_eff = pd.DataFrame({"workers": dense, "efficiency": [min(w, cores) / w for w in dense]})
    for extra in (ideal, ideal_eff):
        extra["series"] = "ideal"
        extra["label"] = f"ideal: linear up to {cores} core{'s' if cores != 1 else ''}, flat after"

    curves = []
    for engine, group in data.groupby("engine", sort=False):
        f = float(group["serial_fraction"].iloc[0])
        if math.isfinite(f):
            s = [1.0 / (f + (1.0 - f) / min(w, cores)) for w in dense]
            curves.append(pd.DataFrame({"engine": engine, "workers": dense, "speedup": s,
                                        "efficiency": [v / w for v, w in zip(s, dense, strict=True)],
                                        "serial_fraction": f}))
    amdahl_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["engine", "workers", "speedup", "efficiency", "serial_fraction"])
    amdahl_frame["series"] = "Amdahl fit"

    knee = pd.DataFrame({"workers": [cores], "label": [f"{cores} cores" if cores != 1 else "1 core"]})
    show_knee = 1 <= cores <= top
    ideal_tip = [alt.Tooltip("label:N", title="Reference"), alt.Tooltip("workers:Q", title="Workers", format=".3~r")]
    knee_tip = [alt.Tooltip("label:N", title="Usable cores (the knee)")]
    amdahl_tip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("serial_fraction:Q", title="f", format=".3f"),
                  alt.Tooltip("workers:Q", title="Workers", format=".3~r")]

    def panel(field: str, y_title: str, ideal_data: pd.DataFrame, y_axis: alt.Axis, y_scale: alt.Scale,
              panel_title: str) -> alt.LayerChart:
        y = alt.Y(f"{field}:Q", title=y_title, axis=y_axis, scale=y_scale)
        layers: list[alt.Chart] = [
            alt.Chart(ideal_data).mark_line(color="#9d9d9d", strokeWidth=2).encode(
                x=x_axis(), y=y, strokeDash=_line_dash(), tooltip=ideal_tip),
        ]
        if show_knee:
            layers += [
                alt.Chart(knee).mark_rule(color=_INK, strokeDash=[3, 3], strokeWidth=1.2).encode(
                    x=x_axis(), tooltip=knee_tip),
                alt.Chart(knee).mark_text(align="left", baseline="top", dx=4, dy=4, color=_INK,
                                          fontWeight="bold").encode(x=x_axis(), y=alt.value(0), text="label:N",
                                                                    tooltip=knee_tip),
            ]
        if not amdahl_frame.empty:
            layers.append(alt.Chart(amdahl_frame).mark_line(strokeWidth=2, opacity=0.85).encode(
                x=x_axis(), y=y, color=color, strokeDash=_line_dash(), detail="engine:N", tooltip=amdahl_tip))
        if field == "speedup" and {"speedup_min", "speedup_max"} <= set(data.columns):
            layers.append(alt.Chart(data).mark_rule(strokeWidth=1.5).encode(
                x=x_axis(), y=alt.Y("speedup_min:Q", title=y_title), y2="speedup_max:Q", color=color,
                tooltip=tooltip))
        layers.append(alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=60, filled=True), strokeWidth=2.5)
                      .encode(x=x_axis(), y=y, color=color, strokeDash=_line_dash(), tooltip=tooltip))
        return alt.layer(*layers).properties(width=width, height=300, title=alt.TitleParams(
            panel_title, anchor="start", fontSize=13))

    top_speedup = max(float(data[["speedup", "ideal_speedup"]].max().max()),
                      float(data["speedup_max"].max()) if "speedup_max" in data else 0.0)
    speed = panel("speedup", "Speed-up over 1 worker (×)", ideal, alt.Axis(format=".1~f"),
                  alt.Scale(domain=[0, max(1.0, top_speedup) * 1.1], nice=False),
                  "Speed-up (median wall of 1 worker ÷ median wall)")
    top_eff = max(1.0, float(data["efficiency"].max()))
    eff = panel("efficiency", "Parallel efficiency (speed-up ÷ workers)", ideal_eff, alt.Axis(format="%"),
                alt.Scale(domain=[0, top_eff * 1.1], nice=False), "Efficiency (100% = every worker fully useful)")
    chart = alt.hconcat(speed, eff, spacing=36).resolve_scale(color="shared", strokeDash="shared")
    return chart.properties(title=title) if title else chart


# --- the kind ----------------------------------------------------------------------------------------------


class ScalingKind:
    """``python -m core sweep``: speedup and efficiency vs workers for one engine, in interleaved rounds."""

    name: ClassVar[str] = "sweep"
    title: ClassVar[str] = "scaling sweep"
    spec_type: ClassVar[type] = ScalingSpec
    help: ClassVar[str] = "speedup and efficiency vs workers for one engine (strong scaling)"

    def cost(self, spec: ScalingSpec) -> Cost:
        specs = spec.experiments()
        return points_cost(specs, spec.repeats, what=f"this sweep ({len(specs)} points)",
                           advice="lower the size, tasks or repeats, or sweep fewer points (the CLI's --force runs"
                                  " it anyway)")

    def run(self, spec: ScalingSpec, ctx: RunContext) -> ScalingResult:
        return run_scaling(spec, ctx)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--workload", default="fib", choices=list(SCALING_WORKLOADS), help="a CPU-bound workload"
                       " (default fib)")
        p.add_argument("--size", type=float, help="workload size (fib n, …); default per workload")
        p.add_argument("--scheduler", default="processes", choices=list(SCALING_SCHEDULERS),
                       help="the engine to scale (default processes)")
        p.add_argument("--workers", default="1,2,4", help="worker counts, e.g. 1,2,4 (1 is always added)")
        p.add_argument("--tasks", type=int, help="total tasks of every point (default: 2 × max workers, divisible by"
                       " every count)")
        p.add_argument("--repeats", type=int, default=3, help="measured rounds, every worker count once per round"
                       " (default 3)")
        p.add_argument("--no-sync", action="store_true", help="skip the sync reference point")

    def spec_from_args(self, args: argparse.Namespace) -> ScalingSpec:
        size = args.size if args.size is not None else WORKLOADS[args.workload].default_size
        return ScalingSpec(workload=args.workload, size=size, scheduler=args.scheduler, workers=args.workers,
                           tasks=args.tasks, repeats=args.repeats, include_sync=not args.no_sync)


KIND = ScalingKind()
