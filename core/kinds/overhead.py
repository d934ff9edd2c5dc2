"""``overhead``: what parallelism costs on this machine before any useful work is done.

One kind of measurement in four parts, each a frozen spec → a frozen result with tidy frames, its own
sentences and charts, and the machine's metadata. A page measures one part at a time (each section
passes its part's spec to the one run panel); ``python -m core overhead`` measures the per-task and
start-up parts, and the break-even sweep with ``--break-even`` (:class:`OverheadSpec`):

* **per-task overhead** (:func:`measure_per_task`): each engine computes a graph of N no-op tasks and a
  graph of one. The one-task compute is the engine's fixed cost per ``compute`` (a round trip to the
  scheduler, submitting a batch); the difference, divided by the N − 1 extra tasks, is what one more
  task costs. Dask's docs quote ~50 µs per task for the threaded scheduler and ~1 ms for distributed
  (:data:`DOCS_FIGURES`); the result puts this machine's figures next to them.
* **start-up** (:func:`measure_startup`): a spawn process pool started for every compute (what Dask's
  ``processes`` scheduler does) versus one pool reused; a ``LocalCluster`` with ``processes=False`` and
  ``processes=True`` until its ``Client`` sees every worker.
* **the chunksize effect** (:func:`measure_chunksize`): Dask's processes scheduler sends ready tasks in
  batches of ``chunksize`` (6 by default), so 4 ready tasks go to ONE process; with 1 they spread.
* **break-even task size** (:func:`measure_break_even`): the smallest fib ``n`` from which a process
  engine beats ``sync`` on this machine.

The chunksize and break-even parts are comparisons (over chunksizes; over fib n, every engine next to
sync): their points are measured in interleaved rounds (:mod:`core.kinds.points`), so a burst of load
on the shared machine hits every point alike. Every engine comes from :mod:`core.engines`, so the
numbers describe the same engines the other pages use; every pool and cluster started here is closed
before the function returns (clusters passed in by the caller stay the caller's). The caller holds the
run slot (:func:`core.kinds.base.measure` does).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, get_args

import pandas as pd

from core.kinds.base import RunContext, machine_line, records, strict_json
from core.kinds.points import Points, measure_points, points_cost, table
from core.measure.estimate import (
    CLUSTER_START_PER_WORKER_S,
    CLUSTER_START_S,
    POOL_START_PER_WORKER_S,
    POOL_START_S,
    POOL_STOP_S,
    PROCESS_WORKER_BYTES,
    Cost,
)
from core.measure.machine import MachineInfo, machine_info
from core.measure.noise import Noise
from core.measure.results import ExperimentResult, combine
from core.measure.spec import SCHEDULER_LABELS, SCHEDULERS, ExperimentSpec, check_int, short_repr
from core.report.explain import fmt_duration
from core.workloads import WORKLOADS, _fib_calls, noop

OverheadEngine = Literal["sync", "threads", "processes", "cluster-threads", "cluster-processes"]
OVERHEAD_ENGINES: tuple[str, ...] = get_args(OverheadEngine)
PARALLEL_ENGINES: tuple[str, ...] = tuple(e for e in OVERHEAD_ENGINES if e != "sync")

GraphForm = Literal["single", "list"]
GRAPH_FORMS: tuple[str, ...] = get_args(GraphForm)
GRAPH_FORM_LABELS = {
    "single": "one graph of N tasks",
    "list": "a list of N delayed objects",
}

StartupCase = Literal["sync", "threads", "processes", "processes-reused", "cluster-threads", "cluster-processes"]
STARTUP_CASES: tuple[str, ...] = get_args(StartupCase)
STARTUP_LABELS: dict[str, str] = {
    "sync": "sync (nothing to start)",
    "threads": "threads: a new thread pool",
    "processes": "processes: new spawn pool per compute",
    "processes-reused": "processes: one pool, reused",
    "cluster-threads": "LocalCluster processes=False",
    "cluster-processes": "LocalCluster processes=True",
}
STARTUP_SCHEDULER = {case: ("processes" if case == "processes-reused" else case) for case in STARTUP_CASES}

LIMITS: dict[str, tuple[int, int]] = {
    "tasks": (10, 20_000),
    "workers": (1, 16),
    "repeats": (1, 10),
    "chunksize": (1, 64),
    "fib_tasks": (1, 16),
    "sizes": (2, 12),
}
DASK_DEFAULT_CHUNKSIZE = 6
_WARMUP_TASKS = 100  # first computes pay for imports and first-touch memory; never timed
_ADVICE = "lower the tasks, workers, repeats or sizes (the CLI's --force runs it anyway)"

Progress = Callable[[str, float], None]


# --- Dask's own figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocsFigure:
    """A figure Dask's documentation quotes, with where it says so."""

    schedulers: tuple[str, ...]
    per_task_us: float | None
    startup_s: float | None
    claim: str
    source: str
    url: str


DOCS_FIGURES: tuple[DocsFigure, ...] = (
    DocsFigure(("threads",), 50.0, None, "the threaded scheduler adds around 50 µs per task",
               "Dask docs: Scheduling, local threads", "https://docs.dask.org/en/stable/scheduling.html"),
    DocsFigure(("threads",), 200.0, 10e-6,
               "about 200 µs per task; about 10 µs to make a new ThreadPoolExecutor",
               "Dask docs: Shared Memory, performance", "https://docs.dask.org/en/stable/shared.html"),
    DocsFigure(("cluster-threads", "cluster-processes"), 1000.0, None, "each task suffers about 1 ms of overhead",
               "Dask.distributed docs: overview", "https://distributed.dask.org/en/latest/"),
)


def references_frame() -> pd.DataFrame:
    """Dask's quoted figures, one row per (figure, scheduler): ``engine``, ``per_task_us``, ``startup_s``, …"""
    rows = [
        {"scheduler": s, "engine": SCHEDULER_LABELS[s], "per_task_us": f.per_task_us, "startup_s": f.startup_s,
         "label": f"docs: {_fmt_us(f.per_task_us)}" if f.per_task_us is not None else "", "claim": f.claim,
         "source": f.source, "url": f.url}
        for f in DOCS_FIGURES for s in f.schedulers
    ]
    return pd.DataFrame(rows)


# --- helpers -------------------------------------------------------------------------------------------


def _fmt_us(us: float) -> str:
    return f"{us / 1000:.3g} ms" if us >= 1000 else f"{us:.3g} µs"


def _check_int(field_name: str, value: Any, limits: tuple[int, int] | None = None) -> int:
    """:func:`core.measure.spec.check_int` against this module's own ``LIMITS`` by default."""
    return check_int(field_name, value, limits or LIMITS[field_name])


