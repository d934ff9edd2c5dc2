"""Distributed clusters: LocalClusters owned by reusable handles, reused across runs, closed once.

Clusters are expensive to start (a second or more, per process), so they are owned by long-lived
handles (:class:`LocalClusterHandle`) that are reused across runs of the same shape; the start-up
cost is reported once, in the run that paid it, never hidden in a compute time. The engine that runs
on them, and on an existing cluster by address, is :mod:`core.engines.cluster_engine`'s.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import Any, Protocol

from core.engines.base import EngineError
from core.workers import main_not_reimported

_RESTART_TIMEOUT_S = 60
_REPAIR_TIMEOUT_S = 20


# --- cluster handles --------------------------------------------------------------------------------


def current_workers(client: Any) -> dict[str, dict[str, Any]]:
    """Address -> identity of every worker the scheduler knows *now*, asked of the scheduler itself.

    Not ``client.scheduler_info(n_workers=-1)``: in distributed 2026.8 it fetches the identity into
    ``client._scheduler_identity`` and then returns that attribute, which the client's periodic
    ``_update_scheduler_info`` (every 2 s, with ``n_workers=0``: totals only, no per-worker entries) may
    overwrite in between. On a loaded machine that happens, and a caller comparing worker sets then
    sees every worker "gone" while none died. Asking the scheduler's ``identity`` handler directly
    returns this call's own answer.
    """
    info = client.sync(client.scheduler.identity, n_workers=-1)
    return dict(info.get("workers", {}))


_LIVE_HANDLES: weakref.WeakSet[LocalClusterHandle] = weakref.WeakSet()


def park_idle_clusters(keep: Iterable[LocalClusterHandle | None] = ()) -> int:
    """Stop every LocalCluster of this process that no run is using, except those in ``keep``.

    Called by every measurement before it starts (``keep``: the clusters it measures): the lab's own
    idle clusters would take CPU that neither its arms nor the noise monitor account for (see
    :meth:`LocalClusterHandle.park`). Their handles stay where they are kept (a registry, the app's
    cache); the next run of such a shape starts it again and reports that start-up. Returns how many
    clusters were stopped.
    """
    kept = {id(h) for h in keep if h is not None}
    return sum(handle.park() for handle in list(_LIVE_HANDLES) if id(handle) not in kept)


@atexit.register
def close_all_clusters() -> None:
    """Close every LocalCluster and warm pool this process started, now (at interpreter exit, e.g. the app's).

    At exit nobody is left to finish a run: a server stopped by SIGTERM exits with its script
    threads still inside a run, so the clusters are closed even if a run is using them (waiting would
    leave their closing to distributed's own exit hook, after the interpreter has begun to refuse new
    threads, which logs errors).
    """
    from core.engines.local import close_all_pools

    for handle in list(_LIVE_HANDLES):
        handle.close(force=True)
    close_all_pools()  # the warm process pools go the same way: nothing of the lab outlives it


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
            known = set(current_workers(self.client))
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
        # Its nannies spawn the worker processes while the constructor waits for them: without the parent's
        # main, or each worker of the app's server re-runs streamlit_app.py (import streamlit), see core.workers.
        # (A worker a nanny restarts later re-imports it: slower, still correct.)
        with main_not_reimported() if self.processes else nullcontext():
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
        from core.engines.quiet import HeartbeatGuard

        # Before the workers are awaited, so that every worker has it (see core.engines.quiet).
        self.client.register_plugin(HeartbeatGuard())
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

    def park(self) -> bool:
        """Stop the cluster if no run is using it; the handle stays, and its next :meth:`use` starts a fresh one.

        A LocalCluster is never idle: its scheduler, nannies and workers heartbeat, profile and monitor.
        Two kept clusters (1×2 threads, 2×1 processes) took 0.17 cores here doing nothing, about 0.07 of
        it in this process. The noise monitor subtracts the lab's whole process tree, so that CPU counts
        as the lab's own, and a comparison measured beside kept clusters ran on less of the machine
        than its "other programs" line said (a warm process pool was called "about the same"
        as sync, at 1.16×, with others at 0.17). Returns whether a running cluster was stopped.
        """
        with self._lock:
            if self._users or self._close_requested or (self.cluster is None and self.client is None):
                return False
            self._shutdown()
            return True

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
        try:
            close_cluster(client, cluster)
        except Exception:  # closing is best effort; never mask the caller's own error
            logging.getLogger(__name__).debug("error while closing %r", cluster, exc_info=True)


def close_cluster(client: Any, cluster: Any = None) -> None:
    """Close ``client`` and its LocalCluster ``cluster`` in the order that cannot race a heartbeat.

    Every worker first stops heartbeating and waits for a heartbeat in flight to end
    (:func:`core.engines.quiet.stop_heartbeats`), while the scheduler still answers; then the client
    closes, then the cluster (its workers, then its scheduler). A worker that closes with a heartbeat in
    flight logs a traceback from its own process (see :mod:`core.engines.quiet`); with none in flight there
    is nothing to cut. Each step is attempted even if the one before failed (a dead cluster still closes).
    """
    from core.engines.quiet import stop_heartbeats

    if client is not None:
        with suppress(Exception):  # a cluster whose workers died: nothing left to stop
            client.run(stop_heartbeats, wait=True)
    for obj in (client, cluster):
        if obj is not None:
            try:
                obj.close()
            except Exception:
                logging.getLogger(__name__).debug("error while closing %r", obj, exc_info=True)


class ClusterRegistry:
    """LocalCluster handles keyed by shape, and warm process pools keyed by size: reused by every run.

    Runs of the same shape share one LocalCluster; ``processes`` runs with ``reuse_pool`` share one
    warm spawn pool per worker count (:class:`core.engines.local.WarmPool`). The CLI and the tests use
    one registry and close it at the end; the app keeps one handle per shape in ``st.cache_resource``
    instead (see ``pages/shell/resources.py``).
    """

    def __init__(self) -> None:
        self._handles: dict[tuple[bool, int, int], LocalClusterHandle] = {}
        self._pools: dict[tuple[str, int, bool], Any] = {}
        self._lock = threading.Lock()

    def get(self, processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
        key = (processes, n_workers, threads_per_worker)
        with self._lock:
            # A handle someone closed stays closed; the next run of that shape gets a fresh cluster.
            if key not in self._handles or self._handles[key].closed:
                self._handles[key] = LocalClusterHandle(*key)
            return self._handles[key]

    def pool(self, workers: int, numpy: bool, engine: str = "processes", **how: Any) -> Any:
        """The warm pool of ``engine`` with ``workers`` processes (NumPy imported in each when ``numpy``).

        ``how`` (``start``, ``stop``, ``healthy``) says how to run another kind of pool than Dask's spawn
        pool (see :class:`core.engines.local.WarmPool`); one holder per (engine, workers, numpy).
        """
        from core.engines.local import WarmPool

        key = (engine, workers, numpy)
        with self._lock:
            if key not in self._pools or self._pools[key].closed:
                self._pools[key] = WarmPool(workers, numpy, **how)
            return self._pools[key]

    def close(self) -> None:
        with self._lock:
            handles, self._handles = list(self._handles.values()), {}
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
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
