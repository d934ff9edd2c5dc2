"""Overhead anatomy: what parallelism costs on this machine before any useful work is done.

Four measurements, each a frozen spec → a frozen result with tidy frames and the machine's metadata:

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

Every engine comes from :mod:`core.engines` (``make_engine`` for custom no-op graphs,
``run_experiment`` for fib runs), so the numbers describe the same engines the other pages use. Every
measurement holds :data:`core.serve.slot.RUN_SLOT` (two measurements at once on 2 cores would skew both),
and every pool and cluster started here is closed before the function returns.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, get_args

import pandas as pd
from dask.delayed import Delayed, delayed
from dask.highlevelgraph import HighLevelGraph

from core.engines import ClusterRegistry, ClusterSource, EngineError, make_engine
from core.measure.estimate import (
    CLUSTER_START_PER_WORKER_S,
    CLUSTER_START_S,
    POOL_START_PER_WORKER_S,
    POOL_START_S,
    POOL_STOP_S,
    BudgetError,
)
from core.measure.estimate import estimate as estimate_run
from core.measure.machine import MachineInfo, machine_info
from core.measure.results import ExperimentResult, combine
from core.measure.run import run_experiment
from core.measure.spec import SCHEDULER_LABELS, ExperimentSpec, check_int, short_repr
from core.report.explain import fmt_duration
from core.serve.slot import RUN_SLOT, SlotStatus
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


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Frame rows as JSON-ready dicts; pandas writes NaN as null, so the JSON stays strict."""
    return json.loads(frame.to_json(orient="records"))


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class _Waiter:
    notify: Progress

    def __call__(self, status: SlotStatus) -> None:
        self.notify(f"Waiting for another experiment to finish: {status.describe()}", 0.0)


def _quiet(message: str, fraction: float) -> None:
    pass


# --- graphs of no-ops --------------------------------------------------------------------------------


def noop_graph(tasks: int, form: GraphForm = "single", token: str | None = None) -> list[Delayed]:
    """``tasks`` independent no-op tasks, as the engines' ``compute`` takes them (a list of Delayed).

    ``single`` is ONE collection: a graph of ``tasks`` no-ops plus one small task counting their
    results, the way ``dask.array`` or ``dask.bag`` hand a graph to a scheduler. ``list`` is
    ``[delayed(noop)(i) for i in range(tasks)]``: ``dask.compute(*those)`` first merges and optimises
    ``tasks`` one-task graphs, which on a local scheduler costs more than running them.
    Every key carries ``token``, so no engine can reuse a result from an earlier compute.
    """
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


# --- per-task overhead -------------------------------------------------------------------------------

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

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "engines": list(self.engines)}


def estimate_per_task_seconds(spec: PerTaskSpec) -> float:
    """Rough seconds :func:`measure_per_task` takes (clusters counted as not yet running)."""
    total = 0.0
    computes = 2 + 2 * spec.repeats
    for e in spec.engines:
        per_task = _PER_TASK_PRIOR_S[e] * (2 if e == "processes" and spec.chunksize == 1 else 1)
        per_task += _LIST_EXTRA_S if spec.graph == "list" else 0.0
        tasks = _WARMUP_TASKS + 1 + spec.repeats * (spec.tasks + 1)
        total += tasks * per_task + computes * _FIXED_PRIOR_S[e] + _start_prior_s(e, spec.workers)
    return total


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
                "summary": _records(self.summary), "runs": _records(self.runs),
                "references": _records(self.references)}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _timed_compute(engine: Any, graph: list[Delayed], tasks: int, form: GraphForm) -> float:
    """Seconds of one ``compute`` of ``graph`` on ``engine`` (its per-compute start-up excluded)."""
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
    clusters: ClusterSource | None = None,
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
    notify = progress or _quiet
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
    runs: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    label = f"overhead: {spec.tasks} no-op tasks on {len(spec.engines)} engine(s)"
    with RUN_SLOT.hold(label, estimate_per_task_seconds(spec), on_wait=_Waiter(notify)):
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


# --- start-up ------------------------------------------------------------------------------------------


