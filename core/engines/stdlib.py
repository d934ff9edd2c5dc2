"""Python's own pools, beyond Dask: ``concurrent.futures`` threads and processes, and ``multiprocessing.Pool``.

The GIL is Python's, not Dask's: these engines run the very same tasks (:func:`core.workloads.measured_call`,
as plain ``(function, args)`` calls of a :class:`~core.engines.base.Work`) through the one run path, so
their numbers compare with Dask's directly.

* ``futures-threads``: ``ThreadPoolExecutor(workers)``, one ``submit`` per task.
* ``futures-processes``: ``ProcessPoolExecutor(workers)`` on spawn, tasks sent ``chunksize`` at a time
  (what ``map(..., chunksize=n)`` does: one submission per chunk).
* ``multiprocessing``: ``multiprocessing.Pool(workers)`` on spawn, ``imap(..., chunksize=n)``.

Process pools are spawn pools (the default on macOS and Windows, safe in a process with threads such as
the app's server), started exactly as the ``processes`` engine starts its pool: every worker's initializer
imports what the tasks need and reports ready, and the pool counts as started only when all have
(:func:`core.engines.local.await_ready`). With ``reuse_pool`` one pool serves every repeat and its start-up
is reported once, apart; without, each compute starts and stops its own pool, outside the compute's
stopwatch (its start-up and teardown columns). A worker imports only the standard library, :mod:`core.workers`,
:mod:`core.workloads` and the workload's own imports, never the parent's main module, so a pool starts as fast
as a user's own (:mod:`core.workers`). Unlike Dask's local schedulers, these pools are waited for
in slices, so a stop request or a deadline is noticed mid-compute: a process pool's workers are then
killed (nothing of the run is left running); a thread cannot be stopped, so its running tasks are waited for.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

from core.engines.base import Compute, EngineError, Watch, Work, as_calls, pool_info
from core.engines.local import ThreadsEngine, await_ready
from core.spec import ExperimentSpec
from core.workers import init_plain_worker, main_not_reimported, run_calls

# The longest a stop request, a deadline or a dead worker goes unnoticed while a compute runs; waiting
# in slices adds nothing measurable (each wait returns the moment the results are in).
_WAIT_SLICE_S = 0.25
# How long Pool.terminate() may take before its workers are killed directly (see MultiprocessingEngine._kill).
_TERMINATE_WAIT_S = 5.0


def spawn_context() -> Any:
    """The start method of every process pool here: spawn (see the module docstring)."""
    return multiprocessing.get_context("spawn")


def wait_futures(futures: list[Future], tasks_per_future: list[int], watch: Watch | None,
                 abort: Callable[[], None]) -> list[Any]:
    """The futures' results in order, waiting in slices and reporting progress; the first exception ends it.

    ``abort()`` runs before anything is raised (a stop request, the deadline, a task's exception), so a
    pool is left with nothing of this compute running or queued.
    """
    total = sum(tasks_per_future)
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=_WAIT_SLICE_S, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if not f.cancelled() and f.exception() is not None]
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            if pending and watch is not None:
                finished = sum(n for f, n in zip(futures, tasks_per_future, strict=True) if f.done())
                watch.heartbeat(finished, total)
    except BaseException:
        abort()
        raise
    return [f.result() for f in futures]


class FuturesThreadsEngine(ThreadsEngine):
    """``concurrent.futures.ThreadPoolExecutor(workers)``: one pool for all repeats, one submit per task.

    Threads of one process share one GIL, exactly as Dask's ``threads`` scheduler's do (it runs on a
    ThreadPoolExecutor too, started and closed the same way): only Dask's own scheduling differs.
    """

    def __init__(self, spec: ExperimentSpec, watch: Watch | None = None) -> None:
        super().__init__(spec)
        self.watch = watch

    @contextmanager
    def repeat(self) -> Iterator[Compute]:  # type: ignore[override]
        pool = self.pool
        assert pool is not None, "setup() first"

        def compute(work: Work) -> list[Any]:
            futures = [pool.submit(func, *args) for func, args in as_calls(work)]
            # A running thread cannot be stopped: cancel what has not started, the rest ends on its own.
            return wait_futures(futures, [1] * len(futures), self.watch,
                                abort=lambda: [f.cancel() for f in futures])

        yield compute


class _ProcessPoolBase:
    """What the two process pools share: a pool per run (``reuse_pool``) or per compute, always closed."""

    what = "process pool"

    def __init__(self, spec: ExperimentSpec, watch: Watch | None = None, pools: Any = None) -> None:
        self.spec = spec
        self.watch = watch
        self.pools = pools
        self.pool: Any = None
        self._broken = False
        self._warm: Any = None
        self._stack = ExitStack()

    # -- what each pool does -----------------------------------------------------------------------

    def _start(self) -> Any:
        raise NotImplementedError

    def _run(self, pool: Any, calls: list[Any]) -> list[Any]:
        raise NotImplementedError

    def _stop(self, pool: Any) -> None:
        raise NotImplementedError

    def _kill(self, pool: Any) -> None:
        raise NotImplementedError

    # -- the Engine protocol -----------------------------------------------------------------------

    def _healthy(self, pool: Any) -> bool:
        return True

    def setup(self) -> float:
        if not self.spec.reuse_pool:
            return 0.0
        warm = getattr(self.pools, "pool", None)
        if warm is not None:  # a registry's warm pool of this engine and size: started once, kept between runs
            self._warm = warm(self.spec.workers, self.spec.workload.startswith("numpy"), self.spec.scheduler,
                              start=self._start, stop=self._stop, healthy=self._healthy)
            self.pool, started = self._stack.enter_context(self._warm.use())
            return started
        t0 = time.perf_counter()
        self.pool = self._start()
        return time.perf_counter() - t0

    @contextmanager
    def repeat(self) -> Iterator[Compute]:
        pool = self.pool if self.spec.reuse_pool else self._start()
        assert pool is not None, "setup() first"

        def compute(work: Work) -> list[Any]:
            try:
                return self._run(pool, as_calls(work))
            except BaseException:
                # A stopped or failed compute may leave tasks running in the workers: kill them, so that
                # nothing of the run outlives it (the next run starts a fresh pool).
                self._kill(pool)
                self._broken = True
                if self._warm is not None:
                    self._warm.discard(pool)
                raise

        try:
            yield compute
        finally:
            if not self.spec.reuse_pool:
                self._stop(pool)

    def verify(self) -> None:
        if self._broken:
            raise EngineError(f"a worker of the {self.spec.workers}-process {self.what} failed during the run")

    def info(self) -> dict[str, Any]:
        return pool_info(self.spec.workers, 1)

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if self._warm is not None:
            self._stack.close()  # back to the registry, still warm
        elif pool is not None:
            self._stop(pool)


class FuturesProcessesEngine(_ProcessPoolBase):
    """``concurrent.futures.ProcessPoolExecutor(workers)`` on spawn, ``chunksize`` tasks per submission."""

    what = "ProcessPoolExecutor"

    def _start(self) -> ProcessPoolExecutor:
        context = spawn_context()
        ready = context.Queue()
        # The executor starts its workers as work arrives: one no-op each makes it start all of them now,
        # in this thread, without re-running the parent's main (core.workers.main_not_reimported).
        with main_not_reimported():
            pool = ProcessPoolExecutor(self.spec.workers, mp_context=context, initializer=init_plain_worker,
                                       initargs=(ready, self.spec.workload))
            for _ in range(self.spec.workers):
                pool.submit(int)
        await_ready(ready, self.spec.workers, self.what, abort=lambda: self._kill(pool),
                    failed=lambda: bool(getattr(pool, "_broken", False)))
        return pool

    def _run(self, pool: ProcessPoolExecutor, calls: list[Any]) -> list[Any]:
        # What ProcessPoolExecutor.map(fn, items, chunksize=n) does (one submission per chunk), with
        # futures that can be waited for in slices (map's iterator ends for good at its first timeout).
        from concurrent.futures.process import BrokenProcessPool

        size = self.spec.chunksize
        chunks = [calls[i:i + size] for i in range(0, len(calls), size)]
        futures = [pool.submit(run_calls, chunk) for chunk in chunks]
        try:
            results = wait_futures(futures, [len(c) for c in chunks], self.watch,
                                   abort=lambda: [f.cancel() for f in futures])
        except BrokenProcessPool as exc:
            raise EngineError(f"a worker process of the {self.what} died during the compute ({exc})") from None
        return [value for chunk in results for value in chunk]

    def _stop(self, pool: ProcessPoolExecutor) -> None:
        pool.shutdown(wait=True, cancel_futures=True)

    def _healthy(self, pool: ProcessPoolExecutor) -> bool:
        return not getattr(pool, "_broken", False)

    def _kill(self, pool: ProcessPoolExecutor) -> None:
        kill = getattr(pool, "kill_workers", None)  # Python 3.14+
        if kill is not None:
            kill()
        else:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        pool.shutdown(wait=True, cancel_futures=True)


class MultiprocessingEngine(_ProcessPoolBase):
    """``multiprocessing.Pool(workers)`` on spawn, ``imap(..., chunksize)``: the oldest process pool."""

    what = "multiprocessing.Pool"

    def _start(self) -> Any:
        context = spawn_context()
        ready = context.Queue()
        # Pool starts every worker at once, in its constructor; each reports ready from its initializer.
        with main_not_reimported():
            pool = context.Pool(self.spec.workers, initializer=init_plain_worker,
                                initargs=(ready, self.spec.workload))
        started = self._pids(pool)  # Pool replaces a worker that dies: a new pid means one did
        await_ready(ready, self.spec.workers, self.what, abort=lambda: self._kill(pool),
                    failed=lambda: self._pids(pool) != started)
        return pool

    def _run(self, pool: Any, calls: list[Any]) -> list[Any]:
        # imap over chunks, not map: its iterator can be waited on in slices (a task's exception is re-raised
        # here), and chunks of `chunksize` calls are what Pool.map(..., chunksize) sends (imap's own chunksize
        # would hide the iterator behind a generator). A worker that dies makes Pool start another and lose
        # the task for ever: the slices and the deadline are what end such a compute.
        workers = self._pids(pool)
        size = self.spec.chunksize
        results = pool.imap(run_calls, [calls[i:i + size] for i in range(0, len(calls), size)])
        out: list[Any] = []
        while len(out) < len(calls):
            try:
                out.extend(results.next(timeout=_WAIT_SLICE_S))
            except multiprocessing.TimeoutError:
                if self._pids(pool) != workers:
                    raise EngineError(f"a worker process of the {self.what} died during the compute; its tasks"
                                      " would never return (Pool replaces the process, not its work)") from None
                if self.watch is not None:
                    self.watch.heartbeat(len(out), len(calls))
        return out

    @staticmethod
    def _pids(pool: Any) -> set[int]:
        return {p.pid for p in getattr(pool, "_pool", [])}

    def _healthy(self, pool: Any) -> bool:
        # Pool quietly replaces a worker that died, losing its task: a warm pool with a dead worker is not reused.
        workers = list(getattr(pool, "_pool", []))
        return len(workers) == self.spec.workers and all(p.is_alive() for p in workers)

    def _stop(self, pool: Any) -> None:
        pool.close()
        pool.join()

    def _kill(self, pool: Any) -> None:
        # Pool.terminate() can wait for ever: a worker terminated while it held one of the queues' locks (the
        # result queue's, writing a result; the task queue's, waiting for a task) takes it along, and
        # terminate() waits for that lock (seen in CI: a function that fails in every worker at once). So it
        # runs in a helper thread. If it has not returned in time, every worker is killed here. The locks are
        # semaphores, owned by no one: with no worker left, a lock still taken is one a dead worker took, and it
        # is freed, so terminate() finishes. No process and no thread of the run outlives it.
        terminate = threading.Thread(target=pool.terminate, name="gil-lab-pool-terminate", daemon=True)
        terminate.start()
        terminate.join(_TERMINATE_WAIT_S)
        if terminate.is_alive():
            for process in list(getattr(pool, "_pool", [])):
                with suppress(Exception):  # gone already: nothing to kill
                    process.kill()
                    process.join(_TERMINATE_WAIT_S)
            for _ in range(3):  # terminate() takes the locks one after another
                for queue, name in (("_inqueue", "_rlock"), ("_outqueue", "_wlock")):
                    lock = getattr(getattr(pool, queue, None), name, None)
                    if lock is None:
                        continue
                    if lock.acquire(False):
                        lock.release()  # free: not what terminate() waits for
                    else:
                        with suppress(ValueError):  # freed meanwhile
                            lock.release()
                terminate.join(1.0)
                if not terminate.is_alive():
                    break
        if not terminate.is_alive():  # else pool.join() would wait on the same handler threads
            pool.join()
