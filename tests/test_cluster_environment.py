"""What the lab finds on a cluster that is not like this client, and every way a cluster run can fail.

Real clusters again (``tests/hosts.py``: separate network namespaces where possible, else loopback),
each started for what it shows:

* a cluster whose workers differ: one worker reports another cloudpickle version (a real copy of the
  package whose installed metadata says so), one has no NumPy at all. fib runs, with ONE warning line
  naming the difference and where; a NumPy workload is refused in one line naming the package and the
  worker. Its scheduler and workers can import the lab (``PYTHONPATH``), so the old ``--no-ship`` way
  is shown to work there.
* a scheduler without workers, a scheduler that goes away mid-run, a ``tls://`` address without
  credentials: one line each, exit status 1, and the CLI process ends promptly.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import pytest

from tests import hosts

NETNS_REASON = hosts.netns_unavailable()
PATCHED_CLOUDPICKLE = f"{cloudpickle.__version__}+gil.lab.test"


@dataclass
class Started:
    address: str
    processes: list[hosts.Process]
    network: hosts.Network | hosts.Loopback

    def close(self) -> None:
        stragglers = hosts.stop_all(self.processes, self.address)
        self.network.close()
        assert not stragglers, f"processes outlived their cluster: {stragglers}"
        assert not self.network.leftovers(), self.network.leftovers()


@pytest.fixture()
def network() -> Iterator[hosts.Network | hosts.Loopback]:
    made = hosts.Network() if NETNS_REASON is None else hosts.Loopback()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def odd_cluster(tmp_path_factory) -> Iterator[Started]:
    """A scheduler, a worker with a patched cloudpickle version and a worker without NumPy."""
    tmp = tmp_path_factory.mktemp("odd-cluster")
    network = hosts.Network() if NETNS_REASON is None else hosts.Loopback()
    started = Started("", [], network)
    try:
        patched = hosts.patched_version(tmp, "cloudpickle", PATCHED_CLOUDPICKLE)
        no_numpy = hosts.site_without(tmp, ("numpy", "pandas"))
        scheduler, address = hosts.start_scheduler(network.add_host(), tmp / "scheduler",
                                                   hosts.lab_free_env([hosts.REPO]))
        started.address = address
        started.processes.append(scheduler)
        started.processes.append(hosts.start_worker(
            network.add_host(), address, tmp / "patched", hosts.lab_free_env([patched, hosts.REPO]), name="patched"))
        started.processes.append(hosts.start_worker(
            network.add_host(), address, tmp / "no-numpy", hosts.lab_free_env([no_numpy, hosts.REPO]),
            name="no-numpy", python=[sys.executable, "-S"]))
        hosts.wait_for_workers(address, 2, started.processes)
        yield started
    finally:
        started.close()


def worker_address(address: str, name: str) -> str:
    with hosts.client(address, 30) as client:
        return next(a for a, w in client.scheduler_info(n_workers=-1)["workers"].items() if w["name"] == name)


def test_the_odd_workers_really_are_odd(odd_cluster):
    with hosts.client(odd_cluster.address, 30) as client:
        versions = client.get_versions(check=False)["workers"]
        names = {a: w["name"] for a, w in client.scheduler_info(n_workers=-1)["workers"].items()}
        numpy_found = client.run(importlib.util.find_spec, "numpy")  # what an `import numpy` there would find
    by_name = {names[a]: v["packages"] for a, v in versions.items()}
    assert by_name["patched"]["cloudpickle"] == PATCHED_CLOUDPICKLE
    assert by_name["no-numpy"]["numpy"] is None and by_name["patched"]["numpy"] is not None
    assert {names[a]: spec is not None for a, spec in numpy_found.items()} == {"patched": True, "no-numpy": False}


def test_a_version_difference_is_one_warning_line_and_the_run_works(cli, parse_json, odd_cluster):
    run = cli("run", "--address", odd_cluster.address, "--workload", "fib", "--size", "20", "--tasks", "4",
              "--repeats", "1", "--json")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core: warning: versions differ"), run.stderr
    patched = worker_address(odd_cluster.address, "patched")
    assert f"cloudpickle {cloudpickle.__version__} here, {PATCHED_CLOUDPICKLE} on worker {patched}" in lines[0]
    assert "numpy" not in lines[0]  # fib imports no NumPy: its absence on a worker is no difference here
    data = parse_json(run.stdout)
    assert data["engine"]["warnings"] == [lines[0].removeprefix("python -m core: warning: ")]
    assert len(data["values"]) == 4


def test_a_package_missing_on_a_worker_is_named_with_the_worker(cli, odd_cluster):
    run = cli("run", "--address", odd_cluster.address, "--workload", "numpy-sort", "--size", "1", "--tasks", "2",
              "--repeats", "1")
    line = hosts.one_line_error(run)
    missing = worker_address(odd_cluster.address, "no-numpy")
    assert f"numpy is not installed on worker {missing}" in line and "pip install numpy" in line, line


def test_the_old_pythonpath_way_works_without_shipping(cli, parse_json, odd_cluster):
    """Scheduler and workers with the repository on PYTHONPATH: --no-ship runs, importing the lab there."""
    run = cli("run", "--address", odd_cluster.address, "--workload", "fib", "--size", "20", "--tasks", "2",
              "--repeats", "1", "--no-ship", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert data["spec"]["ship_code"] is False and data["engine"]["ship_code"] is False
    assert data["values"] == [6765, 6765]


# --- failures, one line each ----------------------------------------------------------------------------------


def test_a_cluster_without_workers_is_one_line(cli, network, tmp_path):
    scheduler, address = hosts.start_scheduler(network.add_host(), tmp_path, hosts.lab_free_env())
    try:
        run = cli("run", "--address", address, "--workload", "fib", "--size", "20")
    finally:
        assert not scheduler.stop()
    line = hosts.one_line_error(run)
    assert f"the cluster at {address} has no workers" in line and "dask worker" in line


def test_the_scheduler_going_away_mid_run_is_one_line_and_ends_the_run_at_once(cli, network, tmp_path):
    env = hosts.lab_free_env()
    scheduler, address = hosts.start_scheduler(network.add_host(), tmp_path / "scheduler", env)
    worker = hosts.start_worker(network.add_host(), address, tmp_path / "worker", env, name="w", nanny=False)
    try:
        hosts.wait_for_workers(address, 1, [scheduler, worker])
        with hosts.client(address, 30) as client:
            proc = cli.start("run", "--address", address, "--workload", "sleep", "--size", "3", "--tasks", "2",
                             "--repeats", "2")
            deadline = time.monotonic() + 60
            while not any(client.processing().values()) and time.monotonic() < deadline:
                time.sleep(0.05)
        killed = time.monotonic()
        os.kill(scheduler.popen.pid, signal.SIGKILL)
        run = cli.finish(proc)
        ended_after = time.monotonic() - killed
    finally:
        stragglers = hosts.stop_all([scheduler, worker])
    assert not stragglers
    line = hosts.one_line_error(run)
    assert f"lost the connection to the scheduler of the cluster at {address}" in line, line
    # Not after distributed's reconnect timeout, nor after the tasks' own 3 s: within a few wait slices.
    assert ended_after < 10, ended_after


def test_a_tls_address_without_credentials_is_one_line(cli):
    with socket.socket() as sock:  # a port nobody listens on: the check comes before any connection
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = cli("run", "--address", f"tls://127.0.0.1:{port}", "--workload", "fib", "--size", "20")
    line = hosts.one_line_error(run)
    assert "TLS credentials" in line and "distributed.comm.tls.ca-file" in line, line


def test_helpers_clean_up_a_network(network):
    """The fixtures' own cleanup: a namespace made here is gone after close (also checked by every fixture)."""
    if NETNS_REASON is not None:
        pytest.skip(f"every host is loopback here: {NETNS_REASON}")
    network.add_host()
    assert network.leftovers()
    network.close()
    assert network.leftovers() == []
    assert Path("/var/run/netns").exists()