def _start_prior_s(scheduler: str, workers: int) -> float:
    """Rough seconds to start and stop ``scheduler``'s pool or cluster (from :mod:`core.measure.estimate`)."""
    if scheduler == "processes":
        return POOL_START_S + POOL_START_PER_WORKER_S * workers + POOL_STOP_S
    if scheduler in CLUSTER_START_S:
        stop = 0.3 * workers if scheduler == "cluster-processes" else 0.05
        return CLUSTER_START_S[scheduler] + CLUSTER_START_PER_WORKER_S[scheduler] * workers + stop
    return 0.01


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

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cases": list(self.cases)}


def estimate_startup_seconds(spec: StartupSpec) -> float:
    """Rough seconds :func:`measure_startup` takes."""
    return spec.repeats * sum(_start_prior_s(STARTUP_SCHEDULER[c], spec.workers) + 0.01 for c in spec.cases)


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
                "summary": _records(self.summary), "runs": _records(self.runs),
                "references": _records(references_frame().dropna(subset=["startup_s"]))}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _start_once(case: str, workers: int) -> dict[str, float]:
    """Start ``case``'s engine from nothing, run one no-op, time a second compute's start, close it all."""
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

    Parameters
    ----------
    spec : StartupSpec
    progress : callable, optional
        ``progress(message, fraction)`` before each start and at the end.

    Returns
    -------
    StartupResult

    Raises
    ------
    EngineError
        If a pool or cluster cannot start.
    """
    notify = progress or _quiet
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
    runs: list[dict[str, Any]] = []
    total = len(spec.cases) * spec.repeats
    with RUN_SLOT.hold(f"overhead: start-up of {len(spec.cases)} engine(s)", estimate_startup_seconds(spec),
                       on_wait=_Waiter(notify)):
        for r in range(spec.repeats):  # round-robin: a burst of load hits every case, not one
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


# --- the chunksize effect ------------------------------------------------------------------------------


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
                              workers=self.workers, repeats=self.repeats, chunksize=chunksize)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "chunksizes": list(self.chunksizes)}


def estimate_chunksize_seconds(spec: ChunksizeSpec) -> float:
    """Rough seconds :func:`measure_chunksize` takes (one processes run per chunksize)."""
    return sum(estimate_run(spec.experiment(c)).seconds for c in spec.chunksizes)


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
    """

    spec: ChunksizeSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    results: tuple[ExperimentResult, ...] = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    tasks: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)

    def distinct_pids(self, chunksize: int) -> int:
        """Distinct processes that ran the tasks with ``chunksize`` (median over repeats)."""
        return int(self.summary.loc[self.summary["chunksize"] == chunksize, "distinct_pids"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "chunksize", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "summary": _records(self.summary), "runs": _records(self.runs), "tasks": _records(self.tasks)}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def chunksize_label(chunksize: int) -> str:
    """``"chunksize 6 (Dask's default)"``, ``"chunksize 1"``: the ``engine`` label of each run."""
    return f"chunksize {chunksize}" + (" (Dask's default)" if chunksize == DASK_DEFAULT_CHUNKSIZE else "")


def measure_chunksize(spec: ChunksizeSpec, *, progress: Progress | None = None) -> ChunksizeResult:
    """Run the same fib graph on the processes scheduler with each chunksize, through ``run_experiment``.

    Returns
    -------
    ChunksizeResult
        With, per chunksize, how many distinct processes ran the tasks: with ``tasks`` ≤ chunksize,
        Dask sends every ready task in ONE batch, to one process.
    """
    notify = progress or _quiet
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
    results = []
    with RUN_SLOT.hold(f"overhead: chunksize {'/'.join(map(str, spec.chunksizes))}",
                       estimate_chunksize_seconds(spec), on_wait=_Waiter(notify)):
        for k, c in enumerate(spec.chunksizes):
            notify(f"processes, chunksize {c}", k / len(spec.chunksizes))
            results.append(run_experiment(spec.experiment(c)))
    labels = [chunksize_label(c) for c in spec.chunksizes]
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
    notify("Done", 1.0)
    return ChunksizeResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                           results=tuple(results), runs=runs, tasks=tasks, summary=summary)


# --- break-even task size ------------------------------------------------------------------------------


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
        return ExperimentSpec(workload="fib", size=n, tasks=self.tasks, scheduler=scheduler,
                              workers=1 if scheduler == "sync" else self.workers, repeats=self.repeats)

    def experiments(self) -> list[ExperimentSpec]:
        """Every run of the sweep, in the order it runs: all engines at one n before the next n."""
        return [self.experiment(s, n) for n in self.sizes for s in ("sync", *self.engines)]

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


