"""The ``external`` engine against a cluster started the way users start one, on hosts of its own.

``dask scheduler`` and two ``dask worker``s (one thread each, with nannies) run from a temporary
directory with nothing of the lab on their path (checked: ``import core.workloads`` fails there), each
in its own network namespace where this machine allows it (see ``tests/hosts.py``), so that they have
their own addresses like separate hosts; otherwise on loopback, with the reason in a skipped test.
The lab ships its task code in every graph (:mod:`core.engines.shipping`): the runs must work, the
results must describe that cluster, changed code must be used at once, a worker that joins later must
get tasks, and every failure must be one line. Tests run in file order on one cluster; the ones that
damage it (a killed worker) come last and restore what the next test needs.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import dask
import distributed
import numpy
import psutil
import pytest

from core import ExperimentSpec, run_experiment
from core.engines import Watch
from core.measure.run import ArmSession
from tests import hosts

N_WORKERS = 2
NETNS_REASON = hosts.netns_unavailable()


@dataclass
class Cluster:
    address: str
    network: hosts.Network | hosts.Loopback
    scheduler: hosts.Process
    workers: list[hosts.Process]
    workdir: Path
    env: dict[str, str]

    @property
    def namespaced(self) -> bool:
        return isinstance(self.network, hosts.Network)

    @property
    def worker_hosts(self) -> set[str]:
        """What a result must call the workers' hosts: their namespace addresses, or this machine."""
        return {w.host.ip for w in self.workers} if self.namespaced else {socket.gethostname()}

    def add_worker(self, name: str, nthreads: int = 1) -> hosts.Process:
        proc = hosts.start_worker(self.network.add_host(), self.address, self.workdir / name, self.env, name=name,
                                  nthreads=nthreads)
        self.workers.append(proc)
        return proc


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("plain-cluster")
    network = hosts.Network() if NETNS_REASON is None else hosts.Loopback()
    env = hosts.lab_free_env()
    made: Cluster | None = None
    try:
        scheduler, address = hosts.start_scheduler(network.add_host(), workdir / "scheduler", env)
        made = Cluster(address, network, scheduler, [], workdir, env)
        for k in range(N_WORKERS):
            made.add_worker(f"w{k + 1}")
        hosts.wait_for_workers(address, N_WORKERS, [scheduler, *made.workers])
        yield made
    finally:
        stragglers = hosts.stop_all([made.scheduler, *made.workers], made.address) if made is not None else []
        network.close()
    assert not stragglers, f"processes outlived the cluster they belonged to: {stragglers}"
    from core.engines.quiet import HEARTBEAT_FAILURE

    logs = {w.log.name: w.tail(200_000) for w in made.workers} if made is not None else {}
    assert not [name for name, log in logs.items() if HEARTBEAT_FAILURE in log], "a worker logged the heartbeat race"
    assert not network.leftovers(), f"namespaces or links left behind: {network.leftovers()}"


def fib_spec(address: str, **changes) -> ExperimentSpec:
    return ExperimentSpec(workload="fib", size=24, tasks=4, scheduler="external", address=address, repeats=1,
                          **changes)


# --- the cluster is a plain one -----------------------------------------------------------------------------


def test_hosts_are_network_namespaces():
    if NETNS_REASON is not None:
        pytest.skip(f"every host is loopback here: {NETNS_REASON}")


def test_the_cluster_cannot_import_the_lab(cluster):
    importable, stderr = hosts.lab_is_importable(cluster.workdir, cluster.env, list(cluster.workers[0].host.prefix))
    assert not importable and "No module named 'core'" in stderr
    for proc in [cluster.scheduler, *cluster.workers]:
        cwd = Path(psutil.Process(proc.popen.pid).cwd())
        assert not (cwd / "core").exists() and Path(hosts.REPO) not in [cwd, *cwd.parents]
        assert str(hosts.REPO) not in psutil.Process(proc.popen.pid).environ().get("PYTHONPATH", "")


# --- runs work and describe the cluster ---------------------------------------------------------------------------


