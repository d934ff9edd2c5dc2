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

import asyncio
import atexit
import logging
import math
import os
import queue
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext, suppress
from datetime import datetime, timezone
from typing import Any, Protocol

import dask
import distributed  # noqa: F401  (see below)
from dask.delayed import Delayed, delayed

from core.estimate import estimate
from core.lifeline import init_pool_worker
from core.machine import machine_info
from core.results import ExperimentResult, build_result
from core.slot import RUN_SLOT, SlotStatus
from core.spec import CLUSTER_SCHEDULERS, ExperimentSpec
from core.workloads import make_payload, measured_call

# dask.compute imports distributed on its first call (to look for a default Client): ~0.25 s that
# would otherwise land inside the first measured compute of a process. Importing it here moves that
# one-time cost out of every measurement.

Progress = Callable[[str, float], None]
"""Callback ``progress(message, fraction_done)`` for front ends (the app's status box, the CLI)."""

# Two experiments measured at the same time on a 2-core machine would steal cores from each other
# and both report nonsense. Every run in this process holds core.slot.RUN_SLOT; waiters are told who
# holds it and for about how long.

_CLUSTER_CONNECT_TIMEOUT_S = 15
_POOL_START_TIMEOUT_S = 60
# How a distributed run is watched and stopped (see DistributedEngine). A slice is the longest a stop
# request, a deadline or a dead worker goes unnoticed; waiting in slices costs nothing measurable
# (the wait ends the moment the results are in, see the "overhead" note in DistributedEngine).
_WAIT_SLICE_S = 0.25
# After a cancel, tasks already on a thread keep running until they return. Give them this long to
# finish before a LocalCluster(processes=True) restarts its workers to stop them.
_CANCEL_GRACE_S = 1.0
# Threads cannot be stopped, and an external cluster is not ours to restart: wait this long at most.
_DRAIN_TIMEOUT_S = 60.0
_RESTART_TIMEOUT_S = 60
_REPAIR_TIMEOUT_S = 20
# An external address must answer the Dask handshake within this; distributed's own connect waits for
# the handshake with no timeout at all (an HTTP server on that port would hang Client() for ever).
_PROBE_TIMEOUT_S = 4.0


class EngineError(RuntimeError):
    """An engine could not start or run (e.g. an external cluster is unreachable)."""


class RunCancelled(EngineError):
    """The run was stopped because ``should_stop()`` said so; nothing of it is left running."""


class RunTimeout(EngineError):
    """The run went past its ``deadline_s`` and was stopped; the message names the limit."""


class WorkerLost(EngineError):
    """A worker died or left during the run, so some tasks ran twice: the measurement is discarded."""


def _quiet(message: str, fraction: float) -> None:
    """The default progress callback: say nothing."""


