"""``blas``: Dask threads × BLAS threads, the oversubscription experiment.

NumPy's BLAS (OpenBLAS, MKL) starts threads of its own for a matrix product, one per core by
default. Dask's ``threads`` scheduler running several products at once then asks for more threads
than there are cores: they interrupt each other and fight over the caches. Pinning BLAS to one
thread per task leaves the parallelism to Dask. This kind runs ``numpy-matmul`` on Dask's threads
twice, BLAS pinned to 1 and at the library's default, as the two points of interleaved rounds
(:mod:`core.kinds.points`), so both saw the same machine.
"""

from __future__ import annotations

import argparse
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core.kinds.base import KindBase, RunContext, StrictJson, add_option, machine_line, measure
from core.kinds.interpreter import blas_default_threads
from core.kinds.points import MAX_REPEATS, measure_points, points_cost, table
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo, machine_info
from core.measure.noise import Noise
from core.measure.results import ExperimentResult, combine
from core.spec import ExperimentSpec, check_int, short_repr
from core.workloads import WORKLOADS


@dataclass(frozen=True)
class BlasSpec:
    """``tasks`` products of two ``side`` × ``side`` matrices on ``workers`` Dask threads, BLAS pinned vs default.

    Parameters
    ----------
    side : int
        Matrix side (cost grows with side³).
    tasks, workers : int
        Tasks in the graph, and Dask threads.
    repeats : int
        Measured rounds (each runs both arms once).
    """

    side: int = 600
    tasks: int = 4
    workers: int = 2
    repeats: int = 2

    def __post_init__(self) -> None:
        wl = WORKLOADS["numpy-matmul"]
        low, high = int(wl.min_size), int(wl.max_size)
        if isinstance(self.side, bool) or not isinstance(self.side, int) or not low <= self.side <= high:
            raise ValueError(f"side, the matrices' size, must be an integer from {low} to {high}"
                             f" (got {short_repr(self.side)})")
        check_int("repeats", self.repeats, (1, MAX_REPEATS))
        self.experiments()  # validates tasks and workers

    def experiments(self) -> list[tuple[str, ExperimentSpec]]:
        """``("BLAS pinned to 1", spec)`` and ``("BLAS default (N threads)", spec)``.

        The second has ``blas_threads=None``, which restores the library's default in every task.
        """
        base = ExperimentSpec(workload="numpy-matmul", size=self.side, tasks=self.tasks, scheduler="threads",
                              workers=self.workers, repeats=self.repeats, warmup=1, blas_threads=1)
        default = blas_default_threads()
        return [
            ("BLAS pinned to 1", base),
            (f"BLAS default ({default if default is not None else '?'} threads)", base.replace(blas_threads=None)),
        ]

    @property
    def label(self) -> str:
        return f"BLAS comparison: {self.tasks} × matmul {self.side} on {self.workers} Dask threads"


def blas_experiment_specs(side: int = 600, tasks: int = 4, workers: int = 2, repeats: int = 2
                          ) -> list[tuple[str, ExperimentSpec]]:
    """The two arms of the experiment (:meth:`BlasSpec.experiments`), validated."""
    return BlasSpec(side, tasks, workers, repeats).experiments()


