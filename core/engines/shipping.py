"""Ship the lab's task code to a cluster by value, inside every graph: nothing to install, nothing stale.

A Dask cluster normally runs a task by importing its function by name: ``core.workloads.measured_call``
pickled by reference. A cluster someone else started (a lab server, an HPC allocation, a cloud
cluster) cannot import the lab, and current Dask deserializes the graph on the scheduler too, so both
the scheduler and every worker would need it on their path. Instead, the task code travels as bytes:

* :func:`code_blob` pickles :func:`core.workloads.measured_call` *by value* with cloudpickle (its code
  and the task functions it calls; ``core.workloads`` imports only the standard library at module
  level, so nothing else comes along, and nothing of the lab is needed to load it).
* :func:`shipped_call` builds each task as ``apply(cloudpickle.loads(blob), args)``, the load inlined in
  the task itself (a nested task of the graph). The scheduler only ever sees a ``bytes`` argument and
  two functions every cluster has (``dask.utils.apply``, ``cloudpickle.loads``); each worker loads the
  code when it runs a task (about 0.1 ms, before the task's own clock starts).

Consequences: a worker that joins later gets the code with the next graph it runs; a run with changed
code ships the changed code (there is no copy on the cluster to go stale); the cluster needs only
``dask``, ``distributed`` (which brings ``cloudpickle``) and what the workload itself imports (NumPy,
threadpoolctl; see :data:`core.workloads.Workload.packages`), with the client's Python minor version
(code objects do not load across minor versions: :mod:`core.engines.environment` checks that).

Why the load is inlined in each task rather than one shared ``loaded = delayed(cloudpickle.loads)(blob)``
task per graph: every task would then depend on that one task, and the scheduler places dependents
where their dependency's result lives, so on a small graph all the tasks can land on the worker that
loaded the code (seen on a 2-worker LocalCluster: 4 of 4 tasks on one worker), which is exactly the
parallelism the lab measures; the others would also have to fetch the function over the network first.
Inlined, the tasks stay independent. The graph carries the blob once whatever the number of tasks: it
is one ``bytes`` object, and pickle stores an object referenced T times once.

``ExperimentSpec.ship_code = False`` (CLI ``--no-ship``) turns this off, for clusters that refuse
pickled code: tasks then reference ``core.workloads.measured_call`` by name, as before, and the
scheduler and every worker must import the lab's ``core`` package (``PYTHONPATH``; see README).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from dask.delayed import Delayed

from core.spec import DISTRIBUTED_SCHEDULERS, ExperimentSpec

TaskCall = Callable[..., Delayed]
"""``call(*args, dask_key_name=key)``: one task of a graph, like ``delayed(measured_call)(*args, ...)``."""

_REGISTER_LOCK = threading.Lock()


def ships(spec: ExperimentSpec) -> bool:
    """Whether a run of ``spec`` sends its task code by value (distributed engines, unless turned off)."""
    return spec.scheduler in DISTRIBUTED_SCHEDULERS and spec.ship_code


def code_blob(func: Callable[..., Any] | None = None) -> bytes:
    """``func`` (default :func:`core.workloads.measured_call`) pickled by value, with what it calls.

    Cached per function object: a reloaded module (a developer's edit picked up by the app) has a new
    function, which gets a new blob.
    """
    import core.workloads as workloads

    return _pickled_by_value(workloads.measured_call if func is None else func)


@lru_cache(maxsize=4)
def _pickled_by_value(func: Callable[..., Any]) -> bytes:
    """Registration by value is process-wide in cloudpickle, so it is on only for this one ``dumps``,
    under a lock (another thread pickling a task of this module meanwhile pickles it by value too,
    which is merely larger)."""
    import sys

    import cloudpickle

    module = sys.modules[func.__module__]
    with _REGISTER_LOCK:
        cloudpickle.register_pickle_by_value(module)
        try:
            return cloudpickle.dumps(func)
        finally:
            cloudpickle.unregister_pickle_by_value(module)


def shipped_call(blob: bytes) -> TaskCall:
    """A task builder with ``delayed(measured_call)``'s call signature that ships ``blob`` by value.

    Each task is the legacy nested task ``(apply, (cloudpickle.loads, blob), [args])``: Dask runs the
    inner tuple inline, within the same task. A ``Delayed`` argument (the transfer payload) becomes a
    dependency by key, as ``delayed`` would make it.
    """
    import cloudpickle
    from dask.highlevelgraph import HighLevelGraph
    from dask.utils import apply

    def call(*args: Any, dask_key_name: str) -> Delayed:
        deps = [a for a in args if isinstance(a, Delayed)]
        argv = [a.key if isinstance(a, Delayed) else a for a in args]
        layer = {dask_key_name: (apply, (cloudpickle.loads, blob), argv)}
        graph = HighLevelGraph.from_collections(dask_key_name, layer, dependencies=deps)
        return Delayed(dask_key_name, graph)

    return call


def task_call(spec: ExperimentSpec) -> TaskCall | None:
    """How the tasks of ``spec`` reference their code: by value (:func:`shipped_call`), or None (by name)."""
    return shipped_call(code_blob()) if ships(spec) else None
