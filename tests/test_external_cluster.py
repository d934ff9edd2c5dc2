"""The ``external`` scheduler against a real cluster: ``dask scheduler`` and ``dask worker`` processes.

The cluster is started the way a user would start one (two worker processes with one thread each,
everything on loopback), used by the library and by the CLI, then torn down: worker first, then
scheduler, and every process they started must be gone afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core import ExperimentSpec, run_experiment

REPO = Path(__file__).resolve().parent.parent
N_WORKERS = 2
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(module: str, args: list[str], log: Path) -> subprocess.Popen[bytes]:
    # `python -m` rather than the `dask` console script: it is this interpreter, whatever PATH says.
    # Workers import core's task functions, so they run from the repository root.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """SIGTERM, then SIGKILL to the whole process group; return the descendants it had."""
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(STOP_TIMEOUT_S)
    _, alive = psutil.wait_procs(descendants, timeout=STOP_TIMEOUT_S)
    for straggler in alive:
        straggler.kill()
    return alive


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory) -> Iterator[str]:
    from distributed import Client

    logs = tmp_path_factory.mktemp("external-cluster")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _start(
        "distributed.cli.dask_scheduler",
        ["--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        logs / "scheduler.log",
    )
    worker = _start(
        "distributed.cli.dask_worker",
        [address, "--nthreads", "1", "--nworkers", str(N_WORKERS), "--host", "127.0.0.1", "--no-dashboard"],
        logs / "worker.log",
    )
    try:
        with Client(address, set_as_default=False, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(N_WORKERS, timeout=START_TIMEOUT_S)
        yield address
    except Exception:
        for log in ("scheduler.log", "worker.log"):
            print(f"--- {log}\n{(logs / log).read_text(errors='replace')[-3000:]}")
        raise
    finally:
        stragglers = _stop(worker) + _stop(scheduler)
    assert worker.returncode is not None and scheduler.returncode is not None
    assert not stragglers, f"processes outlived the cluster they belonged to: {stragglers}"


def test_library_runs_on_the_external_cluster(external_cluster):
    spec = ExperimentSpec(workload="fib", size=25, tasks=4, scheduler="external", address=external_cluster, repeats=1)
    result = run_experiment(spec)
    assert len(result.tasks) == 4
    assert sorted(result.tasks["task"]) == [0, 1, 2, 3]
    assert result.engine["total_threads"] == N_WORKERS
    assert result.engine["n_workers"] == N_WORKERS
    assert result.engine["scheduler_address"] == external_cluster
    pids = set(result.tasks["pid"])
    assert len(pids) == N_WORKERS, pids
    assert os.getpid() not in pids
    assert result.setup_s > 0  # connecting is paid by the run that connects
    sequential = run_experiment(spec.replace(scheduler="sync", address=None))
    assert result.values == sequential.values


def test_cli_runs_on_the_external_cluster(cli, parse_json, external_cluster):
    run = cli("run", "--address", external_cluster, "--workload", "fib", "--size", "25", "--tasks", "4",
              "--repeats", "1", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert data["spec"]["scheduler"] == "external"
    assert data["spec"]["address"] == external_cluster
    assert len(data["tasks"]) == 4
    assert data["engine"]["total_threads"] == N_WORKERS
    pids = {task["pid"] for task in data["tasks"]}
    assert len(pids) == N_WORKERS, pids
    assert run.pid not in pids


def test_external_run_leaves_the_cluster_running(external_cluster):
    """The engine closes its own client, never the cluster it borrowed."""
    from distributed import Client

    spec = ExperimentSpec(workload="sleep", size=0.05, tasks=2, scheduler="external", address=external_cluster,
                          repeats=1)
    run_experiment(spec)
    with Client(external_cluster, set_as_default=False, timeout=30) as client:
        assert len(client.scheduler_info(n_workers=-1)["workers"]) == N_WORKERS
