"""Runs that must stop, workers that die, addresses that lie: real clusters, real servers, real signals.

Every scenario ends with the same question: is the cluster clean and usable for the next run? "Clean"
is asked of the workers themselves (``client.call_stack()`` lists the keys their threads are
running), over a window longer than a task, so a cancelled task that started anyway would be seen.
"""

from __future__ import annotations

import contextlib
import http.server
import math
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core import ClusterRegistry, EngineError, ExperimentSpec, run_experiment
from core.engines import RunCancelled, RunTimeout, WorkerLost

REPO = Path(__file__).resolve().parent.parent
SHAPES = {"cluster-threads": (False, 1, 2), "cluster-processes": (True, 2, 1)}
CONNECT_LIMIT_S = 10  # a wrong address must be reported within this


def spec_for(scheduler: str, **changes) -> ExperimentSpec:
    processes, workers, threads = SHAPES[scheduler]
    fields = {"workload": "sleep", "size": 2.0, "tasks": 8, "repeats": 1, **changes}
    return ExperimentSpec(scheduler=scheduler, workers=workers, threads_per_worker=threads, **fields)


def running_keys(clusters: ClusterRegistry, scheduler: str) -> set:
    client = clusters.get(*SHAPES[scheduler]).client
    return {key for per_worker in client.call_stack().values() for key in per_worker}


def assert_nothing_runs(clusters: ClusterRegistry, scheduler: str, window_s: float = 2.5) -> None:
    """No task executes on the cluster during the whole window (longer than one task here)."""
    end = time.monotonic() + window_s
    while time.monotonic() < end:
        keys = running_keys(clusters, scheduler)
        assert not keys, f"tasks of a stopped run are executing on {scheduler}: {sorted(map(str, keys))}"
        time.sleep(0.2)


def assert_usable(clusters: ClusterRegistry, scheduler: str) -> None:
    result = run_experiment(spec_for(scheduler, workload="fib", size=18, tasks=4), clusters=clusters)
    assert list(result.values) == [2584] * 4
    assert result.engine["n_workers"] == SHAPES[scheduler][1]


class Recorder:
    """A progress callback that keeps what it was told, and can be told to raise."""

    def __init__(self, raise_on_heartbeat: BaseException | None = None) -> None:
        self.messages: list[tuple[float, str, float]] = []
        self.raise_on_heartbeat = raise_on_heartbeat

    def __call__(self, message: str, fraction: float) -> None:
        self.messages.append((time.monotonic(), message, fraction))
        if self.raise_on_heartbeat is not None and "tasks done" in message:
            raise self.raise_on_heartbeat

    @property
    def heartbeats(self) -> list[tuple[float, str, float]]:
        return [m for m in self.messages if "tasks done" in m[1]]


# --- stopping a run -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scheduler", list(SHAPES))
def test_should_stop_cancels_a_cluster_run_and_leaves_the_cluster_clean(clusters, scheduler):
    handle = clusters.get(*SHAPES[scheduler])
    with handle.use():  # start the cluster outside the timed part
        pass
    pids_before = set(handle.worker_pids().values())
    progress = Recorder()
    # 8 tasks of 2 s on 2 threads: 8 s if nothing stopped it. Stop at the first heartbeat.
    with pytest.raises(RunCancelled, match="stopped on request"):
        run_experiment(spec_for(scheduler), clusters=clusters, progress=progress,
                       should_stop=lambda: bool(progress.heartbeats))
    stopped_after = time.monotonic() - progress.heartbeats[0][0]
    assert stopped_after < 8, f"stopping took {stopped_after:.1f} s"
    when, message, fraction = progress.heartbeats[0]
    assert message.endswith("of 8 tasks done") and 0 <= fraction <= 1, (message, fraction)
    assert_nothing_runs(clusters, scheduler)
    if scheduler == "cluster-processes":
        # Its 2-second tasks outlived the 1-second grace: the workers were restarted to stop them.
        assert set(handle.worker_pids().values()).isdisjoint(pids_before)
    assert_usable(clusters, scheduler)


def test_deadline_stops_a_cluster_run_and_names_the_limit(clusters):
    t0 = time.monotonic()
    with pytest.raises(RunTimeout, match=r"time limit of 0\.5 s") as caught:
        # 16 tasks of 1 s on 2 threads: 8 s without the deadline.
        run_experiment(spec_for("cluster-threads", size=1.0, tasks=16), clusters=clusters, deadline_s=0.5)
    assert time.monotonic() - t0 < 6, f"a 0.5 s limit took {time.monotonic() - t0:.1f} s to stop the run"
    assert isinstance(caught.value, EngineError)
    assert_nothing_runs(clusters, "cluster-threads", window_s=1.5)
    assert_usable(clusters, "cluster-threads")


