"""The task code shipped by value (:mod:`core.engines.shipping`), without a cluster where none is needed.

A process that cannot import the lab loads the blob and runs every workload with the same evidence as
:func:`core.workloads.measured_call` here; a second copy loaded in the same process still finds the
BLAS default the first one read (a per-process memo, not a module global that comes fresh with each
copy); the graph calls only that code, and carries it once; LocalClusters give the same values with
and without shipping.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

from core import WORKLOADS, ExperimentSpec
from core.engines.shipping import code_blob, shipped_call, ships, task_call
from core.measure.run import build_graph
from core.workloads import measured_call
from tests import hosts

LOAD_AND_RUN = r"""
import json, sys
import cloudpickle
blob = open(sys.argv[1], "rb").read()
first, second = cloudpickle.loads(blob), cloudpickle.loads(blob)
out = {"importable": "core" in sys.modules}
out["fib"] = first("fib", 20, 0)
out["sort"] = first("numpy-sort", 1, 1)["value"]
out["small"] = first("numpy-small", 1, 2)["value"]
pinned = first("numpy-matmul", 64, 3, None, 1)["value"]
from threadpoolctl import threadpool_info
blas = lambda: max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
out["pinned_threads"] = blas()
out["restored"] = second("numpy-matmul", 64, 4, None, None)["value"] == pinned
out["restored_threads"] = blas()
print(json.dumps(out))
"""


def test_the_blob_runs_every_workload_where_the_lab_cannot_be_imported(tmp_path):
    blob = tmp_path / "code.pickle"
    blob.write_bytes(code_blob())
    env = hosts.lab_free_env()
    env["OPENBLAS_NUM_THREADS"] = "2"  # a default above the pinned 1, whatever this machine's cores
    importable, _ = hosts.lab_is_importable(tmp_path, env)
    assert not importable
    out = subprocess.run([sys.executable, "-c", LOAD_AND_RUN, str(blob)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["importable"] is False  # loading the code imported nothing of the lab
    here = measured_call("fib", 20, 0)
    assert set(got["fib"]) == set(here) and got["fib"]["value"] == here["value"] == 6765
    assert got["fib"]["host"] == here["host"] and got["fib"]["worker"].startswith("process ")
    assert got["sort"] == measured_call("numpy-sort", 1, 1)["value"]
    assert got["small"] == measured_call("numpy-small", 1, 2)["value"]
    # The second copy restored the library's default, which the first copy read before pinning to 1.
    assert got["pinned_threads"] == 1 and got["restored"] and got["restored_threads"] == 2


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_a_shipped_graph_only_ever_calls_the_shipped_code(workload):
    """The shipped counterpart of test_security's check: every task is apply(cloudpickle.loads(blob), args)."""
    import cloudpickle
    from dask.utils import apply

    spec = ExperimentSpec(workload=workload, size=WORKLOADS[workload].min_size, tasks=3, scheduler="cluster-threads",
                          workers=1)
    graph = {}
    for task in build_graph(spec, "sec", b"data" if workload == "transfer" else None, task_call(spec)):
        graph.update(dict(task.__dask_graph__()))
    tasks = {k: v for k, v in graph.items() if not str(k).startswith("payload-")}
    assert len(tasks) == 3
    for node in tasks.values():  # a legacy task tuple: (apply, (loads, blob), [args])
        assert node[0] is apply and node[1] == (cloudpickle.loads, code_blob()), node[:2]
        assert node[2][0] == workload


def test_the_graph_carries_the_code_once_whatever_the_number_of_tasks():
    spec = ExperimentSpec(workload="fib", size=20, tasks=64, scheduler="cluster-processes", workers=2)
    graph = {}
    for task in build_graph(spec, "size", None, shipped_call(code_blob())):
        graph.update(dict(task.__dask_graph__()))
    assert len(pickle.dumps(graph, protocol=5)) < 2 * len(code_blob()) + 64 * 2000


def test_shipping_is_for_distributed_engines_unless_turned_off():
    assert ships(ExperimentSpec(scheduler="cluster-threads", workers=1))
    assert ships(ExperimentSpec(scheduler="external", address="tcp://h:1"))
    assert not ships(ExperimentSpec(scheduler="external", address="tcp://h:1", ship_code=False))
    assert not ships(ExperimentSpec(scheduler="processes")) and task_call(ExperimentSpec(scheduler="sync")) is None


@pytest.mark.parametrize("scheduler", ["cluster-threads", "cluster-processes"])
def test_local_clusters_give_the_same_results_shipped_or_not(run_cached, scheduler):
    spec = ExperimentSpec(workload="fib", size=20, tasks=2, scheduler=scheduler, workers=2, repeats=1)
    shipped, by_name = run_cached(spec), run_cached(spec.replace(ship_code=False))
    assert shipped.values == by_name.values == (6765, 6765)
    assert list(shipped.tasks.columns) == list(by_name.tasks.columns)
    assert shipped.engine["ship_code"] and not by_name.engine["ship_code"]
    assert shipped.engine["hosts"] == 1 and {w["pid"] for w in shipped.engine["workers"]} >= set(shipped.tasks["pid"])


def test_blob_is_made_once_per_function():
    assert code_blob() is code_blob() is code_blob(measured_call)
    assert code_blob(WORKLOADS["sleep"].func) != code_blob()
