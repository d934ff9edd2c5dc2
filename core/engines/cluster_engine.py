"""The engine of a distributed cluster: a run on a LocalCluster handle or an existing cluster by address.

Unlike the local schedulers, a cluster computes while the calling thread only waits, so a run can
be watched and stopped (see :class:`DistributedEngine`). The clusters themselves, and the handles
that own them, are :mod:`core.engines.cluster`'s.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import warnings
from contextlib import AbstractContextManager, ExitStack, nullcontext, suppress
from typing import Any

from dask.delayed import Delayed
from dask.typing import no_default

from core.engines.base import Compute, EngineError, Watch, Work, WorkerLost, as_delayed
from core.engines.cluster import LocalClusterHandle, current_workers
from core.spec import ExperimentSpec

_CLUSTER_CONNECT_TIMEOUT_S = 15
# How a distributed run is watched and stopped (see DistributedEngine). A slice is the longest a stop
# request, a deadline or a dead worker goes unnoticed; waiting in slices costs nothing measurable
# (the wait ends the moment the results are in, see the "overhead" note in DistributedEngine).
_WAIT_SLICE_S = 0.25
# After a cancel, tasks already on a thread keep running until they return. Give them this long to
# finish before a LocalCluster(processes=True) restarts its workers to stop them.
_CANCEL_GRACE_S = 1.0
# Threads cannot be stopped, and an external cluster is not ours to restart: wait this long at most.
_DRAIN_TIMEOUT_S = 60.0
# An external address must answer the Dask handshake within this; distributed's own connect waits for
# the handshake with no timeout at all (an HTTP server on that port would hang Client() for ever).
_PROBE_TIMEOUT_S = 4.0


class DistributedEngine:
    """A ``distributed`` cluster: a reused LocalCluster, or an existing cluster by address.

    Unlike the local schedulers, a cluster computes while the calling thread only waits, so a run
    can be watched and stopped. The graph is submitted, and the wait for its results is cut into
    slices of ``_WAIT_SLICE_S``; between slices the engine reports progress, asks ``should_stop``,
    checks the deadline and checks that no worker has left (see :class:`Watch`). A run that stops,
    for whatever reason, goes through :meth:`_abort`: its futures are cancelled and the cluster is
    left with nothing of that run still executing, ready for the next run.

    Overhead: the slices wait on the very gather that returns the results (one coroutine on the
    client's event loop, exactly what ``client.gather`` runs), so the wait ends the moment the
    results are in; a compute shorter than a slice never reaches the code between slices.
    """

    def __init__(self, spec: ExperimentSpec, handle: LocalClusterHandle | None, watch: Watch | None = None) -> None:
        self.spec = spec
        self.handle = handle
        self.watch = watch or Watch()
        self.client: Any = None
        self._stack = ExitStack()
        self._own_client = False
        self._workers: dict[str, Any] = {}  # address -> pid of the workers the run started with
        self._warnings: list[str] = []  # one line each, in the result (engine info) and on the CLI's stderr

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
            self._check_environment()
            started = time.perf_counter() - t0
        self._workers = self._worker_pids()
        return started

    def _connect(self) -> None:
        from distributed import Client
        from distributed.versions import VersionMismatchWarning

        address = str(self.spec.address)
        security = client_security(address)
        probe_scheduler(address, security=security)
        try:
            with warnings.catch_warnings():
                # distributed's own version check is a multi-line table; ours is one line (_check_environment).
                warnings.simplefilter("ignore", VersionMismatchWarning)
                self.client = Client(address, set_as_default=False, timeout=_CLUSTER_CONNECT_TIMEOUT_S,
                                     security=security)
        except Exception as exc:  # whatever went wrong, the user needs the address
            raise EngineError(
                f"could not connect to the cluster at {address} within {_CLUSTER_CONNECT_TIMEOUT_S} s"
                f" ({type(exc).__name__}: {exc}): is a Dask scheduler running there?"
            ) from exc
        self._own_client = True
        if not current_workers(self.client):
            raise EngineError(
                f"the cluster at {address} has no workers: start some, e.g. `dask worker {address}` on each host,"
                " then run again"
            )

    def _check_environment(self) -> None:
        """Refuse a cluster whose workers cannot run these tasks; keep one warning line for other differences.

        See :mod:`core.engines.environment`. Called on connect and whenever workers joined since.
        """
        from core.engines import environment

        try:
            versions = environment.fetch_versions(self.client)
        except Exception as exc:  # a worker leaving mid-question, a scheduler going away
            if self._scheduler_gone():
                raise self._lost_scheduler() from exc
            raise EngineError(f"could not ask {self.where} for its versions ({type(exc).__name__}: {exc})") from exc
        errors, notes = environment.check(versions, workload=self.spec.workload, ship=self.spec.ship_code)
        if errors:
            raise EngineError(f"{self.where} cannot run {self.spec.workload} tasks: " + "; ".join(errors))
        self._warnings = list(dict.fromkeys([*self._warnings, *notes]))

    def repeat(self) -> AbstractContextManager[Compute]:
        return nullcontext(self._compute)

    def _compute(self, work: Work | list[Delayed]) -> list[Any]:
        tasks = as_delayed(work)
        try:
            with warnings.catch_warnings():
                # transfer's payload is part of the graph on purpose: shipping it is the lesson.
                warnings.filterwarnings("ignore", message=".*[Ll]arge graph.*")
                futures = self.client.compute(tasks)
        except Exception as exc:
            raise self._failure(exc) from exc
        gather = self.client.gather(futures, asynchronous=True)  # the coroutine client.gather would run
        pending = asyncio.run_coroutine_threadsafe(gather, self.client.loop.asyncio_loop)
        try:
            return self._wait(pending, futures)
        except BaseException as exc:  # a stop, a deadline, a dead worker, a task's error, Streamlit's stop
            # Only what the cluster raised is translated; a stop or a front end's own exception passes unchanged.
            from_cluster = pending.done() and not pending.cancelled() and pending.exception() is exc
            if self._scheduler_gone():
                # Nothing to cancel or wait for: the scheduler forgot this run with the connection, and every
                # question asked of it now would wait for a connect timeout.
                pending.cancel()
                if from_cluster:
                    raise self._lost_scheduler() from exc
                raise
            error = self._abort(futures, tasks, exc)
            # The cancelled futures end the gather; cancelling it mid-wait instead would orphan its
            # per-key waits, which asyncio then reports as "Task exception was never retrieved".
            with suppress(BaseException):
                pending.result(timeout=_CANCEL_GRACE_S)
            pending.cancel()
            if error is exc and from_cluster:
                error = self._failure(exc)
            if error is exc:
                raise
            raise error from exc
        finally:
            del futures

    def _scheduler_gone(self) -> bool:
        """Whether this client lost its scheduler (distributed is reconnecting, or gave up and closed)."""
        return self.client is not None and self.client.status in ("connecting", "closing", "closed")

    def _failure(self, exc: BaseException) -> BaseException:
        """``exc`` as ONE line that says what happened where (the lab's own errors and stops pass unchanged).

        What reaches here from a cluster: the scheduler could not unpickle the graph (with ``ship_code``
        off, it cannot import the lab; or a package the graph's data needs is missing there), the
        connection to the scheduler was lost, or a task raised on a worker.
        """
        if not isinstance(exc, Exception):
            return exc
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        if "deserialization of the task graph" in str(exc):
            why = ("with --no-ship the scheduler and every worker must import this lab's core package: start them"
                   " with PYTHONPATH set to this repository, or run without --no-ship" if not self.spec.ship_code
                   else "it lacks a package the graph's data needs (see its log)")
            return EngineError(f"the scheduler of {self.where} could not load the task graph: {why}"
                               f" ({text.split('.')[0]})")
        if self._scheduler_gone() or "scheduler-connection-lost" in str(exc):
            return self._lost_scheduler()
        hint = ""
        if isinstance(exc, ImportError) and not self.spec.ship_code:
            hint = " (with --no-ship every worker must import this lab's core package: PYTHONPATH, see README)"
        return EngineError(f"a task failed on {self.where}: {text}{hint}")

    def _lost_scheduler(self) -> EngineError:
        return EngineError(f"lost the connection to the scheduler of {self.where} (it stopped, or the network failed);"
                           " nothing was measured — run again once it is back")

    def _wait(self, pending: Any, futures: list[Any]) -> list[Any]:
        while True:
            try:
                return list(pending.result(timeout=_WAIT_SLICE_S))
            except TimeoutError:
                if pending.done():  # a task's own TimeoutError, not the slice's
                    raise
            if self._scheduler_gone():
                raise self._lost_scheduler()
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
        current = self._worker_pids()
        lost = self._lost_workers(current)
        if lost:
            restarted = self.handle.restart() if self.handle is not None and self.handle.processes else None
            raise WorkerLost(self._lost_message(lost, restarted))
        joined = {address: pid for address, pid in current.items() if address not in self._workers}
        if joined:  # they ran tasks of this repeat, and may leave too; an external one is checked like the others
            if self.handle is None:
                self._check_environment()
            self._workers.update(joined)

    def _worker_pids(self) -> dict[str, Any]:
        """Address -> pid (None where unknown: the scheduler does not know pids) of every worker."""
        workers = current_workers(self.client)
        known = self.handle.worker_pids() if self.handle is not None else {}
        return {address: known.get(address) for address in workers}

    def _lost_workers(self, current: dict[str, Any] | None = None) -> dict[str, Any]:
        """Workers of the run's start that are gone now (or came back as another process)."""
        current = self._worker_pids() if current is None else current
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
        """What the cluster had: shape, and its description (workers, hosts, versions), warnings, shipping."""
        from core.engines import environment

        workers = current_workers(self.client) if self.client else {}
        threads = [int(w.get("nthreads", 0)) for w in workers.values()]
        out: dict[str, Any] = {
            "n_workers": len(threads),
            "threads_per_worker": max(threads, default=0),
            "total_threads": sum(threads),
            "scheduler_address": self.client.scheduler.address if self.client else None,
            "ship_code": self.spec.ship_code,
        }
        if self.client is not None:
            out.update(environment.describe(self.client, workers))
        out["warnings"] = list(self._warnings)
        return out

    def close(self) -> None:
        if self._own_client and self.client is not None:
            # A client whose scheduler is gone has nobody to say goodbye to: do not wait for it.
            self.client.close(timeout=1 if self._scheduler_gone() else no_default)
        self.client = None
        self._stack.close()


def client_security(address: str) -> Any:
    """The ``distributed.Security`` a client of ``address`` uses: Dask's configuration (``None`` if not TLS).

    A ``tls://`` (or ``wss://``) scheduler needs this client's credentials: the CA that signed the
    scheduler's certificate, and usually a client certificate and key. Without them distributed fails
    deep inside its connect with an error about an ``ssl_context`` argument; say what to set instead.

    Raises
    ------
    EngineError
        For a TLS address when Dask's configuration holds no TLS credentials.
    """
    if not address.startswith(("tls://", "wss://")):
        return None
    from distributed.security import Security

    security = Security()  # reads distributed.comm.tls.* from Dask's configuration and environment
    if security.get_connection_args("client").get("ssl_context") is None:
        raise EngineError(
            f"could not connect to {address}: a TLS address needs this client's TLS credentials, and Dask's"
            " configuration has none — set distributed.comm.tls.ca-file, distributed.comm.tls.client.cert and"
            " distributed.comm.tls.client.key (e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE=/path/ca.pem), or use the"
            " scheduler's tcp:// address"
        )
    return security


async def _identify(address: str, timeout_s: float, security: Any = None) -> dict[str, Any]:
    from distributed.comm import connect

    args = security.get_connection_args("client") if security is not None else {}
    comm = await connect(address, timeout=timeout_s, **args)
    try:
        await comm.write({"op": "identity", "reply": True})
        reply = await comm.read()
    finally:
        comm.abort()
    return reply if isinstance(reply, dict) else {"type": repr(reply)[:60]}


def probe_scheduler(address: str, timeout_s: float = _PROBE_TIMEOUT_S, *, security: Any = None) -> None:
    """Check, within about ``timeout_s``, that a Dask scheduler answers at ``address``.

    ``distributed.Client(address)`` retries a refused port until its timeout, then waits for the
    peer's handshake with no timeout at all: an HTTP server, or any program that is not Dask, on
    that port hangs it for ever. This probe connects once (a refused port fails at once), then
    asks the peer who it is over the Dask protocol, with a deadline.

    Raises
    ------
    EngineError
        Naming ``address``: nothing listening, no answer, not the Dask protocol, or a Dask server
        that is not a scheduler (a worker's or nanny's address). ``security``: a TLS address's credentials
    (:func:`client_security`).
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
            outcome["reply"] = asyncio.run(asyncio.wait_for(_identify(address, timeout_s, security), timeout_s))
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