class SessionGone(BaseException):
    """Like Streamlit's StopException: raised from a front end's call when its session goes away."""


def test_progress_raising_a_base_exception_stops_the_run_and_is_reraised(clusters):
    gone = SessionGone("the browser tab was closed")
    progress = Recorder(raise_on_heartbeat=gone)
    with pytest.raises(SessionGone) as caught:
        run_experiment(spec_for("cluster-threads", size=1.0), clusters=clusters, progress=progress)
    assert caught.value is gone
    assert_nothing_runs(clusters, "cluster-threads", window_s=1.5)
    assert_usable(clusters, "cluster-threads")


def test_local_engines_stop_between_repeats():
    progress = Recorder()
    spec = ExperimentSpec(workload="sleep", size=0.1, tasks=2, scheduler="threads", workers=2, repeats=5)
    with pytest.raises(RunCancelled):
        run_experiment(spec, progress=progress,
                       should_stop=lambda: any("repeat 2 of 5" in m for _, m, _ in progress.messages))
    started = [m for _, m, _ in progress.messages if "repeat" in m]
    assert started == ["threads: repeat 1 of 5", "threads: repeat 2 of 5"], started


def test_local_deadline_applies_between_repeats():
    spec = ExperimentSpec(workload="sleep", size=0.3, tasks=1, scheduler="sync", workers=1, repeats=5)
    t0 = time.monotonic()
    with pytest.raises(RunTimeout, match=r"time limit of 0\.4 s"):
        run_experiment(spec, deadline_s=0.4)
    assert time.monotonic() - t0 < 1.4  # stopped after 2 of the 5 repeats of 0.3 s


@pytest.mark.parametrize("bad", [0, -1, math.nan, "5", True])
def test_deadline_must_be_a_positive_number(bad):
    spec = ExperimentSpec(workload="sleep", size=0.05, tasks=1, scheduler="sync", workers=1, repeats=1)
    with pytest.raises(ValueError, match="deadline_s"):
        run_experiment(spec, deadline_s=bad)


# --- dying workers ------------------------------------------------------------------------------------