def estimate_break_even_seconds(spec: BreakEvenSpec) -> float:
    """Rough seconds of the sweep (each cluster's start counted once)."""
    total = sum(estimate_run(s, cluster_running=True).seconds for s in spec.experiments())
    return total + sum(_start_prior_s(e, spec.workers) for e in spec.engines if e.startswith("cluster"))


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
    """

    spec: BreakEvenSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    runs: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    crossings: pd.DataFrame = field(repr=False)

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
                "crossings": _records(self.crossings), "summary": _records(self.summary),
                "runs": _records(self.runs)}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


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
    clusters: ClusterSource | None = None,
    progress: Progress | None = None,
) -> BreakEvenResult:
    """Sweep fib n on sync and each parallel engine; find where each starts to beat sync.

    Sizes run in increasing order, all engines at one n before the next n, so a burst of load on the
    shared machine hits every engine alike.

    Parameters
    ----------
    spec : BreakEvenSpec
    clusters : ClusterSource, optional
        Where cluster engines find their running LocalCluster (see :func:`core.engines.run_experiment`).
    progress : callable, optional
        ``progress(message, fraction)`` before each run and at the end.

    Returns
    -------
    BreakEvenResult
    """
    notify = progress or _quiet
    started_at, run_id = _now(), uuid.uuid4().hex[:8]
    experiments = spec.experiments()
    results: list[ExperimentResult] = []
    with RUN_SLOT.hold(f"overhead: break-even sweep fib {spec.sizes[0]}..{spec.sizes[-1]}",
                       estimate_break_even_seconds(spec), on_wait=_Waiter(notify)):
        for k, exp in enumerate(experiments):
            notify(f"fib n = {exp.size} on {SCHEDULER_LABELS[exp.scheduler]}", k / len(experiments))
            results.append(run_experiment(exp, clusters=clusters))
    rows = []
    setup: dict[str, float] = {}
    for r in results:
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
    notify("Done", 1.0)
    return BreakEvenResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                           runs=runs, summary=summary, crossings=crossings_frame)


# --- budgets and the CLI's report ----------------------------------------------------------------------

AnySpec = PerTaskSpec | StartupSpec | ChunksizeSpec | BreakEvenSpec


def estimate_seconds(spec: AnySpec) -> float:
    """Rough seconds any of the four measurements takes on this machine (a guide, not a measurement)."""
    if isinstance(spec, PerTaskSpec):
        return estimate_per_task_seconds(spec)
    if isinstance(spec, StartupSpec):
        return estimate_startup_seconds(spec)
    if isinstance(spec, ChunksizeSpec):
        return estimate_chunksize_seconds(spec)
    if isinstance(spec, BreakEvenSpec):
        return estimate_break_even_seconds(spec)
    raise TypeError(f"not an overhead spec: {type(spec).__name__}")


def check_overhead_budget(specs: AnySpec | Iterable[AnySpec], max_seconds: float) -> float:
    """The estimated seconds of ``specs`` together, or :class:`core.measure.estimate.BudgetError` if over budget."""
    specs = [specs] if isinstance(specs, (PerTaskSpec, StartupSpec, ChunksizeSpec, BreakEvenSpec)) else list(specs)
    total = sum(estimate_seconds(s) for s in specs)
    if total > max_seconds:
        raise BudgetError(
            f"this measurement is estimated at {total:.0f} s, over the {max_seconds:g} s budget:"
            " lower the tasks, workers, repeats or sizes (the CLI's --force runs it anyway)"
        )
    return total


def startup_cases_for(scheduler: str) -> tuple[str, ...]:
    """The start-up cases of one engine (``processes`` has two: a pool per compute, and one reused)."""
    if scheduler == "all":
        return STARTUP_CASES
    return ("processes", "processes-reused") if scheduler == "processes" else (scheduler,)


def report(per_task: PerTaskResult, startup: StartupResult, break_even: BreakEvenResult | None = None) -> dict:
    """One JSON-ready object for the CLI: ``per_task_us`` and ``startup_s`` by engine, spreads and details.

    ``per_task_us`` and ``startup_s`` map an engine (a start-up case for ``startup_s``) to its median;
    ``engines`` and ``startup`` hold the spread and every figure; ``docs`` Dask's quoted figures.
    """
    engines = _records(per_task.summary)
    starts = _records(startup.summary)
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
        "docs": _records(references_frame()),
        "machine": per_task.machine.to_dict(),
        "run_ids": {"per_task": per_task.run_id, "startup": startup.run_id},
    }
    if break_even is not None:
        out["break_even"] = break_even.to_dict()
        out["run_ids"]["break_even"] = break_even.run_id
    return out


# --- the CLI verb (``python -m core overhead``) -----------------------------------------------------------


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


def specs_from_args(args: Any) -> tuple[PerTaskSpec, StartupSpec, BreakEvenSpec | None]:
    """The specs of ``python -m core overhead``'s arguments; ``ValueError`` names the bad one."""
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
    return per_task, startup, break_even