def _names(field_name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty tuple of distinct names from ``allowed`` (a single name or any iterable of them)."""
    items = (value,) if isinstance(value, str) else value
    try:
        items = tuple(items)
    except TypeError:
        raise ValueError(
            f"{field_name} must be one or more of {', '.join(allowed)} (got {short_repr(value)})"
        ) from None
    bad = [i for i in items if not isinstance(i, str) or i not in allowed]
    if not items or bad or len(set(items)) != len(items):
        why = f"unknown {short_repr(bad[0])}" if bad else ("none given" if not items else "a name is repeated")
        raise ValueError(f"{field_name} must be one or more distinct names of {', '.join(allowed)} ({why})")
    return items


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _quiet(message: str, fraction: float) -> None:
    pass


def _worker_bytes(scheduler: str, workers: int) -> int:
    return PROCESS_WORKER_BYTES.get(scheduler, 0) * workers


# --- graphs of no-ops --------------------------------------------------------------------------------


def noop_graph(tasks: int, form: GraphForm = "single", token: str | None = None) -> list[Any]:
    """``tasks`` independent no-op tasks, as the engines' ``compute`` takes them (a list of Delayed).

    ``single`` is ONE collection: a graph of ``tasks`` no-ops plus one small task counting their
    results, the way ``dask.array`` or ``dask.bag`` hand a graph to a scheduler. ``list`` is
    ``[delayed(noop)(i) for i in range(tasks)]``: ``dask.compute(*those)`` first merges and optimises
    ``tasks`` one-task graphs, which on a local scheduler costs more than running them.
    Every key carries ``token``, so no engine can reuse a result from an earlier compute.
    """
    from dask.delayed import Delayed, delayed
    from dask.highlevelgraph import HighLevelGraph

    token = token or uuid.uuid4().hex[:12]
    if form == "list":
        return [delayed(noop)(i, dask_key_name=f"noop-{i}-{token}") for i in range(tasks)]
    keys = [f"noop-{i}-{token}" for i in range(tasks)]
    graph: dict[str, Any] = {k: (noop, i) for i, k in enumerate(keys)}
    out = f"count-{token}"
    graph[out] = (len, keys)
    return [Delayed(out, HighLevelGraph.from_collections(out, graph))]


def _ran(out: list[Any], tasks: int, form: GraphForm) -> bool:
    return (len(out) == tasks) if form == "list" else (out == [tasks])


def _engine_spec(scheduler: str, workers: int, **processes_options: Any) -> ExperimentSpec:
    """The :class:`ExperimentSpec` that makes ``core.engines`` build ``scheduler``'s engine.

    Workload and size are unused (the graphs here are no-ops); fib keeps process workers light.
    """
    opts = processes_options if scheduler == "processes" else {}
    return ExperimentSpec(workload="fib", size=WORKLOADS["fib"].min_size, tasks=1,
                          scheduler=scheduler, workers=1 if scheduler == "sync" else workers, repeats=1, **opts)


def _start_prior_s(scheduler: str, workers: int) -> float:
    """Rough seconds to start and stop ``scheduler``'s pool or cluster (from :mod:`core.measure.estimate`)."""
    if scheduler == "processes":
        return POOL_START_S + POOL_START_PER_WORKER_S * workers + POOL_STOP_S
    if scheduler in CLUSTER_START_S:
        stop = 0.3 * workers if scheduler == "cluster-processes" else 0.05
        return CLUSTER_START_S[scheduler] + CLUSTER_START_PER_WORKER_S[scheduler] * workers + stop
    return 0.01


# --- 1 · per-task overhead ---------------------------------------------------------------------------

# Rough per-task and per-compute costs for the estimate shown before a run (a 2-core machine, loaded).
_PER_TASK_PRIOR_S = {"sync": 4e-5, "threads": 1e-4, "processes": 3e-4, "cluster-threads": 2.5e-3,
                     "cluster-processes": 3e-3}
_LIST_EXTRA_S = 2e-4  # merging one more one-task graph in dask.compute(*list)
_FIXED_PRIOR_S = {"sync": 2e-3, "threads": 3e-3, "processes": 5e-3, "cluster-threads": 2e-2,
                  "cluster-processes": 3e-2}


@dataclass(frozen=True)
class PerTaskSpec:
    """How to measure the per-task overhead.

    Parameters
    ----------
    engines : tuple of {"sync", "threads", "processes", "cluster-threads", "cluster-processes"}
        Engines to measure, in this order.
    tasks : int
        N, the no-op tasks of the big graph (10 to 20 000).
    workers : int
        Threads, processes or cluster workers (1 thread each); sync always has one thread.
    repeats : int
        Measured (one-task, N-task) pairs per engine; the median is reported with the spread.
    chunksize : int
        Tasks per submission on ``processes`` (Dask's default is 6). The pool is started once and
        reused here: its start-up is the start-up measurement's subject, not this one's.
    graph : {"single", "list"}
        How the N tasks reach ``compute`` (:func:`noop_graph`).
    """

    engines: tuple[str, ...] = OVERHEAD_ENGINES
    tasks: int = 1000
    workers: int = 2
    repeats: int = 3
    chunksize: int = DASK_DEFAULT_CHUNKSIZE
    graph: GraphForm = "single"

    def __post_init__(self) -> None:
        object.__setattr__(self, "engines", _names("engines", self.engines, OVERHEAD_ENGINES))
        for name in ("tasks", "workers", "repeats", "chunksize"):
            _check_int(name, getattr(self, name))
        if self.graph not in GRAPH_FORMS:
            raise ValueError(f"graph must be one of {', '.join(GRAPH_FORMS)} (got {short_repr(self.graph)})")

    @property
    def label(self) -> str:
        return f"overhead: {self.tasks} no-op tasks on {len(self.engines)} engine(s)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "engines": list(self.engines)}


def _per_task_prior_s(spec: PerTaskSpec, engine: str) -> float:
    per_task = _PER_TASK_PRIOR_S[engine] * (2 if engine == "processes" and spec.chunksize == 1 else 1)
    return per_task + (_LIST_EXTRA_S if spec.graph == "list" else 0.0)


def per_task_cost(spec: PerTaskSpec) -> Cost:
    """Rough cost of :func:`measure_per_task` (clusters counted as not yet running)."""
    total = 0.0
    computes = 2 + 2 * spec.repeats
    for e in spec.engines:
        tasks = _WARMUP_TASKS + 1 + spec.repeats * (spec.tasks + 1)
        total += tasks * _per_task_prior_s(spec, e) + computes * _FIXED_PRIOR_S[e] + _start_prior_s(e, spec.workers)
    longest = max((spec.tasks * _per_task_prior_s(spec, e) for e in spec.engines if not e.startswith("cluster")),
                  default=0.0)
    return Cost(seconds=total, memory_bytes=max(_worker_bytes(e, spec.workers) for e in spec.engines),
                longest_uncancellable_s=longest, what="this per-task measurement", advice=_ADVICE)


@dataclass(frozen=True)
class PerTaskResult:
    """What :func:`measure_per_task` measured.

    Attributes
    ----------
    runs : DataFrame
        One row per engine per repeat: ``engine``, ``scheduler``, ``repeat``, ``tasks``, ``fixed_s``
        (that repeat's one-task compute), ``compute_s`` (the N-task compute) and ``per_task_us``
        = (``compute_s`` − the engine's median ``fixed_s``) ÷ (N − 1), in microseconds.
    summary : DataFrame
        One row per engine: median ``per_task_us`` with ``per_task_min_us`` / ``per_task_max_us``,
        median ``fixed_s`` and ``compute_s``, ``setup_s`` (a cluster or pool started for this run;
        0 when reused), ``detail`` and ``repeats``.
    references : DataFrame
        Dask's quoted figures (:func:`references_frame`).
    """

    spec: PerTaskSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    runs: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    references: pd.DataFrame = field(repr=False)

    def per_task_us(self, scheduler: str) -> float:
        """Median per-task overhead of ``scheduler`` in µs."""
        row = self.summary.loc[self.summary["scheduler"] == scheduler]
        if row.empty:
            raise KeyError(f"{scheduler} was not measured (measured: {', '.join(self.summary['scheduler'])})")
        return float(row["per_task_us"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "per_task", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "summary": records(self.summary), "runs": records(self.runs),
                "references": records(self.references)}

    def to_json(self, indent: int | None = None) -> str:
        return strict_json(self.to_dict(), indent)

    def quoted(self, scheduler: str) -> list[float]:
        """Dask's quoted per-task figures for ``scheduler`` (µs)."""
        refs = self.references
        return [float(v) for v in refs.loc[refs["scheduler"] == scheduler, "per_task_us"].dropna()]

    def metrics(self) -> list[tuple[str, str, str, str]]:
        out = []
        for row in self.summary.itertuples():
            quoted = self.quoted(row.scheduler)
            docs = ("Dask's docs: " + " / ".join(fmt_duration(q / 1e6) for q in quoted)) if quoted \
                else "no figure in Dask's docs"
            out.append((row.scheduler, fmt_duration(row.per_task_us / 1e6),
                        f"per task · {docs} · fixed {fmt_duration(row.fixed_s)} per compute",
                        f"{row.engine}: median overhead per task over {row.repeats} repeat(s); fastest"
                        f" {fmt_duration(row.per_task_min_us / 1e6)}, slowest"
                        f" {fmt_duration(row.per_task_max_us / 1e6)}. {row.detail}."))
        return out

    def explain(self) -> list[str]:
        s = self.summary
        fastest, slowest = s.loc[s["per_task_us"].idxmin()], s.loc[s["per_task_us"].idxmax()]
        out = [
            f"One more task costs **{fmt_duration(fastest.per_task_us / 1e6)}** on {fastest.engine} and"
            f" **{fmt_duration(slowest.per_task_us / 1e6)}** on {slowest.engine}"
            f" ({slowest.per_task_us / max(fastest.per_task_us, 1e-9):.0f}× more).",
            "To keep overhead under 1 %, a task should run at least 100× its overhead: here ≥ "
            + ", ".join(f"{fmt_duration(r.per_task_us / 1e4)} on {r.engine}" for r in s.itertuples()) + ".",
        ]
        dist = s[s["scheduler"].str.startswith("cluster")]
        if not dist.empty:
            out.append(
                "A LocalCluster pays for what makes it scale beyond one machine: every task is a message to a"
                " scheduler, a decision, a message to a worker and a result sent back — "
                f"{fmt_duration(float(dist['per_task_us'].median()) / 1e6)} per task here, against Dask's quoted ~1 ms."
            )
        if self.spec.graph == "list":
            out.append("With a *list of delayed*, `dask.compute` first merges and optimises N one-task graphs — on the"
                       " local schedulers that costs more than running the tasks. Switch to *one graph* to compare.")
        shown = self.references[self.references["scheduler"].isin(s["scheduler"])].drop_duplicates("claim")
        if not shown.empty:
            out.append("Dask's figures: " + "; ".join(f"[{r.claim}]({r.url}) ({r.source})" for r in shown.itertuples())
                       + ".")
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Per-task overhead", per_task_overhead_chart(self.summary, self.runs, self.references))]

    def captions(self) -> dict[str, str]:
        return {"Per-task overhead": "Bars: median overhead per task (log scale: each gridline is 10×); whiskers:"
                                     " fastest and slowest repeat; dots: each repeat. Black diamonds: the figures"
                                     " Dask's documentation quotes."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"summary": self.summary, "runs": self.runs, "references": self.references}

    def text(self) -> str:
        head = _head(self.spec.tasks, self.spec.graph, self.spec.workers, self.spec.repeats, self.machine.to_dict())
        return "\n".join([*head, "", *_per_task_lines(records(self.summary), records(self.references))])


def _timed_compute(engine: Any, graph: list[Any], tasks: int, form: GraphForm) -> float:
    """Seconds of one ``compute`` of ``graph`` on ``engine`` (its per-compute start-up excluded)."""
    from core.engines import EngineError

    with engine.repeat() as compute:
        t0 = time.perf_counter()
        out = compute(graph)
        elapsed = time.perf_counter() - t0
    if not _ran(out, tasks, form):
        raise EngineError(f"the no-op graph of {tasks} task(s) returned {str(out)[:80]}: not every task ran")
    return elapsed


def _detail(scheduler: str, spec: PerTaskSpec) -> str:
    if scheduler == "sync":
        return "one thread, the caller's"
    if scheduler == "threads":
        return f"{spec.workers} threads, pool reused"
    if scheduler == "processes":
        return f"{spec.workers} processes, one pool reused, chunksize {spec.chunksize}"
    return f"{spec.workers} worker(s) × 1 thread, cluster reused"


def measure_per_task(
    spec: PerTaskSpec,
    *,
    clusters: Any = None,
    progress: Progress | None = None,
) -> PerTaskResult:
    """Measure each engine's overhead per task with graphs of no-op tasks.

    For every repeat the engine computes a one-task graph (its fixed cost per ``compute``) and an
    N-task graph; ``per_task_us`` = (N-task time − median one-task time) ÷ (N − 1). One warm-up of
    each size runs first and is not timed (imports, first-touch memory, the workers' first task).

    Parameters
    ----------
    spec : PerTaskSpec
        Engines, N, workers, repeats, processes' chunksize and the graph form.
    clusters : ClusterSource, optional
        Where cluster engines find their LocalCluster (the app passes its cached clusters; the CLI a
        :class:`core.engines.ClusterRegistry`). Defaults to the process-wide registry.
    progress : callable, optional
        ``progress(message, fraction)`` before each engine and at the end.

    Returns
    -------
    PerTaskResult

    Raises
    ------
    EngineError
        If an engine cannot start, or a graph did not run every task.
    """
    from core.engines import make_engine

    notify = progress or _quiet
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
    runs: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for k, scheduler in enumerate(spec.engines):
        notify(f"{SCHEDULER_LABELS[scheduler]}: {spec.repeats} × ({spec.tasks} no-ops + 1)", k / len(spec.engines))
        engine = make_engine(_engine_spec(scheduler, spec.workers, chunksize=spec.chunksize, reuse_pool=True),
                             clusters)
        fixed: list[float] = []
        full: list[float] = []
        with ExitStack() as stack:
            stack.callback(engine.close)
            setup_s = engine.setup()
            warm = min(spec.tasks, _WARMUP_TASKS)
            _timed_compute(engine, noop_graph(warm, spec.graph), warm, spec.graph)
            _timed_compute(engine, noop_graph(1, spec.graph), 1, spec.graph)
            for _ in range(spec.repeats):
                fixed.append(_timed_compute(engine, noop_graph(1, spec.graph), 1, spec.graph))
                full.append(_timed_compute(engine, noop_graph(spec.tasks, spec.graph), spec.tasks, spec.graph))
        fixed_s = statistics.median(fixed)
        per_task = [(t - fixed_s) / (spec.tasks - 1) * 1e6 for t in full]
        common = {"engine": SCHEDULER_LABELS[scheduler], "scheduler": scheduler, "tasks": spec.tasks}
        runs.extend({**common, "repeat": r, "fixed_s": fixed[r], "compute_s": full[r], "per_task_us": per_task[r]}
                    for r in range(spec.repeats))
        summary.append({**common, "per_task_us": statistics.median(per_task), "per_task_min_us": min(per_task),
                        "per_task_max_us": max(per_task), "fixed_s": fixed_s,
                        "compute_s": statistics.median(full), "setup_s": setup_s,
                        "detail": _detail(scheduler, spec), "repeats": spec.repeats})
    notify("Done", 1.0)
    return PerTaskResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                         runs=pd.DataFrame(runs), summary=pd.DataFrame(summary), references=references_frame())


# --- 2 · start-up --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartupSpec:
    """How to measure start-up.

    Parameters
    ----------
    cases : tuple of {"sync", "threads", "processes", "processes-reused", "cluster-threads", "cluster-processes"}
        ``processes`` starts a new spawn pool for a compute, as Dask's processes scheduler does on
        every compute; ``processes-reused`` starts one pool and then reuses it.
    workers : int
        Threads, processes or cluster workers.
    repeats : int
        Independent starts of each case (each one from nothing, closed afterwards).
    """

    cases: tuple[str, ...] = STARTUP_CASES
    workers: int = 2
    repeats: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "cases", _names("cases", self.cases, STARTUP_CASES))
        _check_int("workers", self.workers)
        _check_int("repeats", self.repeats)

    @property
    def label(self) -> str:
        return f"overhead: start-up of {len(self.cases)} engine(s)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cases": list(self.cases)}


