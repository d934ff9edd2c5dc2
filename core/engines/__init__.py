"""Where a graph runs: one module per engine family, and :func:`make_engine` to pick one.

- :mod:`core.engines.base`: the :class:`Engine` protocol, the errors a run ends with, the run's watch.
- :mod:`core.engines.local`: Dask's ``sync``, ``threads`` and ``processes`` schedulers.
- :mod:`core.engines.cluster`: ``LocalCluster`` handles (``cluster-threads``, ``cluster-processes``), reused;
  :mod:`core.engines.cluster_engine`: the engine that runs on them or on an existing cluster (``external``).
- :mod:`core.engines.stdlib`: beyond Dask, Python's own pools: ``futures-threads``, ``futures-processes``
  (``concurrent.futures``) and ``multiprocessing`` (``multiprocessing.Pool``).
- :mod:`core.engines.beyond_gil`: beyond the GIL, ``interpreters`` (subinterpreters, one GIL each) and the
  engines on another interpreter of the machine (``ExperimentSpec.python``).
- :mod:`core.engines.joblib_engines`: joblib's ``Parallel``, ``joblib-loky`` and ``joblib-threads``.
- :mod:`core.workers` (outside this package, so a worker does not import it): what the pools send their
  workers, and how they start them without re-running the parent's main. (:mod:`core.engines.lifeline`
  re-exports its old names.)

To add an engine family: a module with an :class:`Engine` class, its names in
:data:`core.spec.SCHEDULERS`, and a branch in :func:`make_engine`.
"""

from __future__ import annotations

from typing import Any

# dask.compute imports distributed on its first call (to look for a default Client): ~0.25 s that
# would otherwise land inside the first measured compute of a process. Importing it here moves that
# one-time cost out of every measurement. It is also why nothing a spawned worker imports may live in
# this package: the worker would pay this import (and every engine's) too, see core.workers.
import distributed  # noqa: F401

from core.engines.base import Engine, EngineError, Progress, RunCancelled, RunTimeout, Watch, WorkerLost
from core.engines.beyond_gil import InterpretersEngine, OtherPythonEngine
from core.engines.cluster import (
    DEFAULT_REGISTRY,
    ClusterRegistry,
    ClusterSource,
    LocalClusterHandle,
    close_all_clusters,
    park_idle_clusters,
)
from core.engines.cluster_engine import DistributedEngine, probe_scheduler
from core.engines.joblib_engines import JoblibLokyEngine, JoblibThreadsEngine
from core.engines.local import ProcessesEngine, SyncEngine, ThreadsEngine
from core.engines.stdlib import FuturesProcessesEngine, FuturesThreadsEngine, MultiprocessingEngine
from core.spec import CLUSTER_SCHEDULERS, ExperimentSpec

__all__ = [
    "ClusterRegistry", "ClusterSource", "DistributedEngine", "Engine", "EngineError", "FuturesProcessesEngine",
    "FuturesThreadsEngine", "JoblibLokyEngine", "JoblibThreadsEngine", "LocalClusterHandle", "MultiprocessingEngine",
    "ProcessesEngine", "Progress", "RunCancelled", "RunTimeout", "SyncEngine", "ThreadsEngine", "Watch",
    "InterpretersEngine", "OtherPythonEngine",
    "WorkerLost", "close_all_clusters", "make_engine", "park_idle_clusters", "probe_scheduler",
]


# Beyond Dask: each pool's engine takes the spec and the run's watch.
_POOLS: dict[str, Any] = {"futures-threads": FuturesThreadsEngine, "futures-processes": FuturesProcessesEngine,
                          "multiprocessing": MultiprocessingEngine, "joblib-loky": JoblibLokyEngine,
                          "joblib-threads": JoblibThreadsEngine}


def make_engine(spec: ExperimentSpec, clusters: ClusterSource | None = None, *, watch: Watch | None = None) -> Engine:
    """The engine for ``spec.scheduler``; cluster schedulers take their cluster from ``clusters``.

    ``watch`` (used by :func:`run_experiment`) lets a distributed engine, and the pools of
    concurrent.futures and multiprocessing, report progress and stop mid-compute; Dask's local engines
    and joblib are watched between repeats by the run loop instead.
    """
    if spec.python is not None:  # beyond the GIL: another interpreter of the machine, in a warm child
        return OtherPythonEngine(spec, watch)
    if spec.scheduler == "interpreters":
        return InterpretersEngine(spec, watch)
    if spec.scheduler == "sync":
        return SyncEngine(spec)
    if spec.scheduler == "threads":
        return ThreadsEngine(spec)
    if spec.scheduler == "processes":
        # A warm pool only from a registry the caller owns (and closes): a bare run_experiment() must
        # not leave processes behind.
        return ProcessesEngine(spec, clusters)
    if spec.scheduler in ("futures-processes", "multiprocessing", "joblib-loky"):
        return _POOLS[spec.scheduler](spec, watch, clusters)  # warm pools, like Dask's, from the caller's registry
    if spec.scheduler in _POOLS:
        return _POOLS[spec.scheduler](spec, watch)
    if spec.scheduler in CLUSTER_SCHEDULERS:
        registry = clusters if clusters is not None else DEFAULT_REGISTRY
        handle = registry.get(spec.scheduler == "cluster-processes", spec.workers, spec.threads_per_worker)
        return DistributedEngine(spec, handle, watch)
    return DistributedEngine(spec, None, watch)

