"""Dask's local schedulers: ``sync`` (the baseline), ``threads`` and ``processes``.

They compute in the calling thread's ``dask.compute``, which blocks inside ``dask.local.get_async`` until
the graph is done and offers no cancellation hook: a local run is watched between repeats only, and kept
short by the callers' budgets.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from typing import Any

import dask

from core.engines.base import Compute, EngineError, Work, as_delayed, pool_info
from core.spec import ExperimentSpec
from core.workers import init_pool_worker, main_not_reimported

_POOL_START_TIMEOUT_S = 60


class SyncEngine:
    """Dask's single-threaded scheduler: the baseline every speedup is measured against."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec

    def setup(self) -> float:
        return 0.0

    def repeat(self) -> AbstractContextManager[Compute]:
        return nullcontext(lambda work: list(dask.compute(*as_delayed(work), scheduler="sync")))

    def verify(self) -> None:
        pass

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
        return nullcontext(lambda work: list(dask.compute(*as_delayed(work), scheduler="threads", pool=self.pool)))

    def verify(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return pool_info(1, self.spec.workers)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


def start_pool(workers: int, workload: str) -> ProcessPoolExecutor:
    """A spawn process pool of ``workers`` processes, every one started and ready to run ``workload``.

    Spawn pools start workers on demand: one no-op per worker makes it start all of them now, and each
    worker's initializer (Dask's own worker set-up, then the imports the tasks need) reports when it is
    ready. Waiting for every report is the only reliable way to know the pool has started: warm-up
    calls alone may all be served by the first process up while the others still import.

    A worker imports what a user's worker imports and no more: Dask's worker set-up, :mod:`core.workers`
    and :mod:`core.workloads` (standard library), NumPy for NumPy workloads, and not the parent's main
    module (:func:`core.workers.main_not_reimported`): the pool's start-up is what the same pool costs in
    a user's script (``bench/startup.py``).
    """
    from dask.multiprocessing import get_context

    # Dask pins the hash seed of its workers for consistent hashing across processes.
    if os.environ.get("PYTHONHASHSEED") in (None, "0"):
        os.environ["PYTHONHASHSEED"] = "6640"
    context = get_context()
    ready = context.Queue()
    # The executor launches a worker on a submit that finds none idle, in this thread: one no-op per
    # worker launches them all, here, inside the block.
    with main_not_reimported():
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=init_pool_worker,
                                   initargs=(ready, workload))
        for _ in range(workers):
            pool.submit(os.getpid)
    await_ready(ready, workers, "process pool", abort=lambda: pool.shutdown(wait=False, cancel_futures=True),
                failed=lambda: bool(getattr(pool, "_broken", False)))
    return pool


def await_ready(ready: Any, workers: int, what: str, abort: Any, failed: Any = None) -> None:
    """Wait until ``workers`` workers have put their pid on ``ready`` (their initializer's last step).

    Calls ``abort()`` and raises :class:`EngineError` if they do not within the start-up timeout, or as
    soon as ``failed()`` says a worker died starting (the usual cause: a script that starts a pool
    without ``if __name__ == "__main__":``, whose spawned workers then fail to import it); the queue is
    closed either way.
    """
    deadline = time.monotonic() + _POOL_START_TIMEOUT_S
    try:
        got = 0
        while got < workers:
            try:
                ready.get(timeout=0.2)
                got += 1
                continue
            except queue.Empty:
                pass
            if failed is not None and failed():
                abort()
                raise EngineError(f"a worker of the {what} died while starting; a script that starts process pools"
                                  ' needs if __name__ == "__main__": around its work')
            if time.monotonic() > deadline:
                abort()
                raise EngineError(f"the {what} did not start {workers} workers within {_POOL_START_TIMEOUT_S} s")
    finally:
        ready.close()


LIVE_POOLS: weakref.WeakSet[WarmPool] = weakref.WeakSet()


def close_all_pools() -> None:
    """Shut down every warm pool this process started, now, in use or not (at exit, and after tests).

    A pool kept warm in a cache (the app's ``st.cache_resource``) is closed only when the cache evicts
    it; whoever ends the process, or a test suite between its app tests, closes the rest here.
    """
    for pool in list(LIVE_POOLS):
        pool.close(force=True)