def _kill_when_running(clusters: ClusterRegistry, victim: int) -> threading.Thread:
    def kill() -> None:
        end = time.monotonic() + 30
        while time.monotonic() < end and not running_keys(clusters, "cluster-processes"):
            time.sleep(0.05)
        os.kill(victim, signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def test_worker_killed_mid_run_is_a_clear_error_and_the_cluster_recovers(clusters):
    handle = clusters.get(*SHAPES["cluster-processes"])
    with handle.use():
        pass
    victim = sorted(pid for pid in handle.worker_pids().values() if pid)[0]
    killer = _kill_when_running(clusters, victim)
    t0 = time.monotonic()
    lost = rf"pid {victim}\) .*died during the run; the cluster was restarted — run again"
    with pytest.raises(WorkerLost, match=lost):
        run_experiment(spec_for("cluster-processes", size=1.5, tasks=4), clusters=clusters)
    killer.join(5)
    assert time.monotonic() - t0 < 40
    assert_nothing_runs(clusters, "cluster-processes", window_s=1.0)
    result = run_experiment(spec_for("cluster-processes", workload="fib", size=18, tasks=4), clusters=clusters)
    assert list(result.values) == [2584] * 4
    assert result.engine["n_workers"] == 2
    assert victim not in set(result.tasks["pid"])


def test_worker_killed_between_runs_is_replaced_before_the_next(clusters):
    handle = clusters.get(*SHAPES["cluster-processes"])
    with handle.use():
        pass
    victim = sorted(pid for pid in handle.worker_pids().values() if pid)[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.3)  # the kernel has reaped nothing yet, but the process is dead
    result = run_experiment(spec_for("cluster-processes", workload="fib", size=18, tasks=4), clusters=clusters)
    assert result.engine["n_workers"] == 2
    pids = set(result.tasks["pid"])
    assert victim not in pids and len(pids) == 2, pids


def test_a_broken_handle_is_rebuilt_on_its_next_use(clusters):
    handle = clusters.get(*SHAPES["cluster-threads"])
    with handle.use() as (client, _):
        old = client.scheduler.address
    handle.mark_broken("test")
    with handle.use() as (client, started):
        assert started > 0 and client.scheduler.address != old
    assert handle.broken is None


def test_process_pool_workers_die_with_a_killed_cli():
    """A killed ``python -m core`` (SIGKILL: no handler runs) leaves no pool worker behind."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "run", "--scheduler", "processes", "--workers", "2", "--workload", "sleep",
         "--size", "5", "--tasks", "2", "--repeats", "1"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    children: list[psutil.Process] = []
    try:
        end = time.monotonic() + 60
        workers: list[psutil.Process] = []
        while time.monotonic() < end and len(workers) < 2:
            time.sleep(0.2)
            workers = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
        assert len(workers) >= 2, "the CLI never started its pool"
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.kill()
        proc.wait(10)
        _, alive = psutil.wait_procs(children, timeout=10)
        alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"outlived their killed parent: {[' '.join(p.cmdline())[-80:] for p in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for child in children:  # never leave strays, even on failure
            with contextlib.suppress(psutil.Error):
                child.kill()


# --- addresses that do not lead to a scheduler ------------------------------------------------------


class _Garbage(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            self.request.sendall(b"\xff" * 64 + b"this is not dask\n" * 64)
            self.server.stop.wait(30)  # type: ignore[attr-defined]
        except OSError:
            pass


class _Silent(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.server.stop.wait(30)  # type: ignore[attr-defined]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """Real listeners on loopback: a web server, a TCP server that writes garbage, one that never talks."""
    stop = threading.Event()
    started = []
    for name, server in (
        ("http", http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)),
        ("garbage", socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Garbage)),
        ("silent", socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Silent)),
    ):
        server.daemon_threads = True
        server.stop = stop  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((name, server))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]  # nothing listens once the socket is closed
    yield {"closed": f"tcp://127.0.0.1:{closed}",
           **{name: f"tcp://127.0.0.1:{server.server_address[1]}" for name, server in started}}
    stop.set()
    for _, server in started:
        server.shutdown()
        server.server_close()


EXPECTED = {
    "closed": "nothing is listening there",
    "http": "did not answer the Dask handshake",
    "garbage": "does not speak the Dask protocol",
    "silent": "did not answer the Dask handshake",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_wrong_external_address_is_a_quick_clear_error(servers, kind):
    address = servers[kind]
    spec = ExperimentSpec(workload="fib", size=15, tasks=1, scheduler="external", address=address, repeats=1)
    t0 = time.monotonic()
    with pytest.raises(EngineError) as caught:
        run_experiment(spec)
    assert time.monotonic() - t0 < CONNECT_LIMIT_S
    assert address in str(caught.value) and EXPECTED[kind] in str(caught.value), str(caught.value)


def test_a_workers_address_is_not_a_schedulers(clusters):
    handle = clusters.get(*SHAPES["cluster-processes"])
    # Held in use for the whole test: a run parks the lab's idle LocalClusters, and this one stands in for
    # somebody's running cluster.
    with handle.use():
        address = next(iter(handle.worker_pids()))
        spec = ExperimentSpec(workload="fib", size=15, tasks=1, scheduler="external", address=address, repeats=1)
        t0 = time.monotonic()
        with pytest.raises(EngineError, match="it is a Dask Worker, not a scheduler") as caught:
            run_experiment(spec)
        assert time.monotonic() - t0 < CONNECT_LIMIT_S
    assert address in str(caught.value)


def test_the_scheduler_still_connects(clusters):
    """The probe lets a real scheduler through (here a LocalCluster's, used as an external cluster)."""
    handle = clusters.get(*SHAPES["cluster-processes"])
    with handle.use() as (client, _):  # in use throughout: a run parks the lab's idle LocalClusters
        address = client.scheduler.address
        spec = ExperimentSpec(workload="fib", size=18, tasks=2, scheduler="external", address=address, repeats=1)
        assert list(run_experiment(spec).values) == [2584, 2584]


# --- the false "workers died" (issue 9) -----------------------------------------------------------------


@pytest.mark.parametrize("processes", [False, True])
def test_reading_the_workers_never_sees_them_gone_while_the_client_refreshes(registry, processes):
    """No worker dies here, so every read must see all of them, however the client's periodic update lands.

    ``Client.scheduler_info(n_workers=-1)`` fetches the workers into ``client._scheduler_identity`` and
    then returns that attribute, which the client's periodic ``_update_scheduler_info()`` (``n_workers=0``:
    totals only) overwrites from its own event loop. On a busy machine the overwrite lands between the
    fetch and the read, and a run saw "workers … died" with every worker alive. This test makes it land
    there on purpose: a thread runs that same update back to back while the lab reads the workers.
    It fails with the old read (``client.scheduler_info(n_workers=-1)["workers"]``).
    """
    from core.engines.cluster import current_workers

    handle = registry.get(processes, 2, 1)
    with handle.use() as (client, _):
        stop = threading.Event()

        def refresh() -> None:
            while not stop.is_set():
                client.sync(client._update_scheduler_info)  # exactly what the periodic callback runs

        hammer = threading.Thread(target=refresh, daemon=True)
        hammer.start()
        try:
            seen = [len(current_workers(client)) for _ in range(300)]
        finally:
            stop.set()
            hammer.join(10)
    assert min(seen) == 2, f"{seen.count(0)} of {len(seen)} reads saw no workers"