def startup_cost(spec: StartupSpec) -> Cost:
    """Rough cost of :func:`measure_startup`: every case started from nothing ``repeats`` times."""
    priors = [_start_prior_s(STARTUP_SCHEDULER[c], spec.workers) + 0.01 for c in spec.cases]
    return Cost(seconds=spec.repeats * sum(priors),
                memory_bytes=max(_worker_bytes(STARTUP_SCHEDULER[c], spec.workers) for c in spec.cases),
                longest_uncancellable_s=max(priors), what="this start-up measurement", advice=_ADVICE)


@dataclass(frozen=True)
class StartupResult:
    """What :func:`measure_startup` measured.

    Attributes
    ----------
    runs : DataFrame
        One row per case per repeat: ``case``, ``label``, ``engine``, ``scheduler``, ``repeat``,
        ``startup_s`` (from nothing to ready to run tasks: for a LocalCluster, until its Client sees
        every worker), ``per_compute_s`` (start-up each later compute pays: the whole pool start again
        for ``processes``, next to nothing once a pool or cluster is up) and ``teardown_s``.
    summary : DataFrame
        One row per case: medians of those, ``startup_min_s`` / ``startup_max_s``, ``paid``
        ("every compute" or "once") and ``repeats``.
    """

    spec: StartupSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    runs: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)

    def row(self, case: str) -> pd.Series:
        """The summary row of ``case``; ``KeyError`` if it was not measured."""
        found = self.summary.loc[self.summary["case"] == case]
        if found.empty:
            raise KeyError(f"{case} was not measured (measured: {', '.join(self.summary['case'])})")
        return found.iloc[0]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "startup", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "summary": records(self.summary), "runs": records(self.runs),
                "references": records(references_frame().dropna(subset=["startup_s"]))}

    def to_json(self, indent: int | None = None) -> str:
        return strict_json(self.to_dict(), indent)

    def explain(self) -> list[str]:
        cases = set(self.summary["case"])
        cores = self.machine.usable_cores
        out = []
        if "processes" in cases:
            fresh = self.row("processes")
            out.append(
                f"**A new process pool took {fmt_duration(fresh.startup_s)}** to start ({fresh.workers} workers;"
                f" fastest {fmt_duration(fresh.startup_min_s)}, slowest {fmt_duration(fresh.startup_max_s)}) and"
                f" {fmt_duration(fresh.teardown_s)} to shut down. *Spawn* starts each worker as a brand-new Python:"
                " exec the interpreter, import the standard library, Dask's worker set-up and the task module — and on"
                f" {cores} shared cores those imports queue behind each other. Dask's `processes` scheduler does this"
                " on **every** `compute`, so a 50 ms computation can take a second."
            )
        if "processes-reused" in cases:
            reused = self.row("processes-reused")
            out.append(
                f"A reused pool pays its start ({fmt_duration(reused.startup_s)}) once; every later compute then pays"
                f" {fmt_duration(reused.per_compute_s)}. Pass your own pool (`dask.compute(..., pool=my_pool)`) or"
                " keep a LocalCluster running to get this."
            )
        if "threads" in cases:
            out.append(f"A thread pool took {fmt_duration(self.row('threads').startup_s)} (Dask's docs: about 10 µs):"
                       " threads share the interpreter that is already running.")
        for case in ("cluster-threads", "cluster-processes"):
            if case in cases:
                row = self.row(case)
                out.append(f"{STARTUP_LABELS[case]}: {fmt_duration(row.startup_s)} until the Client saw all"
                           f" {row.workers} worker(s), {fmt_duration(row.teardown_s)} to close.")
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Start-up", startup_chart(self.summary))]

    def captions(self) -> dict[str, str]:
        return {"Start-up": "Solid: from nothing until ready. Pale: what every later compute pays again. Labels give"
                            " the medians (microseconds are too thin to draw); hover for the fastest and slowest"
                            " start."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"summary": self.summary, "starts": self.runs}

    def text(self) -> str:
        return "\n".join([f"start-up: {len(self.spec.cases)} engine(s), {self.spec.workers} workers,"
                          f" {self.spec.repeats} start(s) each", machine_line(self.machine), "",
                          *_startup_lines(records(self.summary))])


