"""What the four parts of the overhead kind share: limits, Dask's quoted figures, no-op graphs, start-up priors."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, get_args

import pandas as pd

from core.measure.estimate import (
    CLUSTER_START_PER_WORKER_S,
    CLUSTER_START_S,
    POOL_START_PER_WORKER_S,
    POOL_START_S,
    POOL_STOP_S,
    PROCESS_WORKER_BYTES,
)
from core.spec import (
    CHUNKSIZE_SCHEDULERS,
    POOL_SCHEDULERS,
    PROCESS_POOL_SCHEDULERS,
    SCHEDULER_LABELS,
    ExperimentSpec,
    check_int,
    short_repr,
)
from core.workloads import WORKLOADS, noop

OverheadEngine = Literal["sync", "threads", "processes", "cluster-threads", "cluster-processes"]
OVERHEAD_ENGINES: tuple[str, ...] = get_args(OverheadEngine)  # Dask's: the default, and --scheduler all
PARALLEL_ENGINES: tuple[str, ...] = tuple(e for e in OVERHEAD_ENGINES if e != "sync")
# The pools beyond Dask (concurrent.futures, multiprocessing, joblib) run plain calls, not graphs: their
# per-task cost and start-up are measured with N no-op calls (:func:`noop_tasks`), beside Dask's.
BEYOND_DASK_ENGINES: tuple[str, ...] = POOL_SCHEDULERS
PER_TASK_ENGINES: tuple[str, ...] = (*OVERHEAD_ENGINES, *BEYOND_DASK_ENGINES)
# The break-even sweep opens its points together (interleaved rounds): joblib's loky executor is one per
# process, so it cannot be one of them (as in the scaling sweep).
BREAK_EVEN_ENGINES: tuple[str, ...] = (*PARALLEL_ENGINES, *(e for e in BEYOND_DASK_ENGINES if e != "joblib-loky"))

GraphForm = Literal["single", "list"]
GRAPH_FORMS: tuple[str, ...] = get_args(GraphForm)
GRAPH_FORM_LABELS = {
    "single": "one graph of N tasks",
    "list": "a list of N delayed objects",
}

StartupCase = Literal["sync", "threads", "processes", "processes-reused", "cluster-threads", "cluster-processes",
                      "futures-threads", "futures-processes", "multiprocessing", "joblib-threads", "joblib-loky"]
ALL_STARTUP_CASES: tuple[str, ...] = get_args(StartupCase)
STARTUP_CASES: tuple[str, ...] = ALL_STARTUP_CASES[:6]  # Dask's: the default, and --scheduler all
STARTUP_LABELS: dict[str, str] = {
    "sync": "sync (nothing to start)",
    "threads": "threads: a new thread pool",
    "processes": "processes: new spawn pool per compute",
    "processes-reused": "processes: one pool, reused",
    "cluster-threads": "LocalCluster processes=False",
    "cluster-processes": "LocalCluster processes=True",
    "futures-threads": "ThreadPoolExecutor",
    "futures-processes": "ProcessPoolExecutor (spawn)",
    "multiprocessing": "multiprocessing.Pool (spawn)",
    "joblib-threads": "joblib, threading backend",
    "joblib-loky": "joblib, loky backend",
}
STARTUP_SCHEDULER = {case: ("processes" if case == "processes-reused" else case) for case in ALL_STARTUP_CASES}

LIMITS: dict[str, tuple[int, int]] = {
    "tasks": (10, 20_000),
    "workers": (1, 16),
    "repeats": (1, 10),
    "chunksize": (1, 64),
    "fib_tasks": (1, 16),
    "sizes": (2, 12),
}
DASK_DEFAULT_CHUNKSIZE = 6
WARMUP_TASKS = 100  # first computes pay for imports and first-touch memory; never timed
ADVICE = "lower the tasks, workers, repeats or sizes (the CLI's --force runs it anyway)"



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
         "label": f"docs: {fmt_us(f.per_task_us)}" if f.per_task_us is not None else "", "claim": f.claim,
         "source": f.source, "url": f.url}
        for f in DOCS_FIGURES for s in f.schedulers
    ]
    return pd.DataFrame(rows)


# --- helpers -------------------------------------------------------------------------------------------


def fmt_us(us: float) -> str:
    return f"{us / 1000:.3g} ms" if us >= 1000 else f"{us:.3g} µs"


def checked_int(field_name: str, value: Any, limits: tuple[int, int] | None = None) -> int:
    """:func:`core.spec.check_int` against this module's own ``LIMITS`` by default."""
    return check_int(field_name, value, limits or LIMITS[field_name])


def checked_names(field_name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
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


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def worker_bytes(scheduler: str, workers: int) -> int:
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


def noop_tasks(tasks: int, scheduler: str, form: GraphForm = "single") -> Any:
    """``tasks`` no-ops as ``scheduler``'s ``compute`` takes them: a graph (:func:`noop_graph`) for Dask's
    engines, ``tasks`` plain calls (a :class:`core.engines.base.Work`) for the pools beyond Dask."""
    if scheduler not in BEYOND_DASK_ENGINES:
        return noop_graph(tasks, form)
    from core.engines.base import Work

    token = uuid.uuid4().hex[:12]
    return Work(func=noop, args=tuple((i,) for i in range(tasks)),
                keys=tuple(f"noop-{i}-{token}" for i in range(tasks)))


def all_tasks_ran(out: list[Any], tasks: int, form: GraphForm, scheduler: str = "sync") -> bool:
    if scheduler in BEYOND_DASK_ENGINES:
        return list(out) == list(range(tasks))
    return (len(out) == tasks) if form == "list" else (out == [tasks])


def engine_spec(scheduler: str, workers: int, **processes_options: Any) -> ExperimentSpec:
    """The :class:`ExperimentSpec` that makes ``core.engines`` build ``scheduler``'s engine.

    Workload and size are unused (the graphs here are no-ops); fib keeps process workers light.
    """
    opts = {k: v for k, v in processes_options.items()
            if (k == "chunksize" and scheduler in CHUNKSIZE_SCHEDULERS)
            or (k == "reuse_pool" and scheduler in PROCESS_POOL_SCHEDULERS)}
    return ExperimentSpec(workload="fib", size=WORKLOADS["fib"].min_size, tasks=1,
                          scheduler=scheduler, workers=1 if scheduler == "sync" else workers, repeats=1, **opts)


def start_prior_s(scheduler: str, workers: int) -> float:
    """Rough seconds to start and stop ``scheduler``'s pool or cluster (from :mod:`core.measure.estimate`)."""
    if scheduler in PROCESS_POOL_SCHEDULERS:
        return POOL_START_S + POOL_START_PER_WORKER_S * workers + POOL_STOP_S
    if scheduler in CLUSTER_START_S:
        stop = 0.3 * workers if scheduler == "cluster-processes" else 0.05
        return CLUSTER_START_S[scheduler] + CLUSTER_START_PER_WORKER_S[scheduler] * workers + stop
    return 0.01


def log_ticks(domain: list[float]) -> list[float]:
    """The powers of ten within a log axis' ``domain``: one gridline per decade, not nine."""
    low, high = (round(math.log10(v)) for v in domain)
    return [10.0**k for k in range(low, high + 1)]


def log_domain(values: Iterable[float]) -> list[float]:
    """Whole powers of ten around the positive ``values``, so log-scale bars have a floor to start from."""
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not positive:
        return [1.0, 10.0]
    low = 10 ** math.floor(math.log10(min(positive) / 1.5))
    high = 10 ** math.ceil(math.log10(max(positive) * 1.5))
    return [low, high if high > low else low * 10]