@dataclass(frozen=True)
class BlasResult(StrictJson):
    """Both arms of the oversubscription experiment and the BLAS threads each one ran with.

    ``blas_threads`` is the limit every task of that arm set before multiplying (``numpy_matmul`` sets it
    in each task): 1 for the pinned arm, the library default read once per process for the other.
    Reading the global BLAS setting after a run instead would be racy: any other task of this process
    (e.g. on a ``processes=False`` cluster) may set it in between.
    """

    spec: BlasSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    labels: tuple[str, ...]
    results: tuple[ExperimentResult, ...] = field(repr=False)
    blas_threads: tuple[int | None, ...]
    rounds: pd.DataFrame = field(repr=False)
    noise: Noise

    def summary(self) -> list[dict[str, Any]]:
        """One row per arm: its figures and how oversubscribed the cores were.

        Columns ``arm``, ``blas_threads``, ``dask_threads``, ``wall_s``, ``wall_min_s``, ``wall_max_s``,
        ``cpu_share`` and ``oversubscription``: Dask threads × BLAS threads ÷ usable cores (> 1: more
        threads than cores). ``cpu_share`` counts each task's own thread only, not BLAS's helper
        threads.
        """
        rows = []
        for label, result, blas in zip(self.labels, self.results, self.blas_threads, strict=True):
            threads = result.spec.workers * (blas or 1)
            rows.append({
                "arm": label,
                "blas_threads": blas,
                "dask_threads": result.spec.workers,
                "wall_s": result.wall_s,
                "wall_min_s": result.wall_min_s,
                "wall_max_s": result.wall_max_s,
                "cpu_share": result.cpu_share,
                "oversubscription": threads / result.machine.usable_cores,
            })
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "blas", "run_id": self.run_id, "started_at": self.started_at,
                "spec": {"side": self.spec.side, "tasks": self.spec.tasks, "workers": self.spec.workers,
                         "repeats": self.spec.repeats},
                "machine": self.machine.to_dict(), "noise": self.noise.to_dict(), "summary": self.summary(),
                "arms": [{"label": label, **r.to_dict()} for label, r in zip(self.labels, self.results, strict=True)]}


    def metrics(self) -> list[tuple[str, str, str, str]]:
        cores = self.machine.usable_cores
        out = []
        for row, result in zip(self.summary(), self.results, strict=True):
            util = result.cpu_utilization
            note = f"{row['dask_threads']} Dask × {row['blas_threads'] or '?'} BLAS threads on {cores} cores" + (
                f" · CPU used {util:.0%}" if math.isfinite(util) else "")
            out.append((row["arm"], f"{row['wall_s']:.2f} s", note,
                        f"Median wall time of {result.spec.repeats} round(s); min {row['wall_min_s']:.3f} s, max"
                        f" {row['wall_max_s']:.3f} s. CPU used counts each task's own thread only."))
        return out

    def explain(self) -> list[str]:
        pinned, default = self.results
        faster = "pinned" if pinned.wall_s < default.wall_s else "default"
        ratio = max(pinned.wall_s, default.wall_s) / max(min(pinned.wall_s, default.wall_s), 1e-9)
        first = (f"Here the **{faster}** arm was faster by ×{ratio:.2f} (median {pinned.wall_s:.2f} s pinned,"
                 f" {default.wall_s:.2f} s default)")
        if pinned.wall_min_s <= default.wall_max_s and default.wall_min_s <= pinned.wall_max_s:
            first += (", but the rounds of the two arms overlap (from fastest to slowest): that difference is"
                      " within this machine's noise, not one this measurement can claim. More repeats, or a"
                      " bigger matrix, would tell.")
        else:
            first += "."
        return [
            first + " With as many Dask threads as cores, extra BLAS threads add no cores, only contention; with one"
            " Dask thread, BLAS's own threads are what uses the other cores.",
            "*CPU share* and *CPU used* count each task's own thread only: BLAS's helper threads are not in them,"
            " so the default arm's figures understate the CPU it really used.",
        ]

    def charts(self) -> list[tuple[str, Any]]:
        from core.report import charts

        runs, tasks = combine(list(self.results), list(self.labels))
        return [("Runtime", charts.runtime_chart(runs)), ("Speed-up", charts.speedup_chart(runs, self.labels[0])),
                ("Timeline", charts.timeline_chart(tasks, runs=runs)), ("CPU share", charts.cpu_share_chart(tasks))]

    def captions(self) -> dict[str, str]:
        return {"Runtime": "Bars: median wall time; whiskers: fastest and slowest round; dots: each round.",
                "Speed-up": "Median wall of the pinned arm ÷ median wall of each arm: above 1, faster than pinned."}

    def frames(self) -> dict[str, pd.DataFrame]:
        runs, tasks = combine(list(self.results), list(self.labels))
        return {"runs": runs, "tasks": tasks, "summary": pd.DataFrame(self.summary()), "rounds": self.rounds}

    def text(self) -> str:
        return "\n".join([self.spec.label + f"   [run {self.run_id}]", machine_line(self.machine) + " · "
                          + self.noise.describe(), "",
                          table(pd.DataFrame(self.summary()), ["arm", "blas_threads", "dask_threads", "wall_s",
                                                               "wall_min_s", "wall_max_s", "oversubscription"]),
                          "", *[s.replace("**", "").replace("*", "") for s in self.explain()]])


def run_blas(spec: BlasSpec, ctx: RunContext) -> BlasResult:
    """Measure both arms as the points of the same interleaved rounds."""
    arms = spec.experiments()
    labels = tuple(label for label, _ in arms)
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    points = measure_points([s for _, s in arms], spec.repeats, ctx, labels=labels)
    blas = tuple(s.blas_threads if s.blas_threads is not None else blas_default_threads() for _, s in arms)
    return BlasResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at, labels=labels,
                      results=points.results, blas_threads=blas, rounds=points.rounds, noise=points.noise)


def run_blas_experiment(side: int = 600, tasks: int = 4, workers: int = 2, repeats: int = 2,
                        clusters: Any = None) -> BlasResult:
    """Measure :class:`BlasSpec` (in the run slot); the result has both arms and their BLAS threads."""
    return measure(KIND, BlasSpec(side, tasks, workers, repeats), RunContext(clusters=clusters))


class BlasKind(KindBase, name="blas", title="BLAS comparison", spec=BlasSpec,
               help="Dask threads × BLAS threads: numpy-matmul with BLAS pinned to 1 vs its default"):
    """``python -m core blas``: numpy-matmul on Dask threads, BLAS pinned to 1 vs the library's default."""

    def cost(self, spec: BlasSpec) -> Cost:
        return points_cost([s for _, s in spec.experiments()], spec.repeats, what="this BLAS comparison",
                           advice="lower the matrix side, tasks or repeats (the CLI's --force runs it anyway)")

    def run(self, spec: BlasSpec, ctx: RunContext) -> BlasResult:
        return run_blas(spec, ctx)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--side", type=int, default=600, help="matrix side (cost grows with side³; default 600)")
        add_option(p, "tasks", "matrix products in the graph", 4)
        add_option(p, "workers", "Dask threads", 2)
        add_option(p, "repeats", "measured rounds, both arms once per round", 2)

    def spec_from_args(self, args: argparse.Namespace) -> BlasSpec:
        return BlasSpec(side=args.side, tasks=args.tasks, workers=args.workers, repeats=args.repeats)


KIND = BlasKind()