def _start_once(case: str, workers: int) -> dict[str, float]:
    """Start ``case``'s engine from nothing, run one no-op, time a second compute's start, close it all."""
    from core.engines import ClusterRegistry, EngineError, make_engine

    scheduler = STARTUP_SCHEDULER[case]
    spec = _engine_spec(scheduler, workers, chunksize=1, reuse_pool=case == "processes-reused")
    with ExitStack() as stack:
        # A private registry: a start-up measurement needs a cluster started now, never the app's
        # running one; closing the registry (timed below) shuts that cluster down.
        registry = stack.enter_context(ClusterRegistry())
        t0 = time.perf_counter()
        engine = make_engine(spec, registry)
        stack.callback(engine.close)
        engine.setup()
        with engine.repeat() as compute:
            t_ready = time.perf_counter()
            if not _ran(compute(noop_graph(1)), 1, "single"):
                raise EngineError(f"{case}: the first no-op did not run")
            t_done = time.perf_counter()
        t_left = time.perf_counter()
        if case == "processes":
            # Dask starts a new pool on every compute, so every compute pays this same start again;
            # starting a second pool here would only double the wait.
            per_compute = t_ready - t0
            teardown_repeat = t_left - t_done
        else:
            with engine.repeat() as compute:
                per_compute = time.perf_counter() - t_left
                compute(noop_graph(1))
            teardown_repeat = 0.0
        t_close = time.perf_counter()
        engine.close()
        registry.close()
        teardown = teardown_repeat + time.perf_counter() - t_close
    return {"startup_s": t_ready - t0, "per_compute_s": per_compute, "teardown_s": teardown}


def measure_startup(spec: StartupSpec, *, progress: Progress | None = None) -> StartupResult:
    """Time how long each engine takes to be ready to run tasks, from nothing, and to shut down.

    Every repeat of every case starts its own pool or cluster and closes it (clusters through a
    private :class:`core.engines.ClusterRegistry`), so nothing already running is reused or stopped.
    The cases take turns (round-robin), so a burst of load hits every case, not one.

    Raises
    ------
    EngineError
        If a pool or cluster cannot start.
    """
    notify = progress or _quiet
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
    runs: list[dict[str, Any]] = []
    total = len(spec.cases) * spec.repeats
    for r in range(spec.repeats):
        for k, case in enumerate(spec.cases):
            notify(f"{STARTUP_LABELS[case]}: start {r + 1} of {spec.repeats}", (r * len(spec.cases) + k) / total)
            scheduler = STARTUP_SCHEDULER[case]
            runs.append({"case": case, "label": STARTUP_LABELS[case], "engine": SCHEDULER_LABELS[scheduler],
                         "scheduler": scheduler, "repeat": r, **_start_once(case, spec.workers)})
    frame = pd.DataFrame(runs)
    summary = []
    for case in spec.cases:
        rows = frame[frame["case"] == case]
        summary.append({
            "case": case, "label": STARTUP_LABELS[case], "engine": rows["engine"].iloc[0],
            "scheduler": rows["scheduler"].iloc[0],
            "paid": "every compute" if case == "processes" else "once",
            "startup_s": float(rows["startup_s"].median()), "startup_min_s": float(rows["startup_s"].min()),
            "startup_max_s": float(rows["startup_s"].max()), "per_compute_s": float(rows["per_compute_s"].median()),
            "teardown_s": float(rows["teardown_s"].median()), "workers": 1 if case == "sync" else spec.workers,
            "repeats": spec.repeats,
        })
    notify("Done", 1.0)
    return StartupResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                         runs=frame, summary=pd.DataFrame(summary))


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
        _check_int("n", self.n, (int(wl.min_size), int(wl.max_size)))
        _check_int("tasks", self.tasks, LIMITS["fib_tasks"])
        _check_int("workers", self.workers)
        _check_int("repeats", self.repeats)
        sizes = tuple(self.chunksizes) if not isinstance(self.chunksizes, int) else (self.chunksizes,)
        if not 1 <= len(sizes) <= 4 or len(set(sizes)) != len(sizes):
            raise ValueError(f"chunksizes must be 1 to 4 distinct integers (got {short_repr(self.chunksizes)})")
        for c in sizes:
            _check_int("chunksizes", c, LIMITS["chunksize"])
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
                       what="this chunksize comparison", advice=_ADVICE)


@dataclass(frozen=True)
class ChunksizeResult:
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

    def to_json(self, indent: int | None = None) -> str:
        return strict_json(self.to_dict(), indent)

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
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
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


# --- 4 · break-even task size ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakEvenSpec:
    """A sweep of fib ``n``: ``tasks`` × fib(n) on sync and on each process engine, at every n.

    ``processes`` starts a new pool for every compute (Dask's default) with chunksize 1;
    cluster engines use a running LocalCluster (its one-time start is reported, not timed in).
    """

    sizes: tuple[int, ...] = (18, 21, 24, 27, 30)
    tasks: int = 4
    workers: int = 2
    repeats: int = 2
    engines: tuple[str, ...] = ("processes", "cluster-processes")

    def __post_init__(self) -> None:
        wl = WORKLOADS["fib"]
        low, high = int(wl.min_size), int(wl.max_size)
        sizes = (self.sizes,) if isinstance(self.sizes, int) else tuple(self.sizes)
        count_low, count_high = LIMITS["sizes"]
        if not count_low <= len(sizes) <= count_high or len(set(sizes)) != len(sizes):
            raise ValueError(
                f"sizes must be {count_low} to {count_high} distinct fib n values (got {short_repr(sizes)})"
            )
        for n in sizes:
            _check_int("sizes", n, (low, high))
        object.__setattr__(self, "sizes", tuple(sorted(sizes)))
        _check_int("tasks", self.tasks, LIMITS["fib_tasks"])
        _check_int("workers", self.workers)
        _check_int("repeats", self.repeats)
        object.__setattr__(self, "engines", _names("engines", self.engines, PARALLEL_ENGINES))

    def experiment(self, scheduler: str, n: int) -> ExperimentSpec:
        """The run of ``scheduler`` at fib ``n`` (sync with one worker, processes with a new pool)."""
        return ExperimentSpec(workload="fib", size=n, tasks=self.tasks, scheduler=scheduler,  # type: ignore[arg-type]
                              workers=1 if scheduler == "sync" else self.workers, repeats=self.repeats, warmup=1)

    def experiments(self) -> list[ExperimentSpec]:
        """Every point of the sweep: sync and every engine at every n."""
        return [self.experiment(s, n) for n in self.sizes for s in ("sync", *self.engines)]

    @property
    def label(self) -> str:
        return f"overhead: break-even sweep fib {self.sizes[0]}..{self.sizes[-1]}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sizes": list(self.sizes), "engines": list(self.engines)}


def sweep_sizes(start: int, stop: int, step: int) -> tuple[int, ...]:
    """``range(start, stop + 1, step)`` as a tuple, always ending at ``stop`` (the sweep's largest n)."""
    if step < 1 or stop < start:
        raise ValueError(f"the sweep needs start ≤ stop and step ≥ 1 (got {start}..{stop} step {step})")
    sizes = list(range(start, stop + 1, step))
    if sizes[-1] != stop:
        sizes.append(stop)
    return tuple(sizes)


def break_even_cost(spec: BreakEvenSpec) -> Cost:
    """Rough cost of the sweep: every (n, engine) a point of interleaved rounds, each cluster started once."""
    return points_cost(spec.experiments(), spec.repeats, what="this break-even sweep", advice=_ADVICE)


