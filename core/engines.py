"""Run an experiment on any Dask engine through one code path.

Like ``dask/local.py``, which runs every local scheduler through ``get_async`` with the executor
injected, GIL Lab runs every engine through :func:`run_experiment`: only the small :class:`Engine`
objects differ, and each one says how to start, how to compute a list of delayed tasks, and how to
stop. Timing, per-task evidence and result building are therefore identical for all engines, which
is what makes their numbers comparable.

Clusters are expensive to start (a second or more, per process), so they are owned by long-lived
handles (:class:`LocalClusterHandle`) that are reused across runs of the same shape; the start-up
cost is reported once, in the run that paid it, never hidden in a compute time.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any, Protocol

import dask
import distributed  # noqa: F401  (see below)
from dask.delayed import Delayed, delayed

from core.machine import machine_info
from core.results import ExperimentResult, build_result
from core.spec import CLUSTER_SCHEDULERS, ExperimentSpec
from core.workloads import init_pool_worker, make_payload, measured_call

# dask.compute imports distributed on its first call (to look for a default Client): ~0.25 s that
# would otherwise land inside the first measured compute of a process. Importing it here moves that
# one-time cost out of every measurement.

Progress = Callable[[str, float], None]
"""Callback ``progress(message, fraction_done)`` for front ends (the app's status box, the CLI)."""

# Two experiments measured at the same time on a 2-core machine would steal cores from each other
# and both report nonsense. Every run in this process takes this lock; the app tells a waiting user.
RUN_LOCK = threading.Lock()

_CLUSTER_CONNECT_TIMEOUT_S = 15
_POOL_START_TIMEOUT_S = 60


class EngineError(RuntimeError):
    """An engine could not start or run (e.g. an external cluster is unreachable)."""


# --- cluster handles --------------------------------------------------------------------------------


_LIVE_HANDLES: weakref.WeakSet[LocalClusterHandle] = weakref.WeakSet()


@atexit.register
def close_all_clusters() -> None:
    """Close every LocalCluster this process started (run at interpreter exit, e.g. for the app's).

    Each close waits for runs still using that cluster.
    """
    for handle in list(_LIVE_HANDLES):
        handle.close()


class LocalClusterHandle:
    """Own one ``LocalCluster`` and its ``Client``; start lazily, share safely, close once.

    Return this holder (not the Client) from ``st.cache_resource``: Streamlit refuses to cache
    awaitables, and the holder lets an eviction wait for the runs still using the cluster instead
    of pulling it from under another session.

    Every listener binds to 127.0.0.1: a teaching app must not open its scheduler or dashboards to
    the network. ``processes=False`` clusters use the in-process transport and open no port at all.
    """

    def __init__(self, processes: bool, n_workers: int, threads_per_worker: int) -> None:
        self.processes = processes
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.cluster: Any = None
        self.client: Any = None
        self.startup_s: float | None = None
        self._lock = threading.Lock()
        self._users = 0
        self._close_requested = False
        _LIVE_HANDLES.add(self)

    @property
    def shape(self) -> tuple[bool, int, int]:
        return (self.processes, self.n_workers, self.threads_per_worker)

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called (the cluster is gone, or goes when its last run ends)."""
        return self._close_requested

    @property
    def running(self) -> bool:
        return self.client is not None and self.client.status == "running"

    def _start(self) -> float:
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        # processes=False uses the in-process transport, which takes no host; everything else binds
        # to loopback only.
        listen = {"host": "127.0.0.1"} if self.processes else {}
        self.cluster = LocalCluster(
            processes=self.processes,
            n_workers=self.n_workers,
            threads_per_worker=self.threads_per_worker,
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
            **listen,
        )
        self.client = Client(self.cluster, set_as_default=False)
        self.client.wait_for_workers(self.n_workers, timeout=60)
        self.startup_s = time.perf_counter() - t0
        return self.startup_s

    @contextmanager
    def use(self) -> Iterator[tuple[Any, float]]:
        """Yield ``(client, seconds spent starting the cluster now)``; 0 when it was already up."""
        with self._lock:
            if self._close_requested:
                raise EngineError("this cluster is being closed; start a new one")
            started = 0.0
            if not self.running:
                self._shutdown()  # a dead cluster (e.g. killed workers) is replaced, not reused
                started = self._start()
            self._users += 1
        try:
            yield self.client, started
        finally:
            with self._lock:
                self._users -= 1
                if self._close_requested and self._users == 0:
                    self._shutdown()

    def close(self) -> None:
        """Close the cluster now, or as soon as the last run using it finishes."""
        with self._lock:
            self._close_requested = True
            if self._users == 0:
                self._shutdown()

    def _shutdown(self) -> None:
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        # LocalCluster restores distributed's INFO logging as it closes; its goodbye chatter is noise.
        log = logging.getLogger("distributed")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            self._close_quietly(client, cluster)
        finally:
            log.setLevel(level)

    @staticmethod
    def _close_quietly(client: Any, cluster: Any) -> None:
        for obj in (client, cluster):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # closing is best effort; never mask the caller's own error
                    logging.getLogger(__name__).debug("error while closing %r", obj, exc_info=True)


class ClusterRegistry:
    """LocalCluster handles keyed by shape, so runs of the same shape reuse one cluster.

    The CLI and the tests use one registry and close it at the end; the app keeps one handle per
    shape in ``st.cache_resource`` instead (see ``pages/``).
    """

    def __init__(self) -> None:
        self._handles: dict[tuple[bool, int, int], LocalClusterHandle] = {}
        self._lock = threading.Lock()

    def get(self, processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
        key = (processes, n_workers, threads_per_worker)
        with self._lock:
            # A handle someone closed stays closed; the next run of that shape gets a fresh cluster.
            if key not in self._handles or self._handles[key].closed:
                self._handles[key] = LocalClusterHandle(*key)
            return self._handles[key]

    def close(self) -> None:
        with self._lock:
            handles, self._handles = list(self._handles.values()), {}
        for handle in handles:
            handle.close()

    def __enter__(self) -> ClusterRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ClusterSource(Protocol):
    """Anything that hands out a :class:`LocalClusterHandle` by shape (a registry, the app's cache)."""

    def get(self, processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle: ...


# Clusters made without a caller-supplied registry still get closed when the interpreter exits.
_DEFAULT_REGISTRY = ClusterRegistry()
atexit.register(_DEFAULT_REGISTRY.close)


# --- engines ---------------------------------------------------------------------------------------

Compute = Callable[[list[Delayed]], list[Any]]


class Engine(Protocol):
    """What :func:`run_experiment` needs from an engine.

    ``setup`` returns the seconds it spent on one-time start-up (0 if reused). ``repeat`` is a
    context manager around one measured compute: entering it is that repeat's start-up (the
    ``processes`` scheduler starts a new pool on every compute), the yielded function computes a list
    of delayed tasks, and leaving it is the repeat's teardown.
    """

    def setup(self) -> float: ...

    def repeat(self) -> AbstractContextManager[Compute]: ...

    def info(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class SyncEngine:
    """Dask's single-threaded scheduler: the baseline every speedup is measured against."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec

    def setup(self) -> float:
        return 0.0

    def repeat(self) -> AbstractContextManager[Compute]:
        return nullcontext(lambda tasks: list(dask.compute(*tasks, scheduler="sync")))

    def info(self) -> dict[str, Any]:
        return {"n_workers": 1, "threads_per_worker": 1, "total_threads": 1}

    def close(self) -> None:
        pass


class ThreadsEngine:
    """Dask's threaded scheduler with ``num_workers = workers`` threads.

    Dask caches its thread pools between computes, so this engine keeps one pool for all repeats
    too. (Dask's own default pool size is the core count, which is why the tutorial's four sleeps
    take two seconds on a 2-core machine.)
    """

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec
        self.pool: ThreadPoolExecutor | None = None

    def setup(self) -> float:
        t0 = time.perf_counter()
        self.pool = ThreadPoolExecutor(self.spec.workers, thread_name_prefix="gil-lab")
        return time.perf_counter() - t0

    def repeat(self) -> AbstractContextManager[Compute]:
        return nullcontext(lambda tasks: list(dask.compute(*tasks, scheduler="threads", pool=self.pool)))

    def info(self) -> dict[str, Any]:
        return {"n_workers": 1, "threads_per_worker": self.spec.workers, "total_threads": self.spec.workers}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


class ProcessesEngine:
    """Dask's multiprocessing scheduler, with its real behaviour made measurable.

    Dask starts a new spawn pool on every compute and shuts it down afterwards; we do the same
    (unless ``reuse_pool``), but start the pool *before* the stopwatch for compute starts and wait
    until every worker has imported what the tasks need, so start-up is reported on its own line.
    ``chunksize`` is passed through: Dask's default of 6 would put a 4-task graph in one process.
    """

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec
        self.pool: ProcessPoolExecutor | None = None
        self.pids: set[int] = set()

    def _new_pool(self) -> ProcessPoolExecutor:
        from dask.multiprocessing import get_context

        # Dask pins the hash seed of its workers for consistent hashing across processes.
        if os.environ.get("PYTHONHASHSEED") in (None, "0"):
            os.environ["PYTHONHASHSEED"] = "6640"
        context = get_context()
        ready = context.Queue()
        pool = ProcessPoolExecutor(
            self.spec.workers,
            mp_context=context,
            initializer=init_pool_worker,
            initargs=(ready, self.spec.workload),
        )
        # Spawn pools start workers on demand: one no-op per worker makes it start all of them now,
        # and each worker's initializer reports when it is ready to run tasks.
        for _ in range(self.spec.workers):
            pool.submit(os.getpid)
        try:
            for _ in range(self.spec.workers):
                self.pids.add(ready.get(timeout=_POOL_START_TIMEOUT_S))
        except queue.Empty as exc:
            pool.shutdown(wait=False, cancel_futures=True)
            raise EngineError(
                f"the process pool did not start {self.spec.workers} workers within {_POOL_START_TIMEOUT_S} s"
            ) from exc
        finally:
            ready.close()
        return pool

    def setup(self) -> float:
        if not self.spec.reuse_pool:
            return 0.0
        t0 = time.perf_counter()
        self.pool = self._new_pool()
        return time.perf_counter() - t0

    @contextmanager
    def repeat(self) -> Iterator[Compute]:
        pool = self.pool if self.spec.reuse_pool else self._new_pool()
        assert pool is not None

        def compute(tasks: list[Delayed]) -> list[Any]:
            return list(
                dask.compute(*tasks, scheduler="processes", pool=pool, chunksize=self.spec.chunksize)
            )

        try:
            yield compute
        finally:
            if not self.spec.reuse_pool:
                pool.shutdown(wait=True)

    def info(self) -> dict[str, Any]:
        return {"n_workers": self.spec.workers, "threads_per_worker": 1, "total_threads": self.spec.workers}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


class DistributedEngine:
    """A ``distributed`` cluster: a reused LocalCluster, or an existing cluster by address."""

    def __init__(self, spec: ExperimentSpec, handle: LocalClusterHandle | None) -> None:
        self.spec = spec
        self.handle = handle
        self.client: Any = None
        self._stack = ExitStack()
        self._own_client = False

    def setup(self) -> float:
        if self.handle is not None:
            self.client, started = self._stack.enter_context(self.handle.use())
            return started
        from distributed import Client

        t0 = time.perf_counter()
        try:
            self.client = Client(
                self.spec.address, set_as_default=False, timeout=_CLUSTER_CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            raise EngineError(
                f"could not connect to the cluster at {self.spec.address} within"
                f" {_CLUSTER_CONNECT_TIMEOUT_S} s: is a scheduler running there?"
            ) from exc
        self._own_client = True
        if not self.client.scheduler_info().get("workers"):
            raise EngineError(f"the cluster at {self.spec.address} has no workers")
        return time.perf_counter() - t0

    def repeat(self) -> AbstractContextManager[Compute]:
        def compute(tasks: list[Delayed]) -> list[Any]:
            with warnings.catch_warnings():
                # transfer's payload is part of the graph on purpose: shipping it is the lesson.
                warnings.filterwarnings("ignore", message=".*[Ll]arge graph.*")
                futures = self.client.compute(tasks)
                try:
                    return list(self.client.gather(futures))
                finally:
                    del futures

        return nullcontext(compute)

    def info(self) -> dict[str, Any]:
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {}) if self.client else {}
        threads = [int(w.get("nthreads", 0)) for w in workers.values()]
        return {
            "n_workers": len(threads),
            "threads_per_worker": max(threads, default=0),
            "total_threads": sum(threads),
            "scheduler_address": self.client.scheduler.address if self.client else None,
        }

    def close(self) -> None:
        if self._own_client and self.client is not None:
            self.client.close()
        self.client = None
        self._stack.close()


def make_engine(spec: ExperimentSpec, clusters: ClusterSource | None = None) -> Engine:
    """The engine for ``spec.scheduler``; cluster schedulers take their cluster from ``clusters``."""
    if spec.scheduler == "sync":
        return SyncEngine(spec)
    if spec.scheduler == "threads":
        return ThreadsEngine(spec)
    if spec.scheduler == "processes":
        return ProcessesEngine(spec)
    if spec.scheduler in CLUSTER_SCHEDULERS:
        registry = clusters if clusters is not None else _DEFAULT_REGISTRY
        handle = registry.get(spec.scheduler == "cluster-processes", spec.workers, spec.threads_per_worker)
        return DistributedEngine(spec, handle)
    return DistributedEngine(spec, None)


# --- the one run path ------------------------------------------------------------------------------


def build_graph(spec: ExperimentSpec, token: str, payload: Any = None) -> list[Delayed]:
    """``spec.tasks`` independent delayed tasks, each with its own key.

    ``delayed`` is impure by default and every key is named explicitly, so T tasks really are T
    tasks; the tutorial's ``client.map(fib, [30] * 4)`` is pure and collapses to one.
    """
    shared = delayed(payload, name=f"payload-{token}") if payload is not None else None
    return [
        delayed(measured_call)(
            spec.workload, spec.size, i, shared, spec.blas_threads, dask_key_name=f"{spec.workload}-{i}-{token}"
        )
        for i in range(spec.tasks)
    ]


def run_experiment(
    spec: ExperimentSpec,
    *,
    clusters: ClusterSource | None = None,
    progress: Progress | None = None,
) -> ExperimentResult:
    """Run ``spec`` and return its measured result.

    Parameters
    ----------
    spec : ExperimentSpec
        What to run and where.
    clusters : ClusterSource, optional
        Where cluster schedulers find (or start) their LocalCluster (a :class:`ClusterRegistry`,
        or the app's ``st.cache_resource``-backed source). Defaults to a process-wide
        registry that is closed at interpreter exit.
    progress : callable, optional
        ``progress(message, fraction)`` is called before each repeat and at the end.

    Returns
    -------
    ExperimentResult
        One row per measured repeat (wall, start-up, compute, teardown) and one row per task per
        repeat (start, end, CPU time, pid, thread, worker), with the machine's metadata.

    Raises
    ------
    EngineError
        If the engine cannot start, e.g. an external cluster is unreachable.
    """
    notify = progress or (lambda message, fraction: None)
    if not RUN_LOCK.acquire(blocking=False):
        notify("Waiting for another experiment to finish (runs never overlap: they would share cores)", 0.0)
        RUN_LOCK.acquire()
    try:
        return _run_locked(spec, clusters, notify)
    finally:
        RUN_LOCK.release()


def _run_locked(spec: ExperimentSpec, clusters: ClusterSource | None, notify: Progress) -> ExperimentResult:
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload = make_payload(int(spec.size)) if spec.workload == "transfer" else None
    engine = make_engine(spec, clusters)
    total = spec.warmup + spec.repeats
    repeats: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    values: list[Any] = []
    with ExitStack() as stack:
        stack.callback(engine.close)
        notify(f"Starting {spec.scheduler}", 0.0)
        setup_s = engine.setup()
        for i in range(total):
            measured = i >= spec.warmup
            label = f"repeat {i - spec.warmup + 1} of {spec.repeats}" if measured else f"warm-up {i + 1}"
            notify(f"{spec.scheduler}: {label}", i / total)
            graph = build_graph(spec, f"{run_id}-{i}", payload)
            t_enter = time.perf_counter()
            with engine.repeat() as compute:
                t_start = time.perf_counter()
                epoch0 = time.time()
                out = compute(graph)
                t_done = time.perf_counter()
            t_exit = time.perf_counter()
            if not measured:
                continue
            repeat = i - spec.warmup
            repeats.append(
                {
                    "repeat": repeat,
                    "startup_s": t_start - t_enter,
                    "compute_s": t_done - t_start,
                    "teardown_s": t_exit - t_done,
                    "wall_s": t_exit - t_enter,
                }
            )
            for rec in out:
                records.append({**rec, "repeat": repeat, "start_s": rec["start_epoch"] - epoch0,
                                "end_s": rec["end_epoch"] - epoch0})
            if not values:
                values = [rec["value"] for rec in sorted(out, key=lambda r: r["task"])]
        engine_info = engine.info()
    notify("Done", 1.0)
    return build_result(
        spec=spec,
        machine=machine_info(),
        run_id=run_id,
        started_at=started_at,
        setup_s=setup_s,
        engine=engine_info,
        repeats=repeats,
        records=records,
        values=values,
    )
