"""The sweep's result (frames, JSON, speed-ups against the 1-worker run) and running it."""

from __future__ import annotations

import math
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from core.kinds.base import RunContext, StrictJson, machine_line, records
from core.kinds.points import Points, measure_points, table
from core.kinds.scaling.chart import scaling_chart
from core.kinds.scaling.spec import BASELINE, SCALING_COLUMNS, ScalingSpec, amdahl, amdahl_caveat, fit_serial_fraction
from core.kinds.scaling.words import describe_scaling
from core.measure.machine import MachineInfo
from core.measure.noise import Noise
from core.spec import SCHEDULER_LABELS
from core.workloads import WORKLOADS

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


class ClustersOnly:
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
        points = measure_points(specs, spec.repeats, ctx, labels=labels, clusters=ClustersOnly(source))
    return scaling_result(spec, points, run_id, started_at)


