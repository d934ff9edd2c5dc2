"""joblib, scikit-learn's parallel engine: ``Parallel(n_jobs=workers)`` on loky processes or on threads.

* ``joblib-loky``: joblib's default backend, loky's reusable executor of worker processes (each with
  its own GIL). loky keeps ONE executor per process and reuses it between ``Parallel`` calls of the same
  shape, which is why a comparison may hold one ``joblib-loky`` shape only (two sizes would resize it
  every round). With ``reuse_pool`` the executor is started before the repeats and kept for all of
  them; without, every compute starts a fresh one and shuts it down afterwards, both outside the
  compute's stopwatch. A ``reuse_pool`` run given a registry (the app's, the CLI's) keeps the executor
  warm there, as the other process pools are kept, so a comparison does not pay loky's start (about
  0.4 s for four workers on two cores) on every click; the registry shuts it down when it closes.
  Without a registry it is shut down when the run ends: no loky worker outlives a bare run.
* ``joblib-threads``: ``backend="threading"``, a thread pool in this process (one GIL).

``chunksize`` is joblib's ``batch_size``. A ``Parallel`` call blocks its caller with no cancellation
hook, like Dask's local schedulers: these engines are watched between repeats, and budgets keep a compute
short. With ``n_jobs=1`` joblib runs the tasks in the calling thread (no pool at all), as it does for
its users.

joblib is imported when an engine starts, not when this module is: ``python -m core --help`` stays fast.
loky's workers never re-run the parent's main module (its own start method leaves it out), and the
barrier they run first lives in the light :mod:`core.workers`: a worker imports joblib, loky and
:mod:`core.workloads`, what a user's ``Parallel`` worker imports.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from core.engines.base import Compute, EngineError, Watch, Work, as_calls, pool_info
from core.spec import ExperimentSpec
from core.workers import ready_barrier

_POOL_START_TIMEOUT_S = 60


def shutdown_loky(kill_workers: bool = False) -> None:
    """Shut loky's reusable executor down if one exists (never starts one), and wait for its workers.

    loky keeps the executor in a module global and its workers alive for 300 s of idleness; joblib
    offers no public call to end it, and ``get_reusable_executor()`` would create one to shut down.
    """
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is None:
        return
    terminate = getattr(executor, "terminate", None)  # joblib's MemmappingExecutor: also its temp folder
    if terminate is not None:
        terminate(kill_workers=kill_workers)
    else:
        executor.shutdown(wait=True, kill_workers=kill_workers)


def _worker_died(exc: BaseException) -> bool:
    return type(exc).__name__ in ("TerminatedWorkerError", "BrokenProcessPool")


class _JoblibEngine:
    """What both joblib engines share: a ``Parallel`` object entered once (its pool kept) and closed."""

    backend = "threading"

    def __init__(self, spec: ExperimentSpec, watch: Watch | None = None) -> None:
        self.spec = spec
        self.watch = watch
        self.parallel: Any = None

    def _open(self) -> Any:
        from joblib import Parallel

        parallel = Parallel(n_jobs=self.spec.workers, backend=self.backend, batch_size=self.spec.chunksize)
        parallel.__enter__()  # a managed Parallel keeps its backend's pool between calls
        return parallel

    def _close(self, parallel: Any) -> None:
        parallel.__exit__(None, None, None)

    def _run(self, parallel: Any, work: Work) -> list[Any]:
        from joblib import delayed

        try:
            return list(parallel(delayed(func)(*args) for func, args in as_calls(work)))
        except Exception as exc:
            if _worker_died(exc):
                raise EngineError(f"a worker of joblib's {self.backend} backend died during the compute"
                                  f" ({type(exc).__name__})") from None
            raise

    def setup(self) -> float:
        t0 = time.perf_counter()
        self.parallel = self._open()
        return time.perf_counter() - t0

    @contextmanager
    def repeat(self) -> Iterator[Compute]:
        parallel = self.parallel
        assert parallel is not None, "setup() first"
        yield lambda work: self._run(parallel, work)

    def verify(self) -> None:
        pass

    def info(self) -> dict[str, Any]:
        return pool_info(1, self.spec.workers)

    def close(self) -> None:
        parallel, self.parallel = self.parallel, None
        if parallel is not None:
            self._close(parallel)


class JoblibThreadsEngine(_JoblibEngine):
    """``joblib.Parallel(n_jobs=workers, backend="threading")``: threads of this process, one GIL."""

    backend = "threading"


def _current_executor() -> Any:
    from joblib.externals.loky import reusable_executor

    return getattr(reusable_executor, "_executor", None)


class JoblibLokyEngine(_JoblibEngine):
    """``joblib.Parallel(n_jobs=workers)`` on loky processes (joblib's default backend)."""

    backend = "loky"

    def __init__(self, spec: ExperimentSpec, watch: Watch | None = None, pools: Any = None) -> None:
        super().__init__(spec, watch)
        self.pools = pools
        self._warm: Any = None
        self._stack = ExitStack()

    # -- the warm executor a registry keeps ------------------------------------------------------------

    def _start_executor(self) -> Any:
        """Start loky's executor with every worker ready, and return it (the registry's pool object)."""
        try:
            self._await_workers()
        except BaseException:
            shutdown_loky(kill_workers=True)
            raise
        return _current_executor()

    def _executor_alive(self, executor: Any) -> bool:
        """Whether ``executor`` is still loky's executor, unbroken and of this size (another shape resizes it)."""
        flags = getattr(executor, "_flags", None)
        return (executor is not None and executor is _current_executor()
                and getattr(executor, "_max_workers", None) == self.spec.workers
                and not getattr(flags, "broken", None) and not getattr(flags, "shutdown", False))

    @staticmethod
    def _stop_executor(executor: Any) -> None:
        if executor is not None and executor is _current_executor():  # never another holder's new executor
            shutdown_loky()

    def _open(self) -> Any:
        try:
            parallel = super()._open()
            self._await_workers()
        except BaseException:
            shutdown_loky(kill_workers=True)
            raise
        return parallel

    def _close(self, parallel: Any) -> None:
        try:
            super()._close(parallel)
        finally:
            if self._warm is None:
                shutdown_loky()

    def _await_workers(self) -> None:
        """Return once every loky worker has started and imported what the tasks need.

        loky takes no initializer through ``Parallel``, so a barrier stands in for the ready queue of the
        other pools (:func:`core.workers.ready_barrier`): one task per worker, each returning
        only when all of them run. It shares the executor the measured ``Parallel`` uses (same shape).
        """
        from joblib import Parallel, delayed

        directory = tempfile.mkdtemp(prefix="gil-lab-ready-")
        try:
            Parallel(n_jobs=self.spec.workers, backend="loky", batch_size=1)(
                delayed(ready_barrier)(directory, self.spec.workers, self.spec.workload, _POOL_START_TIMEOUT_S)
                for _ in range(self.spec.workers))
        except TimeoutError as exc:
            raise EngineError(f"joblib's loky executor did not start {self.spec.workers} workers: {exc}") from None
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def setup(self) -> float:
        warm = getattr(self.pools, "pool", None) if self.spec.reuse_pool else None
        if warm is None:
            # This run starts its own executor (per compute, or one for the run). loky keeps one per process,
            # and one still running (a registry's warm one, of this very shape) would be handed over by
            # Parallel as if it had just started: end it here, outside every stopwatch.
            shutdown_loky()
        if not self.spec.reuse_pool:
            return 0.0
        if warm is None:
            return super().setup()
        self._warm = warm(self.spec.workers, self.spec.workload.startswith("numpy"), self.spec.scheduler,
                          start=self._start_executor, stop=self._stop_executor, healthy=self._executor_alive)
        _, started = self._stack.enter_context(self._warm.use())
        self.parallel = _JoblibEngine._open(self)  # a Parallel of the same shape: loky hands it the warm executor
        return started

    @contextmanager
    def repeat(self) -> Iterator[Compute]:
        if self.spec.reuse_pool:
            with super().repeat() as compute:
                yield compute
            return
        parallel = self._open()  # a fresh executor for this compute: its start-up is this repeat's
        try:
            yield lambda work: self._run(parallel, work)
        finally:
            self._close(parallel)

    def _run(self, parallel: Any, work: Work) -> list[Any]:
        try:
            return super()._run(parallel, work)
        except BaseException:
            # Other tasks of this compute may still run in the workers: end them with the executor.
            executor = _current_executor()
            shutdown_loky(kill_workers=True)
            if self._warm is not None:
                self._warm.discard(executor)
            raise

    def info(self) -> dict[str, Any]:
        return pool_info(self.spec.workers, 1)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._warm is not None:
                self._stack.close()  # back to the registry, still warm
            else:
                shutdown_loky()  # whatever happened, no loky worker outlives a bare run