@dataclass(frozen=True)
class BreakEvenResult:
    """What :func:`measure_break_even` measured.

    Attributes
    ----------
    runs : DataFrame
        One row per engine, n and repeat: ``engine``, ``scheduler``, ``n``, ``repeat``, ``wall_s``,
        ``startup_s``, ``compute_s``, ``teardown_s``.
    summary : DataFrame
        One row per engine and n: median ``wall_s`` (min/max), ``sync_wall_s`` and ``speedup``
        (sync ÷ engine) and ``faster`` (median wall below sync's).
    crossings : DataFrame
        One row per parallel engine: ``break_even_n`` (the first n from which its median wall stays
        below sync's for the rest of the sweep, or null: "not within range"), ``first_faster_n``,
        ``extrapolated_n`` (when not within range: where the measured overhead and fib's growth say it
        would cross; an extrapolation, not a measurement), ``overhead_s`` and ``setup_s``.
    rounds : DataFrame
        When each (n, engine) point ran in each round (:class:`core.kinds.points.Points`).
    noise : Noise
        Other programs' CPU while it measured.
    """

    spec: BreakEvenSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    runs: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    crossings: pd.DataFrame = field(repr=False)
    rounds: pd.DataFrame = field(repr=False)
    noise: Noise

    def break_even_n(self, scheduler: str) -> int | None:
        """The measured break-even n of ``scheduler``, or None: not within the sweep's range."""
        row = self.crossings.loc[self.crossings["scheduler"] == scheduler]
        if row.empty:
            raise KeyError(f"{scheduler} was not in the sweep")
        value = row["break_even_n"].iloc[0]
        return None if pd.isna(value) else int(value)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "break_even", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "crossings": records(self.crossings), "summary": records(self.summary),
                "runs": records(self.runs)}

    def to_json(self, indent: int | None = None) -> str:
        return strict_json(self.to_dict(), indent)

    def metrics(self) -> list[tuple[str, str, str, str]]:
        out = []
        for row in self.crossings.itertuples():
            notes = []
            if pd.notna(row.extrapolated_n):
                notes.append(f"extrapolated: about n = {int(row.extrapolated_n)} (a model, not a measurement)")
            if pd.notna(row.overhead_s):
                notes.append(f"overhead at n = {self.spec.sizes[-1]}: {fmt_duration(row.overhead_s)} more than a"
                             f" perfect split over {row.lanes} lane(s)")
            value = f"wins from n = {int(row.break_even_n)}" if pd.notna(row.break_even_n) else "not within range"
            out.append((row.engine, value, " · ".join(notes), f"Slower than sync at every n in {row.sizes}."
                        if pd.isna(row.break_even_n) else "The first n from which it stays faster than sync."))
        return out

    def explain(self) -> list[str]:
        sync_rows = self.summary[self.summary["scheduler"] == "sync"].set_index("n")["wall_s"]
        last = self.spec.sizes[-1]
        task_s = float(sync_rows[last]) / self.spec.tasks
        out = [f"At n = {last} one fib task takes about {fmt_duration(task_s)} here (sync ÷ {self.spec.tasks} tasks)."]
        for row in self.crossings.itertuples():
            if pd.notna(row.break_even_n):
                out.append(f"{row.engine} beats sync from n = {int(row.break_even_n)}: from there on, splitting the"
                           f" work over {row.lanes} core(s) saves more than its overhead costs.")
            elif row.lanes <= 1:
                out.append(f"{row.engine} has one lane for pure-Python fib (one GIL, or one core): it cannot win.")
            else:
                guess = f" — about n = {int(row.extrapolated_n)} by extrapolation" if pd.notna(row.extrapolated_n) \
                    else ""
                out.append(f"{row.engine} did not beat sync up to n = {last}{guess}. At n = {last} it took"
                           f" {fmt_duration(row.overhead_s)} more than sync's time split perfectly over {row.lanes}"
                           " cores: that overhead has to be earned back by the split before it wins.")
        if "processes" in self.spec.engines:
            out.append("Rule of thumb: a fresh process pool pays off only when one compute holds more parallel work"
                       " than the pool's start-up (section 2). Keep a pool or a LocalCluster running and only the"
                       " per-compute and per-task costs (section 1) remain to be earned back.")
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Break-even", break_even_chart(self.summary, self.crossings))]

    def captions(self) -> dict[str, str]:
        return {"Break-even": "Median wall time per compute (log scale: equal steps are equal ratios); vertical bars:"
                              " fastest to slowest round. Dashed lines: the measured break-even n. Every n and engine"
                              " ran once in every round."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"crossings": self.crossings, "summary": self.summary, "runs": self.runs, "rounds": self.rounds}

    def text(self) -> str:
        return "\n".join([machine_line(self.machine), *_break_even_lines(self.to_dict())])


def _lanes(spec: BreakEvenSpec, scheduler: str) -> int:
    """fib tasks that can really run at once: one per process (workers, capped by cores and tasks).

    Threads of one process share its GIL, so for pure-Python fib they are one lane however many.
    """
    if scheduler in ("threads", "cluster-threads"):
        return 1
    return max(1, min(spec.workers, machine_info().usable_cores, spec.tasks))


def extrapolate_break_even(
    sizes: Iterable[int], sync_wall_s: float, engine_wall_s: float, lanes: int, limit: int = 60
) -> tuple[int | None, float]:
    """Where an engine that loses at the sweep's largest n would start to win, and its fixed overhead.

    Model: sync's wall grows with fib's call count; the engine's wall = overhead + sync's ÷ ``lanes``.
    The overhead is read from the largest measured n. Returns ``(n or None, overhead_s)``; None when
    the engine cannot win (one lane: no parallelism to pay for its overhead).
    """
    n_last = max(sizes)
    overhead = engine_wall_s - sync_wall_s / lanes
    if lanes <= 1:
        return None, overhead
    for n in range(n_last + 1, limit + 1):
        sync_n = sync_wall_s * _fib_calls(n) / _fib_calls(n_last)
        if overhead + sync_n / lanes < sync_n:
            return n, overhead
    return None, overhead


def measure_break_even(
    spec: BreakEvenSpec,
    *,
    clusters: Any = None,
    progress: Progress | None = None,
    ctx: RunContext | None = None,
) -> BreakEvenResult:
    """Sweep fib n on sync and each parallel engine; find where each starts to beat sync.

    Every (n, engine) is a point of the same interleaved rounds (:mod:`core.kinds.points`): each round
    runs all of them once, in a rotated order, so a burst of load on the shared machine hits every
    engine and every n alike, and a crossing cannot come from the machine changing half-way.

    Parameters
    ----------
    spec : BreakEvenSpec
    clusters : ClusterSource, optional
        Where cluster engines find their running LocalCluster (see :func:`core.measure.run.run_experiment`).
    progress : callable, optional
        ``progress(message, fraction)`` during the rounds.
    ctx : RunContext, optional
        The run's context (overrides ``clusters`` and ``progress``).
    """
    ctx = ctx or RunContext(clusters=clusters, **({"progress": progress} if progress else {}))
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
    experiments = spec.experiments()
    points: Points = measure_points(experiments, spec.repeats, ctx,
                                    labels=[f"{SCHEDULER_LABELS[e.scheduler]} · n = {int(e.size)}"
                                            for e in experiments])
    rows = []
    setup: dict[str, float] = {}
    for r in points.results:
        setup[r.spec.scheduler] = setup.get(r.spec.scheduler, 0.0) + r.setup_s
        frame = r.runs[["repeat", "wall_s", "startup_s", "compute_s", "teardown_s"]].assign(
            engine=SCHEDULER_LABELS[r.spec.scheduler], scheduler=r.spec.scheduler, n=int(r.spec.size))
        rows.append(frame)
    runs = pd.concat(rows, ignore_index=True)[["engine", "scheduler", "n", "repeat", "wall_s", "startup_s",
                                               "compute_s", "teardown_s"]]
    summary = (runs.groupby(["engine", "scheduler", "n"], sort=False)
               .agg(wall_s=("wall_s", "median"), wall_min_s=("wall_s", "min"), wall_max_s=("wall_s", "max"),
                    startup_s=("startup_s", "median"), compute_s=("compute_s", "median"))
               .reset_index())
    sync = summary[summary["scheduler"] == "sync"].set_index("n")["wall_s"]
    summary["sync_wall_s"] = summary["n"].map(sync)
    summary["speedup"] = summary["sync_wall_s"] / summary["wall_s"]
    summary["faster"] = summary["wall_s"] < summary["sync_wall_s"]
    crossings = []
    for scheduler in spec.engines:
        mine = summary[summary["scheduler"] == scheduler].sort_values("n")
        faster = mine["faster"].tolist()
        ns = mine["n"].tolist()
        first = next((n for n, f in zip(ns, faster, strict=True) if f), None)
        # The first n from which it stays faster: one noisy win below the real crossing is not it.
        stays = next((ns[i] for i in range(len(ns)) if all(faster[i:])), None)
        lanes = _lanes(spec, scheduler)
        extrapolated, overhead = extrapolate_break_even(spec.sizes, float(sync[ns[-1]]),
                                                        float(mine["wall_s"].iloc[-1]), lanes)
        if stays is not None:
            extrapolated = None  # measured: no need to guess
        crossings.append({"engine": SCHEDULER_LABELS[scheduler], "scheduler": scheduler, "break_even_n": stays,
                          "first_faster_n": first, "extrapolated_n": extrapolated,
                          "overhead_s": _finite(overhead), "lanes": lanes, "setup_s": setup.get(scheduler, 0.0),
                          "sizes": f"{spec.sizes[0]}..{spec.sizes[-1]}"})
    crossings_frame = pd.DataFrame(crossings).astype({"break_even_n": "Int64", "first_faster_n": "Int64",
                                                      "extrapolated_n": "Int64"})
    return BreakEvenResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                           runs=runs, summary=summary, crossings=crossings_frame, rounds=points.rounds,
                           noise=points.noise)


# --- the CLI's set: per-task and start-up, with the break-even sweep on request ----------------------------