def test_a_run_works_and_describes_the_cluster(cluster):
    result = run_experiment(fib_spec(cluster.address))
    assert result.values == run_experiment(fib_spec(cluster.address).replace(scheduler="sync", address=None)).values
    engine = result.engine
    assert engine["n_workers"] == N_WORKERS and engine["total_threads"] == N_WORKERS
    assert engine["ship_code"] is True and engine["warnings"] == []
    assert engine["hosts"] == len(cluster.worker_hosts)
    assert {w["host"] for w in engine["workers"]} == cluster.worker_hosts
    for worker in engine["workers"]:
        assert worker["threads"] == 1 and worker["memory_limit_bytes"] > 0
        assert worker["python"] == platform.python_version()
        assert worker["packages"] == {"dask": dask.__version__, "distributed": distributed.__version__,
                                      "cloudpickle": cloudpickle.__version__, "numpy": numpy.__version__,
                                      "threadpoolctl": worker["packages"]["threadpoolctl"]}
        assert worker["name"] in {"w1", "w2"}
    # The tasks ran in the workers described, on the hosts described, not here.
    assert set(result.tasks["pid"]) == {w["pid"] for w in engine["workers"]}
    assert os.getpid() not in set(result.tasks["pid"])
    assert set(result.tasks["host"]) == cluster.worker_hosts
    assert engine["scheduler"]["address"] == cluster.address
    assert engine["scheduler"]["python"] == platform.python_version()
    text = result.text()
    hosts_word = "hosts" if len(cluster.worker_hosts) > 1 else "host"
    assert f"cluster: 2 workers on {len(cluster.worker_hosts)} {hosts_word} (" in text
    assert "task code shipped by value" in text
    assert json.loads(result.to_json())["engine"] == engine  # strict JSON, nothing lost


def test_the_cli_run_describes_the_cluster_in_its_json(cli, parse_json, cluster):
    run = cli("run", "--address", cluster.address, "--workload", "fib", "--size", "24", "--tasks", "4",
              "--repeats", "1", "--json")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # no warning: the same versions everywhere
    data = parse_json(run.stdout)
    assert data["spec"]["scheduler"] == "external" and data["spec"]["ship_code"] is True
    assert data["engine"]["hosts"] == len(cluster.worker_hosts)
    assert {t["host"] for t in data["tasks"]} == cluster.worker_hosts
    assert run.pid not in {t["pid"] for t in data["tasks"]}


