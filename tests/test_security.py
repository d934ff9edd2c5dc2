"""Nothing the lab starts listens beyond loopback, and nothing a visitor types can become code.

Listeners are read from the kernel (``psutil``), not from configuration: every socket in state
LISTEN that a live LocalCluster added to this process (scheduler, nannies, dashboards) or that its
worker processes hold must be bound to 127.0.0.1 or ::1. Then the input side: the spec only takes
plain data, its workload is a name from a fixed table (never a module path or a callable), and the
external address is a strict ``scheme://host:port``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from core import WORKLOADS, ExperimentSpec
from core.measure.run import build_graph
from core.workloads import measured_call

REPO = Path(__file__).resolve().parent.parent
SHAPES = {"cluster-threads": (False, 1, 2), "cluster-processes": (True, 2, 1)}


def listeners(pid: int) -> set[tuple[str, int]]:
    """(ip, port) of every listening TCP socket of process ``pid``."""
    try:
        conns = psutil.Process(pid).net_connections(kind="inet")
    except psutil.NoSuchProcess:
        return set()
    return {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}


def loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip.split("%")[0]).is_loopback


@pytest.mark.parametrize("scheduler", list(SHAPES))
def test_every_listener_of_a_live_cluster_is_on_loopback(clusters, scheduler):
    before = listeners(os.getpid())
    handle = clusters.get(*SHAPES[scheduler])
    with handle.use() as (client, _):
        own = listeners(os.getpid()) - before  # the scheduler, nannies and dashboards in this process
        workers = handle.worker_pids()
        per_worker = {pid: listeners(pid) for pid in workers.values() if pid}
        info = client.scheduler_info(n_workers=-1)
        # The cluster ran something, so every service that starts lazily has started.
        assert client.submit(sum, [1, 2], pure=False).result() == 3
        own |= listeners(os.getpid()) - before
    found = own | {addr for addrs in per_worker.values() for addr in addrs}
    exposed = sorted(addr for addr in found if not loopback(addr[0]))
    assert not exposed, f"{scheduler} listens beyond loopback on {exposed}"
    assert own, "the scheduler's dashboard should be listening (on 127.0.0.1) while the cluster runs"
    if scheduler == "cluster-processes":
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker  # each worker serves its comm
        # Nanny, worker and scheduler addresses as the cluster itself reports them.
        addresses = [client.scheduler.address, *info["workers"]]
        addresses += [w["nanny"] for w in info["workers"].values() if w.get("nanny")]
        assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
    else:
        # processes=False: the in-process transport, no TCP port for the scheduler or its workers.
        assert client.scheduler.address.startswith("inproc://")


# --- no code from the outside -----------------------------------------------------------------------


def _a_function() -> None:
    pass


@pytest.mark.parametrize("field", ["workload", "size", "scheduler", "address", "tasks", "blas_threads"])
@pytest.mark.parametrize("thing", [_a_function, print, lambda: 4, os.system], ids=["function", "builtin", "lambda",
                                                                                   "os.system"])
def test_spec_refuses_callables(field, thing):
    changes = {field: thing}
    if field == "address":
        changes["scheduler"] = "external"
    with pytest.raises(ValueError, match=field):
        ExperimentSpec(**changes)


@pytest.mark.parametrize("name", [
    "os.system", "core.workloads.fib", "core.workloads:fib", "builtins.eval", "__import__('os').system('id')",
    "fib; rm -rf /", "FIB", " fib", "fib\n", "../fib", "subprocess:run",
])
def test_workload_is_a_name_from_the_table_never_a_path(name):
    with pytest.raises(ValueError, match="workload"):
        ExperimentSpec(workload=name)


@pytest.mark.parametrize("address", [
    "tcp://127.0.0.1:8786; rm -rf /", "tcp://$(id):8786", "tcp://`id`:8786", "tcp://127.0.0.1:8786/../../etc",
    "file:///etc/passwd", "inproc://127.0.0.1/1/1", "ucx://127.0.0.1:8786", "http://127.0.0.1:8786",
    "tcp://user@127.0.0.1:8786", "tcp://127.0.0.1:8786?x=1", "tcp://127.0.0.1:8786#x", "tcp://127.0.0.1:0",
    "tcp://127.0.0.1:65536", "tcp://127.0.0.1:-1", " tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786 ",
    "tcp://127.0.0.1:8786\x00", "tcp://127.0.0.1:8786\n", "tcp://[::1]:8786]", "tcp://[::1;id]:8786",
    "tcp://127.0.0.1:8786,tcp://10.0.0.1:8786", "tcp://", "tcp://:8786", "", "tcp://127.0.0.1:٨٧٨٦",
])
def test_external_address_is_strictly_scheme_host_port(address):
    with pytest.raises(ValueError, match="address"):
        ExperimentSpec(scheduler="external", address=address)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://[::1]:8786", "tls://sched.example.org:8786",
                                     "tcp://my-scheduler:8786", "ws://127.0.0.1:8787"])
def test_external_address_accepts_real_scheduler_addresses(address):
    assert ExperimentSpec(scheduler="external", address=address).address == address


def test_spec_is_plain_data():
    """Every field defaults to, and serialises as, plain JSON data: nothing in a spec can be executed."""
    for f in dataclasses.fields(ExperimentSpec):
        assert f.default is None or type(f.default) in (str, int, float, bool), f.name
    spec = ExperimentSpec(scheduler="external", address="tcp://127.0.0.1:8786")
    assert json.loads(json.dumps(spec.to_dict())) == spec.to_dict()


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_the_graph_only_ever_calls_the_labs_own_task_function(workload):
    """Whatever the spec says, every task in the graph calls ``core.workloads.measured_call``."""
    spec = ExperimentSpec(workload=workload, size=WORKLOADS[workload].min_size, tasks=3, scheduler="sync", workers=1)
    graph = {}
    for task in build_graph(spec, "sec", payload=b"data" if workload == "transfer" else None):
        graph.update(dict(task.__dask_graph__()))
    funcs = {getattr(node, "func", None) for node in graph.values()} - {None}
    assert funcs == {measured_call}, funcs


def test_cli_refuses_a_module_path_as_workload():
    run = subprocess.run([sys.executable, "-m", "core", "run", "--workload", "os.system", "--size", "1"],
                         cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "workload" in run.stderr and "Traceback" not in run.stderr
