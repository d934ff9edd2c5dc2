"""Part 3 of ``overhead``: why 4 tasks ran in one process — Dask's processes scheduler batches ready tasks.

The same fib graph on the processes scheduler with each chunksize, as the points of interleaved rounds
(:mod:`core.kinds.points`): with ``tasks`` ≤ chunksize every ready task travels in ONE batch, to one
process; with chunksize 1 they spread over the pool.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from core.fmt import duration as fmt_duration
from core.kinds.base import RunContext, StrictJson, machine_line, records
from core.kinds.overhead.common import ADVICE, DASK_DEFAULT_CHUNKSIZE, LIMITS, checked_int, now_iso
from core.kinds.points import measure_points, points_cost, table
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo, machine_info
from core.measure.noise import Noise
from core.measure.results import ExperimentResult, combine
from core.progress import Progress
from core.spec import ExperimentSpec, short_repr
from core.workloads import WORKLOADS

# --- 3 · the chunksize effect ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunksizeSpec:
    """fib(``n``) × ``tasks`` on the processes scheduler (a new pool per compute), once per chunksize."""

    n: int = 27
    tasks: int = 4
    workers: int = 4
    repeats: int = 2
    chunksizes: tuple[int, ...] = (DASK_DEFAULT_CHUNKSIZE, 1)

    def __post_init__(self) -> None:
        wl = WORKLOADS["fib"]
        checked_int("n", self.n, (int(wl.min_size), int(wl.max_size)))
        checked_int("tasks", self.tasks, LIMITS["fib_tasks"])
        checked_int("workers", self.workers)
        checked_int("repeats", self.repeats)
        sizes = tuple(self.chunksizes) if not isinstance(self.chunksizes, int) else (self.chunksizes,)
        if not 1 <= len(sizes) <= 4 or len(set(sizes)) != len(sizes):
            raise ValueError(f"chunksizes must be 1 to 4 distinct integers (got {short_repr(self.chunksizes)})")
        for c in sizes:
            checked_int("chunksizes", c, LIMITS["chunksize"])
        object.__setattr__(self, "chunksizes", sizes)

    def experiment(self, chunksize: int) -> ExperimentSpec:
        """The processes run of this spec with ``chunksize``."""
        return ExperimentSpec(workload="fib", size=self.n, tasks=self.tasks, scheduler="processes",
                              workers=self.workers, repeats=self.repeats, warmup=1, chunksize=chunksize)

    @property
    def label(self) -> str:
        return f"overhead: chunksize {'/'.join(map(str, self.chunksizes))}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "chunksizes": list(self.chunksizes)}


def chunksize_cost(spec: ChunksizeSpec) -> Cost:
    """Rough cost of :func:`measure_chunksize`: its chunksizes as points of interleaved rounds."""
    return points_cost([spec.experiment(c) for c in spec.chunksizes], spec.repeats,
                       what="this chunksize comparison", advice=ADVICE)


@dataclass(frozen=True)
class ChunksizeResult(StrictJson):
    """What :func:`measure_chunksize` measured.

    Attributes
    ----------
    runs, tasks : DataFrame
        The runs and per-task rows of every chunksize, stacked (:func:`core.measure.results.combine`), with
        ``engine`` = "chunksize 6" etc. and ``chunksize``; ``runs`` adds ``distinct_pids`` per repeat.
    summary : DataFrame
        One row per chunksize: ``engine``, ``chunksize``, median ``wall_s`` (min/max), median
        ``startup_s`` / ``compute_s``, ``distinct_pids`` (median over repeats) and ``workers``.
    rounds : DataFrame
        When each chunksize ran in each round (:class:`core.kinds.points.Points`).
    noise : Noise
        Other programs' CPU while it measured.
    """

    spec: ChunksizeSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    results: tuple[ExperimentResult, ...] = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    tasks: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    rounds: pd.DataFrame = field(repr=False)
    noise: Noise

    def distinct_pids(self, chunksize: int) -> int:
        """Distinct processes that ran the tasks with ``chunksize`` (median over repeats)."""
        return int(self.summary.loc[self.summary["chunksize"] == chunksize, "distinct_pids"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "chunksize", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "summary": records(self.summary), "runs": records(self.runs), "tasks": records(self.tasks)}


    def metrics(self) -> list[tuple[str, str, str, str]]:
        return [(row.engine, f"{row.distinct_pids} process{'es' if row.distinct_pids != 1 else ''}",
                 f"wall {fmt_duration(row.wall_s)} (compute {fmt_duration(row.compute_s)},"
                 f" pool start {fmt_duration(row.startup_s)})",
                 "Distinct process ids that ran the tasks (median over repeats).")
                for row in self.summary.itertuples()]

    def explain(self) -> list[str]:
        ran = "; ".join(f"chunksize {row.chunksize}: the {self.spec.tasks} tasks ran in **{row.distinct_pids}**"
                        f" process{'es' if row.distinct_pids != 1 else ''}, compute {fmt_duration(row.compute_s)}"
                        for row in self.summary.itertuples())
        return [ran[0].upper() + ran[1:] + ".",
                f"A batch of up to `chunksize` ready tasks goes to one process, which runs them one after another:"
                f" with {self.spec.tasks} ready tasks and chunksize {max(self.spec.chunksizes)}, one batch holds"
                f" {min(self.spec.tasks, max(self.spec.chunksizes))} of them.",
                "Batching pays off for many small tasks (section 1: fewer round trips); for a few big ones it"
                " serialises them. `dask.compute(..., scheduler='processes', chunksize=1)` spreads them."]

    def charts(self) -> list[tuple[str, Any]]:
        from core.report import charts

        return [("Timeline", charts.timeline_chart(self.tasks, runs=self.runs)),
                ("Runtime", charts.runtime_chart(self.runs))]

    def captions(self) -> dict[str, str]:
        return {"Timeline": "One row per process that ran a task (median round). With the default batching every"
                            " task sits in one row: they ran one after another in a single process.",
                "Runtime": "Wall time per compute, pool start-up and shutdown included (Dask starts a pool per"
                           " compute); dots: every round, whiskers: fastest to slowest."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"summary": self.summary, "runs": self.runs, "tasks": self.tasks, "rounds": self.rounds}

    def text(self) -> str:
        return "\n".join([f"chunksize: fib({self.spec.n}) × {self.spec.tasks} on {self.spec.workers} processes,"
                          f" {self.spec.repeats} interleaved round(s)", machine_line(self.machine), "",
                          table(self.summary, ["engine", "distinct_pids", "wall_s", "startup_s", "compute_s"]), "",
                          *[s.replace("**", "") for s in self.explain()]])


def chunksize_label(chunksize: int) -> str:
    """``"chunksize 6 (Dask's default)"``, ``"chunksize 1"``: the ``engine`` label of each run."""
    return f"chunksize {chunksize}" + (" (Dask's default)" if chunksize == DASK_DEFAULT_CHUNKSIZE else "")


def measure_chunksize(spec: ChunksizeSpec, *, progress: Progress | None = None,
                      ctx: RunContext | None = None) -> ChunksizeResult:
    """Run the same fib graph on the processes scheduler with each chunksize, in interleaved rounds.

    Returns
    -------
    ChunksizeResult
        With, per chunksize, how many distinct processes ran the tasks: with ``tasks`` ≤ chunksize,
        Dask sends every ready task in ONE batch, to one process.
    """
    ctx = ctx or RunContext(**({"progress": progress} if progress else {}))
    started_at, run_id = now_iso(), uuid.uuid4().hex[:8]
    labels = [chunksize_label(c) for c in spec.chunksizes]
    points = measure_points([spec.experiment(c) for c in spec.chunksizes], spec.repeats, ctx, labels=labels)
    results = list(points.results)
    runs, tasks = combine(results, labels)
    runs["chunksize"] = runs["engine"].map(dict(zip(labels, spec.chunksizes, strict=True)))
    tasks["chunksize"] = tasks["engine"].map(dict(zip(labels, spec.chunksizes, strict=True)))
    pids = tasks.groupby(["chunksize", "repeat"])["pid"].nunique().rename("distinct_pids").reset_index()
    runs = runs.merge(pids, on=["chunksize", "repeat"], how="left")
    summary = pd.DataFrame([
        {"engine": lab, "chunksize": c, "wall_s": r.wall_s, "wall_min_s": r.wall_min_s, "wall_max_s": r.wall_max_s,
         "startup_s": float(r.runs["startup_s"].median()), "compute_s": float(r.runs["compute_s"].median()),
         "distinct_pids": int(runs.loc[runs["chunksize"] == c, "distinct_pids"].median()),
         "workers": spec.workers, "tasks": spec.tasks, "repeats": spec.repeats}
        for lab, c, r in zip(labels, spec.chunksizes, results, strict=True)
    ])
    return ChunksizeResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                           results=tuple(results), runs=runs, tasks=tasks, summary=summary, rounds=points.rounds,
                           noise=points.noise)