def test_compare_with_a_local_cluster_of_the_same_shape(cli, parse_json, cluster):
    run = cli("compare", "--address", cluster.address, "--engines", "cluster-processes:2x1", "--workload", "fib",
              "--size", "24", "--tasks", "4", "--rounds", "3", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    local, external = data["arms"]
    assert local["engine"]["hosts"] == 1 and external["engine"]["hosts"] == len(cluster.worker_hosts)
    assert {t["host"] for t in local["tasks"]} == {socket.gethostname()}
    assert {t["host"] for t in external["tasks"]} == cluster.worker_hosts
    [verdict] = data["verdicts"]
    assert verdict["label"] == "your cluster" and verdict["lanes"] == N_WORKERS
    assert verdict["verdict"] in ("faster", "same", "slower", "undecided")


# --- the code on the cluster is always the code of this run -----------------------------------------------------


def test_changed_task_code_is_used_by_the_next_run(cli, parse_json, cluster, tmp_path):
    """A copy of the lab whose fib returns -n: its run gets -n, and the next run of the real lab gets fib(n)."""
    copy = tmp_path / "changed-lab"
    shutil.copytree(hosts.REPO / "core", copy / "core", ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "core" / "workloads.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef fib_changed(n: int) -> int:\n    return -n\n\n\n_TASK_FUNCS['fib'] = fib_changed\n")
    changed = cli.finish(_start_cli_in(copy, "run", "--address", cluster.address, "--workload", "fib", "--size", "24",
                                       "--tasks", "4", "--repeats", "1", "--json"))
    assert changed.returncode == 0, changed.stderr
    assert parse_json(changed.stdout)["values"] == [-24] * 4
    again = run_experiment(fib_spec(cluster.address))
    assert again.values == (46368,) * 4  # fib(24): not the changed code from the run before


def _start_cli_in(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """``python -m core ARGS`` from ``cwd`` (a copy of the lab there), with no Python path of its own."""
    return subprocess.Popen([sys.executable, "-m", "core", *args], cwd=cwd, env=hosts.lab_free_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_without_shipping_the_scheduler_cannot_load_the_graph_and_says_why(cli, cluster):
    run = cli("run", "--address", cluster.address, "--workload", "fib", "--size", "20", "--tasks", "2",
              "--repeats", "1", "--no-ship")
    line = hosts.one_line_error(run)
    assert "could not load the task graph" in line and "PYTHONPATH" in line and cluster.address in line


# --- the lab's own side -------------------------------------------------------------------------------------------


def test_the_labs_own_listeners_stay_on_loopback(cluster):
    """Connected to a cluster on other hosts, this process listens on nothing beyond loopback."""
    me = psutil.Process()
    with ArmSession(fib_spec(cluster.address), None, Watch()) as session:
        session.open()
        session.measure()
        listening = {c.laddr.ip for c in me.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        remote = {c.raddr.ip for c in me.net_connections(kind="inet") if c.raddr}
    assert all(ipaddress.ip_address(ip.split("%")[0]).is_loopback for ip in listening), listening
    if cluster.namespaced:  # and it did talk to the cluster's hosts, over the bridge
        assert cluster.scheduler.host.ip in remote, remote


def test_the_app_runs_your_cluster_beside_the_local_ones_and_describes_it(cluster, monkeypatch):
    """Local mode: the LocalCluster page's "your own cluster" field, on this plain cluster."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from core.engines import close_all_clusters

    monkeypatch.setenv("GIL_LAB_MODE", "local")
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(hosts.REPO / "streamlit_app.py"), default_timeout=180)
        at.run()
        at.switch_page("pages/local_cluster.py")
        for key, value in {"n": "15", "tasks": "2", "rounds": "7", "p-workers": "1", "t-threads": "1"}.items():
            at.query_params[key] = value
        at.run()
        [field] = [t for t in at.text_input if t.key == "external-address"]
        field.set_value(cluster.address).run()
        [button] = [b for b in at.button if b.label == "Run experiment"]
        button.click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        words = "\n".join(m.value for m in at.markdown)
        hosts_word = "hosts" if len(cluster.worker_hosts) > 1 else "host"
        assert f"ran its tasks on 2 workers on {len(cluster.worker_hosts)} {hosts_word}" in words, words
        assert all(h in words for h in cluster.worker_hosts) and "task code shipped by value" in words
        assert "your cluster" in set(at.dataframe[0].value["engine"])
    finally:
        st.cache_resource.clear()  # the app's LocalClusters (on_release) ...
        close_all_clusters()  # ... and any it still held


# --- a cluster that changes under a run -------------------------------------------------------------------------------


def test_a_worker_that_joins_after_connect_runs_tasks_and_counts_in_the_ideal(cli, parse_json, cluster):
    """Connect, run, then a third worker (2 threads) joins: the next repeat uses it, the result describes it.

    With 4 threads on the cluster and 2 cores here, the ideal of an external arm must use the cluster's 4
    threads: ``ceil(8 tasks / 4) × floor``, not ``ceil(8 / min(4, 2)) × floor``.
    """
    spec = ExperimentSpec(workload="fib", size=25, tasks=8, scheduler="external", address=cluster.address, repeats=1)
    with ArmSession(spec, None, Watch()) as session:
        session.open()
        session.measure()
        late = cluster.add_worker("w3", nthreads=2)
        hosts.wait_for_workers(cluster.address, N_WORKERS + 1, [late])
        session.measure()
        result = session.result()
    assert result.engine["n_workers"] == N_WORKERS + 1 and result.engine["total_threads"] == N_WORKERS + 2
    late_host = late.host.ip if cluster.namespaced else socket.gethostname()
    second = result.tasks[result.tasks["repeat"] == 1]
    assert "w3" in set(second["worker"]), set(second["worker"])
    assert late_host in set(second["host"])
    assert result.engine["hosts"] == (N_WORKERS + 1 if cluster.namespaced else 1)

    run = cli("compare", "--address", cluster.address, "--engines", "sync", "--workload", "fib", "--size", "24",
              "--tasks", "8", "--rounds", "2", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    [verdict] = data["verdicts"]
    assert verdict["lanes"] == N_WORKERS + 2
    wall = sorted(r["wall_s"] for r in data["arms"][1]["runs"])
    median = (wall[(len(wall) - 1) // 2] + wall[len(wall) // 2]) / 2
    assert verdict["efficiency"] == pytest.approx(math.ceil(8 / 4) * data["task_floor_s"] / median, rel=1e-6)

    late.stop()
    cluster.workers.remove(late)
    hosts.wait_for_workers(cluster.address, N_WORKERS, cluster.workers)  # (the scheduler forgets it promptly)


def test_a_worker_dying_mid_run_is_one_line(cli, cluster):
    with hosts.client(cluster.address, 30) as client:
        pids = client.run(os.getpid)
        proc = cli.start("run", "--address", cluster.address, "--workload", "sleep", "--size", "2", "--tasks", "4",
                         "--repeats", "1")
        deadline = time.monotonic() + 60
        while not any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the tasks are on the workers' threads
        victim = min(pids)
        os.kill(pids[victim], signal.SIGKILL)
        run = cli.finish(proc)
    line = hosts.one_line_error(run)
    assert "died during the run" in line and victim in line, line
    # The nanny starts a new worker process; the next tests need the cluster whole.
    hosts.wait_for_workers(cluster.address, N_WORKERS, cluster.workers)