@dataclass(frozen=True)
class OverheadSpec:
    """What ``python -m core overhead`` measures: the per-task and start-up parts, and optionally break-even."""

    per_task: PerTaskSpec = field(default_factory=PerTaskSpec)
    startup: StartupSpec = field(default_factory=StartupSpec)
    break_even: BreakEvenSpec | None = None

    @property
    def label(self) -> str:
        return f"overhead anatomy ({self.per_task.tasks} no-op tasks{', break-even' if self.break_even else ''})"

    def parts(self) -> list[Any]:
        return [self.per_task, self.startup] + ([self.break_even] if self.break_even is not None else [])


@dataclass(frozen=True)
class OverheadResult:
    """The per-task and start-up results (and the break-even sweep's) of one ``overhead`` measurement."""

    spec: OverheadSpec
    per_task: PerTaskResult
    startup: StartupResult
    break_even: BreakEvenResult | None = None

    @property
    def machine(self) -> MachineInfo:
        return self.per_task.machine

    @property
    def run_id(self) -> str:
        return self.per_task.run_id

    @property
    def started_at(self) -> str:
        return self.per_task.started_at

    def parts(self) -> list[Any]:
        return [self.per_task, self.startup] + ([self.break_even] if self.break_even is not None else [])

    def to_dict(self) -> dict[str, Any]:
        """The ``overhead --json`` object (:func:`report`)."""
        return report(self.per_task, self.startup, self.break_even)

    def to_json(self, indent: int | None = None) -> str:
        return strict_json(self.to_dict(), indent)

    def metrics(self) -> list[tuple[str, str, str, str]]:
        return self.per_task.metrics()

    def explain(self) -> list[str]:
        return [s for part in self.parts() for s in part.explain()]

    def charts(self) -> list[tuple[str, Any]]:
        return [c for part in self.parts() for c in part.charts()]

    def captions(self) -> dict[str, str]:
        return {k: v for part in self.parts() for k, v in part.captions().items()}

    def frames(self) -> dict[str, pd.DataFrame]:
        out = {f"per-task {k}": v for k, v in self.per_task.frames().items()}
        out.update({f"start-up {k}": v for k, v in self.startup.frames().items()})
        if self.break_even is not None:
            out.update({f"break-even {k}": v for k, v in self.break_even.frames().items()})
        return out

    def text(self) -> str:
        return report_table(self.to_dict())


def report(per_task: PerTaskResult, startup: StartupResult, break_even: BreakEvenResult | None = None) -> dict:
    """One JSON-ready object for the CLI: ``per_task_us`` and ``startup_s`` by engine, spreads and details.

    ``per_task_us`` and ``startup_s`` map an engine (a start-up case for ``startup_s``) to its median;
    ``engines`` and ``startup`` hold the spread and every figure; ``docs`` Dask's quoted figures.
    """
    engines = records(per_task.summary)
    starts = records(startup.summary)
    out: dict[str, Any] = {
        "per_task_us": {row["scheduler"]: row["per_task_us"] for row in engines},
        "startup_s": {row["case"]: row["startup_s"] for row in starts},
        "per_compute_startup_s": {row["case"]: row["per_compute_s"] for row in starts},
        "tasks": per_task.spec.tasks,
        "workers": per_task.spec.workers,
        "repeats": per_task.spec.repeats,
        "graph": per_task.spec.graph,
        "chunksize": per_task.spec.chunksize,
        "engines": engines,
        "startup": starts,
        "docs": records(references_frame()),
        "machine": per_task.machine.to_dict(),
        "run_ids": {"per_task": per_task.run_id, "startup": startup.run_id},
    }
    if break_even is not None:
        out["break_even"] = break_even.to_dict()
        out["run_ids"]["break_even"] = break_even.run_id
    return out


def _head(tasks: int, graph: str, workers: int, repeats: int, m: dict[str, Any]) -> list[str]:
    return [
        f"Overhead anatomy: {tasks} no-op tasks ({GRAPH_FORM_LABELS[graph]}), {workers} workers, {repeats} repeat(s)",
        f"machine: {m['usable_cores']} usable of {m['logical_cores']} logical cores · Python {m['python_version']}"
        f" · dask {m['dask_version']} · distributed {m['distributed_version']}",
    ]


def _per_task_lines(engines: list[dict[str, Any]], docs_rows: list[dict[str, Any]]) -> list[str]:
    docs: dict[str, list[str]] = {}
    for ref in docs_rows:
        if ref.get("per_task_us") is not None:
            docs.setdefault(ref["scheduler"], []).append(_fmt_us(ref["per_task_us"]))
    lines = ["per-task overhead = (compute of N no-ops − compute of 1) ÷ (N − 1):"]
    width = max(len(row["engine"]) for row in engines)
    for row in engines:
        quoted = " / ".join(docs.get(row["scheduler"], [])) or "-"
        lines.append(f"  {row['engine']:<{width}}  {_fmt_us(row['per_task_us']):>9} per task"
                     f"  (min {_fmt_us(row['per_task_min_us'])}, max {_fmt_us(row['per_task_max_us'])})"
                     f"  fixed {fmt_duration(row['fixed_s'])} per compute  · Dask's docs: {quoted}")
    return lines


def _startup_lines(starts: list[dict[str, Any]]) -> list[str]:
    lines = ["start-up, from nothing until ready to run tasks (median):"]
    width = max(len(row["label"]) for row in starts)
    for row in starts:
        lines.append(f"  {row['label']:<{width}}  {fmt_duration(row['startup_s']):>9}"
                     f"  (min {fmt_duration(row['startup_min_s'])}, max {fmt_duration(row['startup_max_s'])})"
                     f"  · every later compute: {fmt_duration(row['per_compute_s'])}"
                     f"  · shutdown {fmt_duration(row['teardown_s'])}")
    return lines


def _break_even_lines(be: dict[str, Any]) -> list[str]:
    lines = [f"break-even: {be['spec']['tasks']} × fib(n), n = {', '.join(map(str, be['spec']['sizes']))}:"]
    for row in be["crossings"]:
        if row["break_even_n"] is not None:
            where = f"beats sync from n = {row['break_even_n']}"
        else:
            guess = row["extrapolated_n"]
            where = "not within range" + (f" (extrapolated: about n = {guess})" if guess is not None else "")
        lines.append(f"  {row['engine']}: {where}")
    return lines


def report_table(out: dict[str, Any]) -> str:
    """The CLI's plain-text view of :func:`report`."""
    lines = [*_head(out["tasks"], out["graph"], out["workers"], out["repeats"], out["machine"]), "",
             *_per_task_lines(out["engines"], out["docs"]), "", *_startup_lines(out["startup"])]
    if "break_even" in out:
        lines += ["", *_break_even_lines(out["break_even"])]
    return "\n".join(lines)


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"18:30:3"`` (start:stop:step, stop included) or ``"18,24,30"`` as a tuple of fib n."""
    try:
        if ":" in text:
            start, stop, step = (int(part) for part in text.split(":"))
            return sweep_sizes(start, stop, step)
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"--sizes must be START:STOP:STEP or a comma list of fib n, e.g. 18:30:3 (got {short_repr(text)})"
        ) from None


def startup_cases_for(scheduler: str) -> tuple[str, ...]:
    """The start-up cases of one engine (``processes`` has two: a pool per compute, and one reused)."""
    if scheduler == "all":
        return STARTUP_CASES
    return ("processes", "processes-reused") if scheduler == "processes" else (scheduler,)


def specs_from_args(args: Any) -> OverheadSpec:
    """The spec of ``python -m core overhead``'s arguments; ``ValueError`` names the bad one."""
    scheduler = args.scheduler
    engines = OVERHEAD_ENGINES if scheduler == "all" else (scheduler,)
    per_task = PerTaskSpec(engines=engines, tasks=args.tasks, workers=args.workers, repeats=args.repeats,
                           chunksize=args.chunksize, graph=args.graph)
    startup = StartupSpec(cases=startup_cases_for(scheduler), workers=args.workers, repeats=args.repeats)
    break_even = None
    if not args.break_even and (args.sizes is not None or args.fib_tasks is not None):
        # Silently ignoring them would start a different (and longer) measurement than the one asked for.
        raise ValueError("--sizes and --fib-tasks only apply with --break-even")
    if args.break_even:
        if scheduler == "sync":
            raise ValueError("--break-even compares a parallel engine with sync: pick another --scheduler (or all)")
        sweep = ("processes", "cluster-processes") if scheduler == "all" else (scheduler,)
        break_even = BreakEvenSpec(sizes=parse_sizes(args.sizes or "18:30:3"),
                                   tasks=4 if args.fib_tasks is None else args.fib_tasks, workers=args.workers,
                                   repeats=args.repeats, engines=sweep)
    return OverheadSpec(per_task=per_task, startup=startup, break_even=break_even)


# --- the kind ----------------------------------------------------------------------------------------------

_COSTS: dict[type, Callable[[Any], Cost]] = {PerTaskSpec: per_task_cost, StartupSpec: startup_cost,
                                            ChunksizeSpec: chunksize_cost, BreakEvenSpec: break_even_cost}