class WarmPool:
    """A process pool kept warm between runs: one per shape in a registry (the app caches them).

    A reused pool pays its start-up (about 0.35 s for four workers on two cores; a second before its
    workers stopped importing ``core.engines``, see :mod:`core.workers`) once, not on every click. The
    holder starts lazily with ``start()``, replaces a pool that ``healthy(pool)`` says is broken or that
    an engine :meth:`discard`-ed after a failed compute, and is closed by its registry (``stop(pool)``)
    once the last run using it has ended. Any pool works: Dask's spawn pool (the
    default, :func:`start_pool`), a ``ProcessPoolExecutor``, a ``multiprocessing.Pool``, joblib's loky.
    """

    def __init__(self, workers: int, numpy: bool, *, start: Callable[[], Any] | None = None,
                 stop: Callable[[Any], None] | None = None, healthy: Callable[[Any], bool] | None = None) -> None:
        self.workers = workers
        self.numpy = numpy
        self._start = start or (lambda: start_pool(workers, "numpy-matmul" if numpy else "fib"))
        self._stop = stop or (lambda pool: pool.shutdown(wait=True))
        self._healthy = healthy or (lambda pool: not getattr(pool, "_broken", False))
        self.pool: Any = None
        self._lock = threading.Lock()
        self._closed = False
        self._users = 0
        LIVE_POOLS.add(self)

    @property
    def closed(self) -> bool:
        return self._closed

    @contextmanager
    def use(self) -> Iterator[tuple[Any, float]]:
        """Yield ``(pool, seconds spent starting it now)``: 0 when it was already warm."""
        with self._lock:
            if self._closed:
                raise EngineError("this process pool has been closed")
            started = 0.0
            if self.pool is not None and not self._healthy(self.pool):
                stale, self.pool = self.pool, None
                with contextlib.suppress(Exception):  # it is broken already: only its resources are left
                    self._stop(stale)
            if self.pool is None:
                t0 = time.perf_counter()
                self.pool = self._start()
                started = time.perf_counter() - t0
            pool = self.pool
            self._users += 1
        try:
            yield pool, started
        finally:
            with self._lock:
                self._users -= 1
                last = self._closed and self._users == 0
            if last:
                self._shutdown()

    def discard(self, pool: Any) -> None:
        """Forget ``pool`` (an engine killed it after a failed compute): the next run starts a fresh one."""
        with self._lock:
            if self.pool is pool:
                self.pool = None

    def close(self, *, force: bool = False) -> None:
        """Close the pool as soon as the last run using it ends (now if ``force``: at exit).

        An evicted cache entry must not pull the pool from under a run: a measurement may hold more
        pools than the cache keeps.
        """
        with self._lock:
            self._closed = True
            idle = self._users == 0
        if idle or force:
            self._shutdown()

    def _shutdown(self) -> None:
        with self._lock:
            pool, self.pool = self.pool, None
        if pool is not None:
            self._stop(pool)


class ProcessesEngine:
    """Dask's multiprocessing scheduler, with its real behaviour made measurable.

    Dask starts a new spawn pool on every compute and shuts it down afterwards; we do the same
    (unless ``reuse_pool``), but start the pool *before* the stopwatch for compute starts and wait
    until every worker has imported what the tasks need, so start-up is reported on its own line.
    With ``reuse_pool`` one pool serves every repeat: a warm one from ``pools`` (a registry's
    :class:`WarmPool`, kept between runs) when given, else one started for this run.
    ``chunksize`` is passed through: Dask's default of 6 would put a 4-task graph in one process.
    """

    def __init__(self, spec: ExperimentSpec, pools: Any = None) -> None:
        self.spec = spec
        self.pools = pools
        self.pool: ProcessPoolExecutor | None = None
        self._own_pool = False
        self._stack = ExitStack()

    def setup(self) -> float:
        if not self.spec.reuse_pool:
            return 0.0
        warm = getattr(self.pools, "pool", None)
        if warm is not None:
            handle = warm(self.spec.workers, self.spec.workload.startswith("numpy"))
            self.pool, started = self._stack.enter_context(handle.use())
            return started
        t0 = time.perf_counter()
        self.pool = start_pool(self.spec.workers, self.spec.workload)
        self._own_pool = True
        return time.perf_counter() - t0

    @contextmanager
    def repeat(self) -> Iterator[Compute]:
        pool = self.pool if self.spec.reuse_pool else start_pool(self.spec.workers, self.spec.workload)
        assert pool is not None

        def compute(work: Work) -> list[Any]:
            return list(
                dask.compute(*as_delayed(work), scheduler="processes", pool=pool, chunksize=self.spec.chunksize)
            )

        try:
            yield compute
        finally:
            if not self.spec.reuse_pool:
                pool.shutdown(wait=True)

    def verify(self) -> None:
        if self.pool is not None and getattr(self.pool, "_broken", False):
            raise EngineError(f"a worker process of the {self.spec.workers}-process pool died during the run;"
                              " run again (a fresh pool is started)")

    def info(self) -> dict[str, Any]:
        return pool_info(self.spec.workers, 1)

    def close(self) -> None:
        self._stack.close()
        if self._own_pool and self.pool is not None:
            self.pool.shutdown(wait=True)
        self.pool = None
