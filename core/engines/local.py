"""Dask's local schedulers: ``sync`` (the baseline), ``threads`` and ``processes``.

They compute in the calling thread's ``dask.compute``, which blocks inside ``dask.local.get_async`` until
the graph is done and offers no cancellation hook: a local run is watched between repeats only, and kept
short by the callers' budgets.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import dask
from dask.delayed import Delayed

from core.engines.base import Compute, EngineError
from core.engines.lifeline import init_pool_worker
from core.measure.spec import ExperimentSpec

_POOL_START_TIMEOUT_S = 60


class SyncEngine:
    """Dask's single-threaded scheduler: the baseline every speedup is measured against."""

    def __init__(self, spec: ExperimentSpec) -> None:
        self.spec = spec

    def setup(self) -> float:
        return 0.0

    def repeat(self) -> AbstractContextManager[Compute]:
        return nullcontext(lambda tasks: list(dask.compute(*tasks, scheduler="sync")))

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
        return nullcontext(lambda tasks: list(dask.compute(*tasks, scheduler="threads", pool=self.pool)))

    def verify(self) -> None:
        pass

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

    def verify(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return {"n_workers": self.spec.workers, "threads_per_worker": 1, "total_threads": self.spec.workers}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None