class OverheadKind:
    """``python -m core overhead``; on the page, each of its four parts on its own (one spec type per part)."""

    name: ClassVar[str] = "overhead"
    title: ClassVar[str] = "overhead measurement"
    spec_type: ClassVar[tuple[type, ...]] = (OverheadSpec, PerTaskSpec, StartupSpec, ChunksizeSpec, BreakEvenSpec)
    help: ClassVar[str] = "what parallelism costs here: per-task overhead and start-up by engine"

    def cost(self, spec: Any) -> Cost:
        if isinstance(spec, OverheadSpec):
            parts = [self.cost(p) for p in spec.parts()]
            return Cost(seconds=sum(p.seconds for p in parts), memory_bytes=max(p.memory_bytes for p in parts),
                        longest_uncancellable_s=max(p.longest_uncancellable_s for p in parts),
                        what="this measurement", advice=_ADVICE)
        return _COSTS[type(spec)](spec)

    def run(self, spec: Any, ctx: RunContext) -> Any:
        if isinstance(spec, OverheadSpec):
            break_even = self.run(spec.break_even, ctx) if spec.break_even is not None else None
            return OverheadResult(spec, self.run(spec.per_task, ctx), self.run(spec.startup, ctx), break_even)
        if isinstance(spec, PerTaskSpec):
            return measure_per_task(spec, clusters=ctx.clusters, progress=ctx.progress)
        if isinstance(spec, StartupSpec):
            return measure_startup(spec, progress=ctx.progress)
        if isinstance(spec, ChunksizeSpec):
            return measure_chunksize(spec, ctx=ctx)
        return measure_break_even(spec, ctx=ctx)

    def add_arguments(self, over: argparse.ArgumentParser) -> None:
        over.add_argument("--scheduler", default="all", choices=[*(s for s in SCHEDULERS if s != "external"), "all"],
                          help="the engine to measure, or all of them (default all)")
        over.add_argument("--workers", type=int, default=2, help="threads, processes or cluster workers (default 2)")
        over.add_argument("--tasks", type=int, default=1000, help="no-op tasks per graph, 10 to 20000 (default 1000)")
        over.add_argument("--repeats", type=int, default=3,
                          help="measured repeats; the median is reported (default 3)")
        over.add_argument("--chunksize", type=int, default=6,
                          help="processes: tasks per submission (default 6, Dask's)")
        over.add_argument("--graph", default="single", choices=["single", "list"],
                          help="single: one graph of N tasks; list: dask.compute(*N delayed) (default single)")
        over.add_argument("--break-even", action="store_true",
                          help="also sweep fib n to find where processes beat sync")
        over.add_argument("--sizes", help="with --break-even: fib n as START:STOP:STEP or a list (default 18:30:3)")
        over.add_argument("--fib-tasks", type=int, help="with --break-even: fib tasks per run (default 4)")

    def spec_from_args(self, args: argparse.Namespace) -> OverheadSpec:
        return specs_from_args(args)


KIND = OverheadKind()


# --- charts ------------------------------------------------------------------------------------------------

_PER_TASK_COLUMNS = ["engine", "per_task_us", "per_task_min_us", "per_task_max_us"]
_STARTUP_COLUMNS = ["case", "label", "engine", "startup_s", "startup_min_s", "startup_max_s", "per_compute_s"]
_BREAK_EVEN_COLUMNS = ["engine", "n", "wall_s", "wall_min_s", "wall_max_s"]
_STARTUP_MEASURES = ["to start, from nothing", "again on every later compute"]


def _log_ticks(domain: list[float]) -> list[float]:
    """The powers of ten within a log axis' ``domain``: one gridline per decade, not nine."""
    low, high = (round(math.log10(v)) for v in domain)
    return [10.0**k for k in range(low, high + 1)]


def _log_domain(values: Iterable[float]) -> list[float]:
    """Whole powers of ten around the positive ``values``, so log-scale bars have a floor to start from."""
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not positive:
        return [1.0, 10.0]
    low = 10 ** math.floor(math.log10(min(positive) / 1.5))
    high = 10 ** math.ceil(math.log10(max(positive) * 1.5))
    return [low, high if high > low else low * 10]


def per_task_overhead_chart(
    summary: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    references: pd.DataFrame | None = None,
    title: str | None = None,
) -> Any:
    """Overhead per task by engine on a log scale, next to the figures Dask's documentation quotes.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per engine (:attr:`PerTaskResult.summary`): ``engine``, ``per_task_us`` (median),
        ``per_task_min_us``, ``per_task_max_us``; ``fixed_s``, ``detail`` and ``repeats`` join the
        tooltip when present.
    runs : pandas.DataFrame, optional
        One row per engine per repeat with ``engine``, ``repeat`` and ``per_task_us``: drawn as dots.
    references : pandas.DataFrame, optional
        Quoted figures with ``engine``, ``per_task_us``, ``label`` (e.g. "docs: 50 µs") and, optionally,
        ``claim`` and ``source`` (:func:`references_frame`). Rows for engines not in ``summary``, or
        without a figure, are skipped.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Layers: ``bar`` (median µs per task, from the log axis' floor, coloured by engine), ``text``
        (the median, e.g. "39 µs", in white at the foot of the bar), ``errorbar`` (min..max over repeats), ``circle``
        (each repeat, with ``runs``), and with ``references`` a black diamond ``point`` per quoted figure and
        its ``text`` label. The y axis is logarithmic, labelled in µs and ms. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column, or a frame given lacks its columns.
    """
    import altair as alt

    from core.report.charts import _INK, _SECONDS, _engine_order, _engine_scale, _engine_x, _require

    _require(summary, _PER_TASK_COLUMNS, "per-task summary")
    order = _engine_order(summary)
    data = summary.copy()
    data["engine"] = data["engine"].astype(str)
    data["label"] = (data["per_task_us"] / 1e6).map(fmt_duration)
    refs = pd.DataFrame(columns=["engine", "per_task_us", "label"])
    if references is not None:
        _require(references, ["engine", "per_task_us", "label"], "references")
        refs = references[references["engine"].astype(str).isin(order) & references["per_task_us"].notna()].copy()
        refs["engine"] = refs["engine"].astype(str)
        for column in ("claim", "source"):
            if column not in refs:
                refs[column] = ""
    values = [*data["per_task_us"], *data["per_task_min_us"], *refs["per_task_us"]]
    domain = _log_domain(values)
    data["floor_us"] = domain[0]
    y_title = "Overhead per task (log scale)"
    y_scale = alt.Scale(type="log", domain=domain, nice=False)
    y_axis = alt.Axis(values=_log_ticks(domain), labelExpr=(
        "datum.value >= 1000 ? format(datum.value / 1000, '~g') + ' ms' : format(datum.value, '~g') + ' µs'"))
    x = _engine_x(order)
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("label:N", title="Per task (median)"),
               alt.Tooltip("per_task_min_us:Q", title="Fastest repeat (µs)", format=".3~r"),
               alt.Tooltip("per_task_max_us:Q", title="Slowest repeat (µs)", format=".3~r")]
    for column, label, fmt in (("fixed_s", "Fixed cost per compute (s)", _SECONDS), ("detail", "Engine", None),
                               ("repeats", "Repeats", None)):
        if column in data:
            tooltip.append(alt.Tooltip(f"{column}:{'Q' if fmt or column == 'repeats' else 'N'}", title=label,
                                       **({"format": fmt} if fmt else {})))
    base = alt.Chart(data)
    bars = base.mark_bar().encode(
        x=x,
        y=alt.Y("per_task_us:Q", title=y_title, scale=y_scale, axis=y_axis),
        y2="floor_us:Q",
        color=alt.Color("engine:N", scale=_engine_scale(order), legend=None),
        tooltip=tooltip,
    )
    # The median is written inside the bar, at its foot: the top is where whiskers and Dask's figures sit.
    labels = base.mark_text(baseline="bottom", dy=-6, fontWeight="bold", color="white").encode(
        x=x, y=alt.Y("floor_us:Q", title=y_title, scale=y_scale), text="label:N", tooltip=tooltip)
    spread = base.mark_errorbar(ticks=True, color=_INK, thickness=1.5).encode(
        x=x, y=alt.Y("per_task_min_us:Q", title=y_title, scale=y_scale), y2="per_task_max_us:Q", tooltip=tooltip)
    layers: list[Any] = [bars, spread, labels]
    if runs is not None:
        _require(runs, ["engine", "repeat", "per_task_us"], "per-task runs")
        dots = runs[["engine", "repeat", "per_task_us"]].assign(engine=runs["engine"].astype(str))
        layers.append(alt.Chart(dots).mark_circle(size=28, color=_INK, opacity=0.7).encode(
            x=x, y=alt.Y("per_task_us:Q", title=y_title, scale=y_scale),
            tooltip=[alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("repeat:Q", title="Repeat"),
                     alt.Tooltip("per_task_us:Q", title="Per task (µs)", format=".3~r")]))
    if not refs.empty:
        ref_tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("label:N", title="Dask's docs"),
                       alt.Tooltip("claim:N", title="They say"), alt.Tooltip("source:N", title="Where")]
        ref = alt.Chart(refs)
        y_ref = alt.Y("per_task_us:Q", title=y_title, scale=y_scale)
        text = {"align": "left", "baseline": "middle", "dx": 9, "fontStyle": "italic"}
        layers += [
            ref.mark_point(shape="diamond", filled=True, size=110, color=_INK, stroke="white", strokeWidth=1,
                           opacity=1).encode(x=x, y=y_ref, tooltip=ref_tooltip),
            ref.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round", opacity=0.85).encode(
                x=x, y=y_ref, text="label:N", tooltip=ref_tooltip),
            ref.mark_text(**text, color=_INK).encode(x=x, y=y_ref, text="label:N", tooltip=ref_tooltip),
        ]
    chart = alt.layer(*layers).properties(width="container", height=340)
    return chart.properties(title=title) if title else chart