class _Watch:
    """One run's progress reports, stop requests and deadline.

    The run loop calls :meth:`check` between repeats (every engine) and a distributed engine calls
    :meth:`heartbeat` between wait slices. ``progress`` and ``should_stop`` are called from the
    thread that called :func:`run_experiment` only (Streamlit's calls must come from the script
    thread), and whatever they raise propagates unchanged.
    """

    def __init__(
        self,
        notify: Progress = _quiet,
        should_stop: Callable[[], bool] | None = None,
        deadline_s: float | None = None,
    ) -> None:
        self.notify = notify
        self.should_stop = should_stop
        self.deadline_s = deadline_s
        self.t0: float | None = None
        self.where = "start-up"
        self.index = 0
        self.total = 1

    def start(self) -> None:
        """Start the deadline's clock (after the engine's start-up: a cluster start is not compute)."""
        self.t0 = time.perf_counter()

    def stage(self, where: str, index: int, total: int) -> None:
        self.where, self.index, self.total = where, index, max(total, 1)

    def check(self) -> None:
        """Raise :class:`RunCancelled` or :class:`RunTimeout` if the run must stop now."""
        if self.should_stop is not None and self.should_stop():
            raise RunCancelled(f"the run was stopped on request (at {self.where})")
        if self.deadline_s is not None and self.t0 is not None:
            elapsed = time.perf_counter() - self.t0
            if elapsed > self.deadline_s:
                raise RunTimeout(
                    f"the run exceeded its time limit of {self.deadline_s:g} s and was stopped after"
                    f" {elapsed:.1f} s (at {self.where})"
                )

    def heartbeat(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` tasks of the current repeat, then :meth:`check`."""
        self.notify(f"{self.where}: {done} of {total} tasks done", (self.index + done / max(total, 1)) / self.total)
        self.check()


# --- cluster handles --------------------------------------------------------------------------------


_LIVE_HANDLES: weakref.WeakSet[LocalClusterHandle] = weakref.WeakSet()


@atexit.register
def close_all_clusters() -> None:
    """Close every LocalCluster this process started, now (run at interpreter exit, e.g. the app's).

    At exit nobody is left to finish a run: a server stopped by SIGTERM exits with its script
    threads still inside a run, so the clusters are closed even if a run is using them (waiting would
    leave their closing to distributed's own exit hook, after the interpreter has begun to refuse new
    threads, which logs errors).
    """
    for handle in list(_LIVE_HANDLES):
        handle.close(force=True)


class LocalClusterHandle:
    """Own one ``LocalCluster`` and its ``Client``; start lazily, share safely, close once.

    Return this holder (not the Client) from ``st.cache_resource``: Streamlit refuses to cache
    awaitables, and the holder lets an eviction wait for the runs still using the cluster instead
    of pulling it from under another session.

    Every listener binds to 127.0.0.1: a teaching app must not open its scheduler or dashboards to
    the network. ``processes=False`` clusters use the in-process transport (their only ports are the
    dashboards, on 127.0.0.1); ``processes=True`` ones put the scheduler, the nannies, the workers
    and every dashboard on 127.0.0.1 (``tests/test_security.py`` checks the kernel's list).
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
        self._broken: str | None = None
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

    @property
    def broken(self) -> str | None:
        """Why the cluster must be rebuilt before its next run, or None when it is fine."""
        return self._broken

    def mark_broken(self, reason: str) -> None:
        """Have the next :meth:`use` close this cluster and start a fresh one.

        For a cluster a run could not leave clean (a worker that would not come back, a task that
        would not stop). The app caches handles for the server's lifetime, so a handle must repair
        itself rather than wait for someone to evict it.
        """
        with self._lock:
            self._broken = reason

    def restart(self) -> bool:
        """Restart every worker process (each nanny starts a fresh one) and wait for all to return.

        Only for ``processes=True``: it is how a cancelled run's tasks that are still executing are
        stopped (a process can be killed, a thread cannot). Returns False, and marks the handle
        broken so that the next run rebuilds the cluster, if the workers do not come back.
        """
        client = self.client
        if not self.processes or client is None:
            return False
        try:
            client.restart(timeout=_RESTART_TIMEOUT_S, wait_for_workers=True)
        except Exception as exc:  # any failure means: rebuild before the next run
            self.mark_broken(f"its workers did not come back after a restart ({exc!r})")
            return False
        return True

    def _repair(self) -> float:
        """Make the cluster whole before a run; return the seconds spent starting a new one (0 if none).

        A nanny restarts a worker process that died, which takes a second or two; a run that starts
        before it is back would run on fewer workers than its spec says. Wait for it, and rebuild the
        cluster if it does not come back (or if a run marked the handle broken).
        """
        if self._broken is None and self.running:
            try:
                if self._wait_whole(_REPAIR_TIMEOUT_S):
                    return 0.0
            except Exception as exc:  # anything wrong with the old cluster: replace it
                logging.getLogger(__name__).info("rebuilding %s cluster: %r", self.shape, exc)
        self._shutdown()  # a dead or broken cluster (e.g. killed workers) is replaced, not reused
        self._broken = None
        return self._start()

    def _wait_whole(self, timeout_s: float) -> bool:
        """Wait until the scheduler knows ``n_workers`` workers, all of them live processes.

        A worker killed a moment ago may still be on the scheduler's list (its death not noticed
        yet) while its nanny starts a new one: the nannies' live worker processes tell. Returns
        False if the cluster is not whole within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            known = set(self.client.scheduler_info(n_workers=-1).get("workers", {}))
            whole = len(known) >= self.n_workers
            if whole and self.processes:
                live = {address for address, pid in self.worker_pids().items() if pid is not None}
                whole = known == live
            if whole:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def worker_pids(self) -> dict[str, int | None]:
        """Address -> pid of every worker process of a ``processes=True`` cluster (None: not alive).

        From the nannies, which run in this process and start the workers: the scheduler does not
        know its workers' pids.
        """
        import psutil  # a dependency of distributed

        out: dict[str, int | None] = {}
        if not self.processes or self.cluster is None:
            return out
        for nanny in list(getattr(self.cluster, "workers", {}).values()):
            process = getattr(nanny, "process", None)
            address = getattr(process, "worker_address", None)
            if address:
                pid = getattr(process, "pid", None)
                # The nanny notices a killed worker a moment later than the kernel does: a killed
                # child is a zombie until reaped.
                try:
                    alive = pid is not None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                except psutil.Error:
                    alive = False
                out[address] = pid if alive else None
        return out

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
            started = self._repair()
            self._users += 1
        try:
            yield self.client, started
        finally:
            with self._lock:
                self._users -= 1
                if self._close_requested and self._users == 0:
                    self._shutdown()

    def close(self, *, force: bool = False) -> None:
        """Close the cluster now, or as soon as the last run using it finishes (now if ``force``)."""
        with self._lock:
            self._close_requested = True
            if self._users == 0 or force:
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

    def verify(self) -> None:
        """Raise if the repeat that just ended cannot be trusted (called outside every stopwatch)."""

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


class DistributedEngine:
    """A ``distributed`` cluster: a reused LocalCluster, or an existing cluster by address.

    Unlike the local schedulers, a cluster computes while the calling thread only waits, so a run
    can be watched and stopped. The graph is submitted, and the wait for its results is cut into
    slices of ``_WAIT_SLICE_S``; between slices the engine reports progress, asks ``should_stop``,
    checks the deadline and checks that no worker has left (see :class:`_Watch`). A run that stops,
    for whatever reason, goes through :meth:`_abort`: its futures are cancelled and the cluster is
    left with nothing of that run still executing, ready for the next run.

    Overhead: the slices wait on the very gather that returns the results (one coroutine on the
    client's event loop, exactly what ``client.gather`` runs), so the wait ends the moment the
    results are in; a compute shorter than a slice never reaches the code between slices.
    """

    def __init__(self, spec: ExperimentSpec, handle: LocalClusterHandle | None, watch: _Watch | None = None) -> None:
        self.spec = spec
        self.handle = handle
        self.watch = watch or _Watch()
        self.client: Any = None
        self._stack = ExitStack()
        self._own_client = False
        self._workers: dict[str, Any] = {}  # address -> pid of the workers the run started with

    @property
    def where(self) -> str:
        if self.handle is None:
            return f"the cluster at {self.spec.address}"
        return f"the LocalCluster(processes={self.handle.processes})"

    def setup(self) -> float:
        if self.handle is not None:
            self.client, started = self._stack.enter_context(self.handle.use())
        else:
            t0 = time.perf_counter()
            self._connect()
            started = time.perf_counter() - t0
        self._workers = self._worker_pids()
        return started

    def _connect(self) -> None:
        from distributed import Client

        address = str(self.spec.address)
        probe_scheduler(address)
        try:
            self.client = Client(address, set_as_default=False, timeout=_CLUSTER_CONNECT_TIMEOUT_S)
        except Exception as exc:  # whatever went wrong, the user needs the address
            raise EngineError(
                f"could not connect to the cluster at {address} within {_CLUSTER_CONNECT_TIMEOUT_S} s"
                f" ({type(exc).__name__}: {exc}): is a Dask scheduler running there?"
            ) from exc
        self._own_client = True
        if not self.client.scheduler_info().get("workers"):
            raise EngineError(f"the cluster at {address} has no workers")

    def repeat(self) -> AbstractContextManager[Compute]:
        return nullcontext(self._compute)

    def _compute(self, tasks: list[Delayed]) -> list[Any]:
        with warnings.catch_warnings():
            # transfer's payload is part of the graph on purpose: shipping it is the lesson.
            warnings.filterwarnings("ignore", message=".*[Ll]arge graph.*")
            futures = self.client.compute(tasks)
        gather = self.client.gather(futures, asynchronous=True)  # the coroutine client.gather would run
        pending = asyncio.run_coroutine_threadsafe(gather, self.client.loop.asyncio_loop)
        try:
            return self._wait(pending, futures)
        except BaseException as exc:  # a stop, a deadline, a dead worker, a task's error, Streamlit's stop
            error = self._abort(futures, tasks, exc)
            # The cancelled futures end the gather; cancelling it mid-wait instead would orphan its
            # per-key waits, which asyncio then reports as "Task exception was never retrieved".
            with suppress(BaseException):
                pending.result(timeout=_CANCEL_GRACE_S)
            pending.cancel()
            if error is exc:
                raise
            raise error from exc
        finally:
            del futures

    def _wait(self, pending: Any, futures: list[Any]) -> list[Any]:
        while True:
            try:
                return list(pending.result(timeout=_WAIT_SLICE_S))
            except TimeoutError:
                if pending.done():  # a task's own TimeoutError, not the slice's
                    raise
            lost = self._lost_workers()
            if lost:
                raise WorkerLost(self._lost_message(lost, restarted=None))
            self.watch.heartbeat(sum(f.done() for f in futures), len(futures))

    def verify(self) -> None:
        """Raise :class:`WorkerLost` if a worker left during the repeat that just ended.

        A nanny restarts a killed worker and the scheduler re-runs the tasks it held on the others:
        the compute then finishes "successfully" with some tasks run twice and a time that measures
        the failure. A changed worker set (address or pid) is the evidence.
        """
        lost = self._lost_workers()
        if lost:
            restarted = self.handle.restart() if self.handle is not None and self.handle.processes else None
            raise WorkerLost(self._lost_message(lost, restarted))

    def _worker_pids(self) -> dict[str, Any]:
        """Address -> pid (None where unknown: the scheduler does not know pids) of every worker."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        known = self.handle.worker_pids() if self.handle is not None else {}
        return {address: known.get(address) for address in workers}

    def _lost_workers(self) -> dict[str, Any]:
        """Workers of the run's start that are gone now (or came back as another process)."""
        current = self._worker_pids()
        return {address: pid for address, pid in self._workers.items() if current.get(address, -1) != pid}

    def _lost_message(self, lost: dict[str, Any], restarted: bool | None) -> str:
        who = ", ".join(address + (f" (pid {pid})" if pid else "") for address, pid in sorted(lost.items()))
        worker = "worker" if len(lost) == 1 else "workers"
        if restarted is None and self.handle is not None and self.handle.processes:
            restarted = True  # _abort restarts it before this message is seen
        if self.handle is None:
            after = "its tasks would have run again and been mixed into the measurement"
        elif restarted:
            after = "the cluster was restarted"
        else:
            after = "the cluster will be rebuilt before the next run"
        return f"{worker} {who} of {self.where} died during the run; {after} — run again"

    def _graph_keys(self, futures: list[Any], tasks: list[Delayed]) -> set[Any]:
        keys = {f.key for f in futures}
        for task in tasks:
            with suppress(Exception):  # the futures' own keys are enough to go on
                keys.update(task.__dask_graph__().keys())
        return keys

    def _executing(self, keys: set[Any], wait_s: float) -> set[Any] | None:
        """Keys of this run still executing on a worker after waiting up to ``wait_s`` for them to end.

        ``client.call_stack()`` asks every worker which keys its threads are running right now (the
        scheduler forgets cancelled tasks, but a worker cannot take a running one off its thread).
        None if the cluster could not be asked.
        """
        deadline = time.monotonic() + wait_s
        while True:
            try:
                stacks = self.client.call_stack()
            except Exception:
                logging.getLogger(__name__).debug("call_stack failed", exc_info=True)
                return None
            running = {key for per_worker in stacks.values() for key in per_worker} & keys
            if not running or time.monotonic() >= deadline:
                return running
            time.sleep(0.1)

    def _abort(self, futures: list[Any], tasks: list[Delayed], exc: BaseException) -> BaseException:
        """Cancel this run's tasks and leave the cluster with none of them running; return what to raise.

        Tasks not started yet never start once cancelled. A task already on a worker thread runs to
        its end: Python cannot stop a thread from outside. So the tasks still running get a short
        grace; on a ``LocalCluster(processes=True)`` the workers are then restarted (a process can
        be killed). A ``processes=False`` cluster's threads and an external cluster (not ours to
        restart) are waited for, up to ``_DRAIN_TIMEOUT_S``: a run is already bounded by its budget.
        """
        from distributed import KilledWorker

        log = logging.getLogger(__name__)
        try:
            self.client.cancel(futures, force=True, reason="gil-lab run stopped")
        except Exception:  # a broken cluster is handled below
            log.debug("cancel failed", exc_info=True)
        try:
            lost = self._lost_workers()
        except Exception:
            lost = {}
        dead = bool(lost) or isinstance(exc, (WorkerLost, KilledWorker))
        keys = self._graph_keys(futures, tasks)
        running = self._executing(keys, _CANCEL_GRACE_S)
        restartable = self.handle is not None and self.handle.processes
        restarted: bool | None = None
        if restartable and (dead or running is None or running):
            restarted = self.handle.restart()  # type: ignore[union-attr]
        elif running:
            running = self._executing(keys, _DRAIN_TIMEOUT_S)
            if running and self.handle is not None:
                self.handle.mark_broken(f"{len(running)} cancelled task(s) would not finish")
        if dead:
            if not lost and isinstance(exc, KilledWorker):
                return WorkerLost(
                    f"a worker of {self.where} died during the run ({exc});"
                    f" {'the cluster was restarted' if restarted else 'the cluster will be rebuilt'} — run again"
                )
            if not isinstance(exc, WorkerLost) or restarted is False:
                return WorkerLost(self._lost_message(lost, restarted))
        elif running and not restartable and isinstance(exc, EngineError):
            exc.add_note(
                f"{len(running)} task(s) of this run were still running on {self.where} after"
                f" {_DRAIN_TIMEOUT_S:g} s; they will end on their own"
            )
        return exc

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


async def _identify(address: str, timeout_s: float) -> dict[str, Any]:
    from distributed.comm import connect

    comm = await connect(address, timeout=timeout_s)
    try:
        await comm.write({"op": "identity", "reply": True})
        reply = await comm.read()
    finally:
        comm.abort()
    return reply if isinstance(reply, dict) else {"type": repr(reply)[:60]}


def probe_scheduler(address: str, timeout_s: float = _PROBE_TIMEOUT_S) -> None:
    """Check, within about ``timeout_s``, that a Dask scheduler answers at ``address``.

    ``distributed.Client(address)`` retries a refused port until its timeout, then waits for the
    peer's handshake with no timeout at all: an HTTP server, or any program that is not Dask, on
    that port hangs it for ever. This probe connects once (a refused port fails at once), then
    asks the peer who it is over the Dask protocol, with a deadline.

    Raises
    ------
    EngineError
        Naming ``address``: nothing listening, no answer, not the Dask protocol, or a Dask server
        that is not a scheduler (a worker's or nanny's address).
    """
    import socket

    from distributed.comm import parse_address, parse_host_port

    try:
        _, location = parse_address(address)
        host, port = parse_host_port(location, default_port=8786)
    except ValueError as exc:
        raise EngineError(f"could not connect to {address}: not an address like tcp://host:8786 ({exc})") from exc
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except ConnectionRefusedError as exc:
        raise EngineError(
            f"could not connect to {address}: nothing is listening there (connection refused)."
            " Is a Dask scheduler running there?"
        ) from exc
    except socket.gaierror as exc:
        raise EngineError(f"could not connect to {address}: cannot find its host ({exc.strerror})") from exc
    except TimeoutError as exc:
        raise EngineError(
            f"could not connect to {address}: no answer within {timeout_s:g} s (a firewall, or a wrong host?)"
        ) from exc
    except OSError as exc:
        raise EngineError(f"could not connect to {address} ({exc})") from exc

    # In a thread of its own: the caller may be running an event loop already (a notebook), and a
    # peer that never answers must not keep anything of ours waiting past the deadline.
    outcome: dict[str, Any] = {}

    def ask() -> None:
        try:
            outcome["reply"] = asyncio.run(asyncio.wait_for(_identify(address, timeout_s), timeout_s))
        except BaseException as exc:  # reported to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=ask, name="gil-probe", daemon=True)
    thread.start()
    thread.join(timeout_s + 2.0)
    error = outcome.get("error")
    if thread.is_alive() or isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        raise EngineError(
            f"could not connect to {address}: it accepted the connection but did not answer the Dask handshake"
            f" within {timeout_s:g} s, so it is not a Dask scheduler (a web server, or another program, on that"
            " port?)"
        )
    if error is not None:
        raise EngineError(
            f"could not connect to {address}: it does not speak the Dask protocol ({type(error).__name__}:"
            f" {error}), so it is not a Dask scheduler"
        ) from error
    kind = outcome.get("reply", {}).get("type")
    if kind != "Scheduler":
        raise EngineError(
            f"could not connect to {address}: it is a Dask {kind or 'server'}, not a scheduler. Give the"
            " scheduler's address (the one `dask scheduler` prints, usually port 8786)"
        )


def make_engine(spec: ExperimentSpec, clusters: ClusterSource | None = None, *, watch: _Watch | None = None) -> Engine:
    """The engine for ``spec.scheduler``; cluster schedulers take their cluster from ``clusters``.

    ``watch`` (used by :func:`run_experiment`) lets a distributed engine report progress and stop
    mid-compute; local engines are watched between repeats by the run loop instead.
    """
    if spec.scheduler == "sync":
        return SyncEngine(spec)
    if spec.scheduler == "threads":
        return ThreadsEngine(spec)
    if spec.scheduler == "processes":
        return ProcessesEngine(spec)
    if spec.scheduler in CLUSTER_SCHEDULERS:
        registry = clusters if clusters is not None else _DEFAULT_REGISTRY
        handle = registry.get(spec.scheduler == "cluster-processes", spec.workers, spec.threads_per_worker)
        return DistributedEngine(spec, handle, watch)
    return DistributedEngine(spec, None, watch)


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
    deadline_s: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExperimentResult:
    """Run ``spec`` and return its measured result.

    A run can be stopped. Distributed engines (``cluster-threads``, ``cluster-processes``,
    ``external``) wait for each compute in slices of a quarter second and, between slices, call
    ``progress`` (tasks done so far), ``should_stop`` and check ``deadline_s``; a run that must stop
    has its tasks cancelled and leaves nothing of itself running on the cluster (a
    ``processes=True`` LocalCluster restarts its workers if a task does not end within a second;
    threads cannot be interrupted, so a ``processes=False`` or external cluster's running tasks are
    waited for). The cluster stays usable for the next run.

    Local engines (``sync``, ``threads``, ``processes``) cannot be stopped mid-compute:
    ``dask.compute`` blocks the calling thread inside ``dask.local.get_async`` until the graph is
    done and offers no cancellation hook, a thread pool's threads cannot be interrupted, and killing
    a process pool under ``get_async`` leaves it waiting for results that never come. They are
    checked between repeats (and kept short by the callers' time budgets, not here).

    Parameters
    ----------
    spec : ExperimentSpec
        What to run and where.
    clusters : ClusterSource, optional
        Where cluster schedulers find (or start) their LocalCluster (a :class:`ClusterRegistry`,
        or the app's ``st.cache_resource``-backed source). Defaults to a process-wide
        registry that is closed at interpreter exit.
    progress : callable, optional
        ``progress(message, fraction)`` is called before each repeat, between wait slices of a
        distributed compute (a heartbeat: "3 of 4 tasks done") and at the end. Called from this
        thread only. If it raises (anything, including a ``BaseException`` such as Streamlit's
        stop when its session goes away), the run is stopped as for ``should_stop`` and the same
        exception is re-raised.
    deadline_s : float, optional
        Seconds of computing allowed, counted from the end of the engine's start-up (a cluster's
        start is bounded by its own timeouts): a distributed run past it is stopped within a
        slice, a local one before its next repeat. ``None``: no limit.
    should_stop : callable, optional
        ``should_stop()`` returning True stops the run (between slices or repeats).

    Returns
    -------
    ExperimentResult
        One row per measured repeat (wall, start-up, compute, teardown) and one row per task per
        repeat (start, end, CPU time, pid, thread, worker), with the machine's metadata.

    Raises
    ------
    EngineError
        If the engine cannot start, e.g. an external cluster is unreachable or is not a Dask
        scheduler; :class:`WorkerLost` if a worker died during the run (the measurement would mix
        in re-run tasks, so none is returned; a LocalCluster is restarted, run again).
    RunCancelled
        If ``should_stop()`` returned True.
    RunTimeout
        If the run went past ``deadline_s``; the message names the limit.
    ValueError
        If ``deadline_s`` is not a positive number.
    """
    if deadline_s is not None and (
        isinstance(deadline_s, bool) or not isinstance(deadline_s, (int, float)) or math.isnan(deadline_s)
        or deadline_s <= 0
    ):
        raise ValueError(f"deadline_s must be a positive number of seconds, or None (got {deadline_s!r})")
    notify = progress or _quiet
    watch = _Watch(notify, should_stop, deadline_s)

    def waiting(status: SlotStatus) -> None:
        watch.check()  # a visitor who gives up while waiting does not wait on (the slot lets it raise)
        notify(f"Waiting for another experiment to finish (runs never overlap: they would share cores):"
               f" {status.describe()}", 0.0)

    # Waiters are told roughly how long this run has left; when the app already holds the slot for a
    # whole comparison the estimate is not needed (reentrant hold).
    expected_s = 0.0 if RUN_SLOT.held_by_me else estimate(spec).seconds
    with RUN_SLOT.hold(spec.label, estimate_s=expected_s, on_wait=waiting):
        return _run_locked(spec, clusters, watch)


def _run_locked(spec: ExperimentSpec, clusters: ClusterSource | None, watch: _Watch) -> ExperimentResult:
    notify = watch.notify
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload = make_payload(int(spec.size)) if spec.workload == "transfer" else None
    engine = make_engine(spec, clusters, watch=watch)
    total = spec.warmup + spec.repeats
    repeats: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    values: list[Any] = []
    with ExitStack() as stack:
        stack.callback(engine.close)
        notify(f"Starting {spec.scheduler}", 0.0)
        watch.check()  # a cluster's start cannot be interrupted: do not begin one for nothing
        setup_s = engine.setup()
        watch.start()
        for i in range(total):
            measured = i >= spec.warmup
            label = f"repeat {i - spec.warmup + 1} of {spec.repeats}" if measured else f"warm-up {i + 1}"
            watch.stage(f"{spec.scheduler}: {label}", i, total)
            watch.check()
            notify(f"{spec.scheduler}: {label}", i / total)
            graph = build_graph(spec, f"{run_id}-{i}", payload)
            t_enter = time.perf_counter()
            with engine.repeat() as compute:
                t_start = time.perf_counter()
                epoch0 = time.time()
                out = compute(graph)
                t_done = time.perf_counter()
            t_exit = time.perf_counter()
            engine.verify()  # outside the stopwatch: a dead worker means some tasks ran twice
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