def report_table(out: dict[str, Any]) -> str:
    """The CLI's plain-text view of :func:`report`."""
    m = out["machine"]
    docs: dict[str, list[str]] = {}
    for ref in out["docs"]:
        docs.setdefault(ref["scheduler"], []).append(_fmt_us(ref["per_task_us"]))
    lines = [
        f"Overhead anatomy: {out['tasks']} no-op tasks ({GRAPH_FORM_LABELS[out['graph']]}), {out['workers']} workers,"
        f" {out['repeats']} repeat(s)",
        f"machine: {m['usable_cores']} usable of {m['logical_cores']} logical cores · Python {m['python_version']}"
        f" · dask {m['dask_version']} · distributed {m['distributed_version']}",
        "",
        "per-task overhead = (compute of N no-ops − compute of 1) ÷ (N − 1):",
    ]
    width = max(len(row["engine"]) for row in out["engines"])
    for row in out["engines"]:
        quoted = " / ".join(docs.get(row["scheduler"], [])) or "-"
        lines.append(f"  {row['engine']:<{width}}  {_fmt_us(row['per_task_us']):>9} per task"
                     f"  (min {_fmt_us(row['per_task_min_us'])}, max {_fmt_us(row['per_task_max_us'])})"
                     f"  fixed {fmt_duration(row['fixed_s'])} per compute  · Dask's docs: {quoted}")
    lines += ["", "start-up, from nothing until ready to run tasks (median):"]
    width = max(len(row["label"]) for row in out["startup"])
    for row in out["startup"]:
        lines.append(f"  {row['label']:<{width}}  {fmt_duration(row['startup_s']):>9}"
                     f"  (min {fmt_duration(row['startup_min_s'])}, max {fmt_duration(row['startup_max_s'])})"
                     f"  · every later compute: {fmt_duration(row['per_compute_s'])}"
                     f"  · shutdown {fmt_duration(row['teardown_s'])}")
    if "break_even" in out:
        be = out["break_even"]
        lines += ["", f"break-even: {be['spec']['tasks']} × fib(n), n = {', '.join(map(str, be['spec']['sizes']))}:"]
        for row in be["crossings"]:
            if row["break_even_n"] is not None:
                where = f"beats sync from n = {row['break_even_n']}"
            else:
                guess = row["extrapolated_n"]
                where = "not within range" + (f" (extrapolated: about n = {guess})" if guess is not None else "")
            lines.append(f"  {row['engine']}: {where}")
    return "\n".join(lines)


def cli_output(args: Any, clusters: ClusterSource | None = None) -> str:
    """Run ``python -m core overhead`` and return what it prints.

    Raises ``ValueError`` (bad arguments), :class:`core.measure.estimate.BudgetError` or
    :class:`core.engines.EngineError`; the CLI turns each into one line on stderr and status 2.
    """
    per_task_spec, startup_spec, break_even_spec = specs_from_args(args)
    specs: list[AnySpec] = [per_task_spec, startup_spec] + ([break_even_spec] if break_even_spec else [])
    if not args.force:
        check_overhead_budget(specs, args.max_seconds)
    with ExitStack() as stack:
        registry = clusters or stack.enter_context(ClusterRegistry())
        per_task = measure_per_task(per_task_spec, clusters=registry)
        startup = measure_startup(startup_spec)
        break_even = measure_break_even(break_even_spec, clusters=registry) if break_even_spec else None
    out = report(per_task, startup, break_even)
    return json.dumps(out, indent=2, allow_nan=False) if args.json else report_table(out)