def startup_chart(summary: pd.DataFrame, title: str | None = None) -> Any:
    """Start-up by engine: what it takes to start from nothing, and what every later compute pays again.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per case (:attr:`StartupResult.summary`): ``case``, ``label`` (the row name shown),
        ``engine`` (colour), ``startup_s`` (median) with ``startup_min_s`` / ``startup_max_s``, and
        ``per_compute_s``; ``paid`` and ``teardown_s`` join the tooltip.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Horizontal ``bar`` pairs per case (``yOffset`` by measure: solid "to start, from nothing",
        pale "again on every later compute"), coloured by engine, and a ``text`` label with the median
        in µs, ms or s at each bar's end (a microsecond bar is too thin to see); the fastest and slowest
        start are in the tooltip. Linear seconds on x. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column.
    """
    import altair as alt

    from core.report.charts import _INK, _engine_order, _engine_scale, _require

    _require(summary, _STARTUP_COLUMNS, "start-up summary")
    data = summary.copy()
    data["label"] = data["label"].astype(str)
    data["engine"] = data["engine"].astype(str)
    cases = list(dict.fromkeys(data["label"]))
    engines = _engine_order(data)
    extra = [c for c in ("paid", "teardown_s") if c in data]
    long = pd.concat([
        data[["case", "label", "engine", *extra]].assign(
            measure=_STARTUP_MEASURES[0], seconds=data["startup_s"], low_s=data["startup_min_s"],
            high_s=data["startup_max_s"]),
        data[["case", "label", "engine", *extra]].assign(
            measure=_STARTUP_MEASURES[1], seconds=data["per_compute_s"], low_s=data["per_compute_s"],
            high_s=data["per_compute_s"]),
    ], ignore_index=True)
    long["text"] = long["seconds"].map(fmt_duration)
    y = alt.Y("label:N", sort=cases, title=None, axis=alt.Axis(labelLimit=260))
    y_offset = alt.YOffset("measure:N", sort=_STARTUP_MEASURES, scale=alt.Scale(paddingInner=0.1))
    x = alt.X("seconds:Q", title="Seconds", scale=alt.Scale(domainMin=0))
    tooltip = [alt.Tooltip("label:N", title="Engine"), alt.Tooltip("measure:N", title="Measure"),
               alt.Tooltip("text:N", title="Median"),
               alt.Tooltip("low_s:Q", title="Fastest (s)", format=".3~g"),
               alt.Tooltip("high_s:Q", title="Slowest (s)", format=".3~g")]
    if "paid" in data:
        tooltip.append(alt.Tooltip("paid:N", title="Start-up is paid"))
    if "teardown_s" in data:
        tooltip.append(alt.Tooltip("teardown_s:Q", title="Shutdown (s)", format=".3~g"))
    base = alt.Chart(long)
    bars = base.mark_bar().encode(
        y=y, yOffset=y_offset, x=x,
        color=alt.Color("engine:N", scale=_engine_scale(engines), legend=None),
        opacity=alt.Opacity("measure:N", sort=_STARTUP_MEASURES, scale=alt.Scale(range=[1.0, 0.4]),
                            legend=alt.Legend(title=None, orient="bottom", labelLimit=320)),
        tooltip=tooltip,
    )
    # The spread is in the tooltip, not drawn: a whisker past the bar's label made the label look like the max.
    labels = base.mark_text(align="left", baseline="middle", dx=5, color=_INK, fontSize=11).encode(
        y=y, yOffset=y_offset, x=x, text="text:N", tooltip=tooltip)
    chart = alt.layer(bars, labels).properties(width="container", height=alt.Step(15))
    return chart.properties(title=title) if title else chart


def break_even_chart(summary: pd.DataFrame, crossings: pd.DataFrame | None = None, title: str | None = None) -> Any:
    """Wall time against task size (fib n) for sync and the parallel engines, with where each starts to win.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per engine and n (:attr:`BreakEvenResult.summary`): ``engine``, ``n``, ``wall_s``
        (median), ``wall_min_s``, ``wall_max_s``; ``speedup`` joins the tooltip.
    crossings : pandas.DataFrame, optional
        ``engine`` and ``break_even_n`` (null: not within range): a dashed vertical ``rule`` in the
        engine's colour marks each measured crossing, labelled "<engine> wins from n = N".
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        ``line`` + ``point`` per engine (median wall, log y), a ``rule`` from min to max per point, and
        the crossing rules and their ``text``. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column.
    """
    import altair as alt

    from core.report.charts import _engine_order, _engine_scale, _require

    _require(summary, _BREAK_EVEN_COLUMNS, "break-even summary")
    data = summary.copy()
    data["engine"] = data["engine"].astype(str)
    order = _engine_order(data)
    data["text"] = data["wall_s"].map(fmt_duration)
    domain = _log_domain([*data["wall_min_s"], *data["wall_max_s"]])
    y_title = "Median wall time (log scale)"
    y_scale = alt.Scale(type="log", domain=domain, nice=False)
    y_axis = alt.Axis(values=_log_ticks(domain), labelExpr=(
        "datum.value >= 1 ? format(datum.value, '~g') + ' s' : format(datum.value * 1000, '~g') + ' ms'"))
    n_values = sorted(int(n) for n in data["n"].unique())
    x = alt.X("n:Q", title="fib n of each task (work grows ~1.6× per step)",
              scale=alt.Scale(domain=[n_values[0] - 0.5, n_values[-1] + 0.5], nice=False, zero=False),
              axis=alt.Axis(values=n_values, format="d"))
    color = alt.Color("engine:N", scale=_engine_scale(order),
                      legend=alt.Legend(title=None, orient="bottom", labelLimit=320))
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("n:Q", title="fib n"),
               alt.Tooltip("text:N", title="Median wall"),
               alt.Tooltip("wall_min_s:Q", title="Fastest (s)", format=".3~g"),
               alt.Tooltip("wall_max_s:Q", title="Slowest (s)", format=".3~g")]
    if "speedup" in data:
        tooltip.append(alt.Tooltip("speedup:Q", title="Speed-up over sync (×)", format=".2~f"))
    base = alt.Chart(data)
    y = alt.Y("wall_s:Q", title=y_title, scale=y_scale, axis=y_axis)
    layers: list[Any] = [
        base.mark_line(strokeWidth=2).encode(x=x, y=y, color=color, detail="engine:N"),
        base.mark_rule(strokeWidth=1.5).encode(x=x, y=alt.Y("wall_min_s:Q", title=y_title, scale=y_scale),
                                               y2="wall_max_s:Q", color=color, tooltip=tooltip),
        base.mark_point(filled=True, size=60).encode(x=x, y=y, color=color, tooltip=tooltip),
    ]
    if crossings is not None:
        _require(crossings, ["engine", "break_even_n"], "crossings")
        marks = crossings.dropna(subset=["break_even_n"])[["engine", "break_even_n"]].copy()
        marks["engine"] = marks["engine"].astype(str)
        marks = marks[marks["engine"].isin(order)]
        if not marks.empty:
            marks["n"] = marks["break_even_n"].astype(float)
            marks["label"] = marks["engine"] + " wins from n = " + marks["break_even_n"].astype(int).astype(str)
            # Labels stack down from the top of the plot, one line each, so crossings at one n stay readable.
            marks["label_y"] = [domain[1] / 1.9 ** row for row in range(len(marks))]
            mark_tooltip = [alt.Tooltip("label:N", title="Break-even")]
            ref = alt.Chart(marks)
            text = {"align": "right", "baseline": "top", "dx": -4, "dy": 2, "fontWeight": "bold"}
            y_text = alt.Y("label_y:Q", title=y_title, scale=y_scale)
            layers += [
                ref.mark_rule(strokeDash=[6, 4], strokeWidth=2).encode(x=x, color=color, tooltip=mark_tooltip),
                ref.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round").encode(
                    x=x, y=y_text, text="label:N", tooltip=mark_tooltip),
                ref.mark_text(**text).encode(x=x, y=y_text, text="label:N", color=color, tooltip=mark_tooltip),
            ]
    chart = alt.layer(*layers).properties(width="container", height=340)
    return chart.properties(title=title) if title else chart
