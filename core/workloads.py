"""The work GIL Lab runs, and what each piece of work does to the GIL.

Every task function here is a plain module-level function: the ``processes`` scheduler and process
workers of a ``LocalCluster`` start fresh interpreters (spawn) that receive tasks by pickling, and a
function pickles by reference to its module. A function defined in a page or a notebook cell would
not import in the worker. For the same reason this module imports nothing heavy at import time
(NumPy is imported inside the NumPy tasks), so a process that only computes ``fib`` starts fast.

Each task is run through :func:`measured_call`, which records, inside the worker, when the task ran,
how much CPU its thread used and where it ran. That per-task evidence is what makes the GIL visible:
a thread that waits for the GIL accumulates wall time but no CPU time.

A cluster that cannot import this module gets :func:`measured_call` *by value* (cloudpickle, in every
graph: :mod:`core.engines.shipping`). So what it reaches must pickle by value too: plain functions and
the standard library at module level (never a ``functools.cache`` wrapper, which pickles by reference
to this module), NumPy and threadpoolctl imported inside the tasks that need them.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pickle
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

WorkloadName = Literal["fib", "sleep", "numpy-sort", "numpy-matmul", "numpy-small", "transfer"]
GilBehaviour = Literal["holds", "releases", "unknown"]
FUNCTION = "function"  # the workload of your own function (not in WORKLOADS: its behaviour is what we measure)

MB = 1_000_000


# --- task functions (module level so spawned workers can import them) ---------------------------


def fib(n: int) -> int:
    """Recursive Fibonacci, the tutorial's pure-Python CPU burner (holds the GIL throughout)."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def sleep(seconds: float) -> float:
    """Sleep, standing in for I/O: ``time.sleep`` releases the GIL while it waits."""
    time.sleep(seconds)
    return seconds


def numpy_sort(millions: int) -> float:
    """Sort ``millions × 10⁶`` fresh random float64 values; return a checksum.

    Both the fill and the sort run in C with the GIL released. The generator is seeded from the size
    so every engine sorts the same data and the checksum can be compared across engines.
    """
    import numpy as np

    values = np.random.default_rng(millions).random(int(millions) * MB)
    values.sort()
    return float(values[:: max(1, values.size // 1000)].sum())


def numpy_matmul(side: int, blas_threads: int | None = 1) -> float:
    """Square matrix product of side ``side``; return its trace.

    BLAS releases the GIL, but it also starts its own threads. Pinning BLAS to ``blas_threads``
    (default 1) makes the comparison one of Dask's parallelism, not OpenBLAS's. The limit is set
    without restoring it afterwards on purpose: a context manager in concurrent threads would restore
    a stale value while a sibling task still runs. Every task of a run asks for the same limit, so
    setting it is idempotent within a run. ``None`` restores the library's default
    (:func:`blas_default_threads`): a threads-scheduler run shares this process with earlier, pinned
    runs, whose limit would otherwise stay in force.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    default = blas_default_threads()  # read before this process ever pins BLAS
    threadpool_limits(limits=blas_threads if blas_threads is not None else default, user_api="blas")
    a = np.linspace(0.0, 1.0, side * side).reshape(side, side)
    return float(np.trace(a @ a.T))


def blas_default_threads() -> int | None:
    """BLAS threads before GIL Lab first pinned them: the library's default (its env vars, else the cores).

    Read once per process, at the first call, which :func:`numpy_matmul` makes before it sets any
    limit. ``None`` if no BLAS is loaded.
    """
    memo = _process_memo()
    if "blas_default_threads" not in memo:
        import numpy  # noqa: F401  (loads NumPy's BLAS, so that threadpoolctl can see it)
        from threadpoolctl import threadpool_info

        counts = [int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "blas"]
        memo["blas_default_threads"] = max(counts) if counts else None
    return memo["blas_default_threads"]


def _process_memo() -> dict[str, Any]:
    """A dict that lives as long as this process, whichever copy of this module asks for it.

    Not ``functools.cache`` and not a module-level dict: a cluster worker gets this module's functions
    by value, a fresh copy with every graph, and a module global would be fresh with them, so the
    second graph would read a BLAS limit the first one pinned as "the default". ``sys.modules`` is the
    one namespace every copy shares.
    """
    import types

    name = "_gil_lab_process_memo"
    holder = sys.modules.get(name) or sys.modules.setdefault(name, types.ModuleType(name))
    return holder.__dict__.setdefault("memo", {})


def numpy_small(thousands: int) -> float:
    """A Python loop over many tiny NumPy operations (``thousands × 1000`` iterations).

    NumPy only releases the GIL inside loops over enough elements; on an 8-element array each call
    is dominated by Python-level dispatch that holds the GIL. NumPy is not magic.
    """
    import numpy as np

    x = np.arange(8, dtype=np.float64)
    total = 0.0
    for _ in range(int(thousands) * 1000):
        x = x * 0.999 + 0.001
        total += float(x[3])
    return total


def make_payload(megabytes: int) -> Any:
    """The array the caller builds once and hands to every ``transfer`` task."""
    import numpy as np

    return np.ones(int(megabytes) * MB // 8, dtype=np.float64)


def transfer(payload: Any) -> float:
    """Return a checksum of ``payload``.

    The work is trivial on purpose: what costs time is getting the payload to the task. Threads
    read the caller's array in place; a process must receive it pickled and copied.
    """
    return float(payload.sum())


# --- your own function ---------------------------------------------------------------------------


class UserFunctionError(RuntimeError):
    """Your function failed inside a task (or could not be imported by a worker); the message says how.

    Raised in the worker with a plain message, so that it pickles back from any process and every
    engine reports it the same way: the function, the exception type and its message, on one line.
    """


def resolve_function(path: str, root: str | None = None) -> Callable[..., Any]:
    """The callable named ``module:name`` (``name`` may be dotted: ``Class.method``), imported here.

    ``root`` is the directory the module was found in when it was tried out (:mod:`core.userfunc`): a
    worker started before that directory was on ``sys.path`` (a warm pool, a LocalCluster) adds it.
    Raises :class:`UserFunctionError` naming what is missing; the parent validated the name already,
    so this only fails when a worker's environment differs from the parent's. Remembered per process
    (:func:`_process_memo`, not ``functools.cache``: a cluster gets this module by value, see there).
    """
    found = _process_memo().setdefault("user_functions", {})
    if (path, root) not in found:
        found[(path, root)] = _import_function(path, root)
    return found[(path, root)]


def _import_function(path: str, root: str | None) -> Callable[..., Any]:
    module_name, _, name = path.partition(":")
    try:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            if not root or root in sys.path:
                raise
            sys.path.append(root)
            module = importlib.import_module(module_name)
        target: Any = module
        for part in name.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise UserFunctionError(f"{path} could not be imported in worker process {os.getpid()}:"
                                f" {type(exc).__name__}: {str(exc)[:200]}") from None
    if not callable(target):
        raise UserFunctionError(f"{path} is a {type(target).__name__}, not a function")
    return target


def call_function(path: str, args_json: str, kwargs_json: str, root: str | None = None) -> Any:
    """Call your function with its JSON arguments; an exception becomes one :class:`UserFunctionError`."""
    func = resolve_function(path, root)
    args, kwargs = json.loads(args_json), json.loads(kwargs_json)
    try:
        return func(*args, **kwargs)
    except (Exception, SystemExit) as exc:  # SystemExit: a sys.exit() would otherwise kill a pool worker
        raise UserFunctionError(f"{path} raised {type(exc).__name__}: {str(exc)[:300]}") from None


# --- per-task evidence ----------------------------------------------------------------------------


def host_of(address: str | None, hostname: str) -> str:
    """The host a worker at ``address`` runs on: its address's host, or ``hostname`` for a local one.

    A worker on loopback or the in-process transport (``inproc://``, a ``processes=False``
    LocalCluster), and a local scheduler's task (no address), runs on the machine called
    ``hostname``; any other worker is known to the cluster by its network address, which tells
    hosts apart even where their hostnames agree (containers, network namespaces).
    """
    if not address or "://" not in address or address.startswith("inproc://"):
        return hostname
    location = address.split("://", 1)[1]
    host = location[1:].split("]", 1)[0] if location.startswith("[") else location.rsplit(":", 1)[0]
    if host in ("", "localhost", "::1", "0.0.0.0", "::") or host.startswith("127."):
        return hostname
    return host


def _worker_name() -> str:
    """Name of the Dask worker running this task, or of the process for local schedulers."""
    worker = _current_worker()
    if worker is not None:
        return str(worker.name if worker.name is not None else worker.address)
    return f"process {os.getpid()}"


def _worker_host() -> str:
    """The host this task runs on (see :func:`host_of`)."""
    worker = _current_worker()
    return host_of(None if worker is None else str(worker.address), socket.gethostname())


def _current_worker() -> Any:
    """The Dask worker running this task, or None (local schedulers).

    ``distributed`` is only consulted if it is already imported: a local ``processes`` worker must
    not pay for importing it.
    """
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return get_worker()
        except ValueError:  # not inside a distributed worker
            pass
    return None


def measured_call(
    workload: WorkloadName,
    size: float,
    task: int,
    payload: Any = None,
    blas_threads: int | None = 1,
    call: tuple[str, str, str, str | None] | None = None,
) -> dict[str, Any]:
    """Run one task of ``workload`` and record what happened, from inside the worker.

    For ``workload="function"``, ``call`` is ``(module:name, args JSON, kwargs JSON, root)`` and the task
    is your function (:func:`call_function`).

    Returns a dict with the task's ``value`` and its evidence: ``start_epoch`` / ``end_epoch``
    (``time.time()``, the one clock that all processes on a machine share), ``cpu_s`` (CPU time of
    this thread, ``time.thread_time``), ``pid``, ``thread_id`` (native id), ``worker`` and ``host``
    (:func:`host_of`).

    Why not ``dask.diagnostics.Profiler`` or ``Client.get_task_stream``: each covers only some
    schedulers, and neither records the CPU time of the task's thread, which is the measurement that
    shows a thread waiting for the GIL.
    """
    start = time.time()
    cpu0 = time.thread_time()
    if workload == FUNCTION:
        assert call is not None, "a function task needs its call"
        value: Any = call_function(*call)
    elif workload == "transfer":
        value = transfer(payload)
    elif workload == "numpy-matmul":
        value = numpy_matmul(int(size), blas_threads)
    else:
        value = _TASK_FUNCS[workload](size)
    cpu_s = time.thread_time() - cpu0
    end = time.time()
    return {
        "task": task,
        "value": value,
        "start_epoch": start,
        "end_epoch": end,
        "cpu_s": cpu_s,
        "pid": os.getpid(),
        "thread_id": threading.get_native_id(),
        "worker": _worker_name(),
        "host": _worker_host(),
    }


def warm_worker(workload: str) -> int:
    """Import what a task of ``workload`` needs; run in each fresh process before timing starts.

    Your own function's module is not imported here: its import is part of what it costs in a new process.
    """
    if workload.startswith("numpy") or workload == "transfer":
        import numpy  # noqa: F401
    if workload == "numpy-matmul":
        import threadpoolctl  # noqa: F401
    return os.getpid()


def init_pool_worker(ready: Any, workload: WorkloadName) -> None:
    """Process-pool initializer: do Dask's own worker set-up, warm imports, then report ready.

    Waiting for every worker's report is the only reliable way to know a spawn pool has started:
    warm-up calls alone may all be served by the first process up while the others still import.
    """
    from dask.multiprocessing import initialize_worker_process

    initialize_worker_process(user_initializer=None)
    ready.put(warm_worker(workload))


# --- metadata and cost model ----------------------------------------------------------------------


def _best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def fib_calls(n: int) -> int:
    """Number of calls recursive ``fib(n)`` makes: 2·F(n+1) − 1."""
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    return 2 * a - 1


@dataclass(frozen=True)
class Workload:
    """A kind of task, with what the app and the CLI need to explain, bound and estimate it.

    ``cost`` maps (size, calibration seconds) to the estimated seconds of one task on this machine;
    ``calibrate`` measures that calibration figure with a small, fast run (well under a second).
    ``packages`` are the distributions its tasks import (checked on a cluster's workers before a run).
    """

    name: WorkloadName
    label: str
    func: Callable[[Any], Any]
    size_name: str
    size_unit: str
    size_help: str
    integer_size: bool
    default_size: float
    min_size: float
    max_size: float
    step: float
    gil: GilBehaviour
    gil_why: str
    cpu_bound: bool
    calibrate: Callable[[], float]
    cost: Callable[[float, float], float]
    memory_bytes: Callable[[float], int]
    payload_bytes: Callable[[float], int]
    packages: tuple[str, ...] = ()  # what its tasks import beyond the standard library (a cluster needs them)

    def describe_size(self, size: float) -> str:
        """``"n = 30"`` / ``"1.0 s per task"`` style label for a size."""
        value = f"{int(size)}" if self.integer_size else f"{size:g}"
        return f"{self.size_name} = {value}" + (f" {self.size_unit}" if self.size_unit else "")


def _cal_fib() -> float:
    return _best_of(lambda: fib(20)) / fib_calls(20)


def _cal_sort() -> float:
    return _best_of(lambda: numpy_sort_sample(200_000)) / (200_000 * math.log2(200_000))


def numpy_sort_sample(n: int) -> float:
    """Calibration helper: the sort task's work on ``n`` values."""
    import numpy as np

    values = np.random.default_rng(0).random(n)
    values.sort()
    return float(values[0])


def _cal_matmul() -> float:
    side = 256
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        import numpy as np

        a = np.linspace(0.0, 1.0, side * side).reshape(side, side)
        return _best_of(lambda: a @ a.T) / side**3


def _cal_small() -> float:
    return _best_of(lambda: numpy_small(1), repeats=2)


def _cal_transfer() -> float:
    """Seconds per MB to checksum, pickle and unpickle a payload (what a process pays)."""
    payload = make_payload(8)
    t = _best_of(lambda: (payload.sum(), pickle.loads(pickle.dumps(payload, protocol=5))))
    return t / 8


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            name="fib",
            label="fib — recursive Fibonacci (pure Python)",
            func=fib,
            size_name="n",
            size_unit="",
            size_help="fib(n) makes about 1.6ⁿ Python calls: each +1 costs ~1.6× more time.",
            integer_size=True,
            default_size=30,
            min_size=15,
            max_size=34,
            step=1,
            gil="holds",
            gil_why="Every step is Python bytecode, and only the thread holding the GIL may run it.",
            cpu_bound=True,
            calibrate=_cal_fib,
            cost=lambda n, per_call: fib_calls(int(n)) * per_call,
            memory_bytes=lambda n: 0,
            payload_bytes=lambda n: 0,
        ),
        Workload(
            name="sleep",
            label="sleep — waiting on I/O (time.sleep)",
            func=sleep,
            size_name="duration",
            size_unit="s per task",
            size_help="Seconds each task sleeps, like waiting for a disk, database or web request.",
            integer_size=False,
            default_size=1.0,
            min_size=0.01,
            max_size=5.0,
            step=0.05,
            gil="releases",
            gil_why="time.sleep releases the GIL while waiting, as real I/O calls do.",
            cpu_bound=False,
            calibrate=lambda: 1.0,
            cost=lambda s, _: float(s),
            memory_bytes=lambda s: 0,
            payload_bytes=lambda s: 0,
        ),
        Workload(
            name="numpy-sort",
            label="numpy-sort — sort a large array (C, GIL released)",
            func=numpy_sort,
            size_name="values",
            size_unit="million",
            size_help="Each task fills and sorts size × 1,000,000 float64 values (8 MB per million).",
            integer_size=True,
            default_size=4,
            min_size=1,
            max_size=40,
            step=1,
            gil="releases",
            gil_why="NumPy fills and sorts large arrays in C and releases the GIL while it does.",
            cpu_bound=True,
            calibrate=_cal_sort,
            cost=lambda m, per: per * m * MB * math.log2(m * MB),
            memory_bytes=lambda m: int(m * MB * 8),
            payload_bytes=lambda m: 0,
            packages=("numpy",),
        ),
        Workload(
            name="numpy-matmul",
            label="numpy-matmul — matrix product (BLAS, GIL released)",
            func=numpy_matmul,
            size_name="side",
            size_unit="",
            size_help="Each task multiplies two side × side float64 matrices (cost grows with side³).",
            integer_size=True,
            default_size=1000,
            min_size=50,
            max_size=3000,
            step=50,
            gil="releases",
            gil_why="BLAS runs in C with the GIL released (its own threads pinned to 1 by default).",
            cpu_bound=True,
            calibrate=_cal_matmul,
            cost=lambda s, per: per * s**3,
            memory_bytes=lambda s: int(3 * s * s * 8),
            payload_bytes=lambda s: 0,
            packages=("numpy", "threadpoolctl"),
        ),
        Workload(
            name="numpy-small",
            label="numpy-small — a Python loop of tiny NumPy calls",
            func=numpy_small,
            size_name="iterations",
            size_unit="thousand",
            size_help="Each task runs size × 1000 iterations of arithmetic on an 8-element array.",
            integer_size=True,
            default_size=40,
            min_size=1,
            max_size=500,
            step=1,
            gil="holds",
            gil_why="On tiny arrays NumPy's per-call Python overhead dominates, and that holds the GIL.",
            cpu_bound=True,
            calibrate=_cal_small,
            cost=lambda k, per_thousand: per_thousand * k,
            memory_bytes=lambda k: 0,
            payload_bytes=lambda k: 0,
            packages=("numpy",),
        ),
        Workload(
            name="transfer",
            label="transfer — ship an array to every task",
            func=transfer,
            size_name="payload",
            size_unit="MB",
            size_help="Size of the array the caller builds once and every task receives.",
            integer_size=True,
            default_size=50,
            min_size=1,
            max_size=400,
            step=1,
            gil="releases",
            gil_why="The checksum runs in C; the cost that matters is pickling and copying to processes.",
            cpu_bound=True,
            calibrate=_cal_transfer,
            cost=lambda mb, per_mb: per_mb * mb,
            memory_bytes=lambda mb: int(mb * MB),
            payload_bytes=lambda mb: int(mb * MB),
            packages=("numpy",),
        ),
    ]
}


FUNCTION_WORKLOAD = Workload(
    name=FUNCTION,  # type: ignore[arg-type]
    label="your function — imported from your environment",
    func=call_function,
    size_name="call",
    size_unit="",
    size_help="Your function's arguments say how much work one call does.",
    integer_size=True,
    default_size=0,
    min_size=0,
    max_size=0,
    step=1,
    gil="unknown",
    gil_why="What it does to the GIL is what the comparison measures.",
    cpu_bound=True,  # for estimates: the worst case (its time is the trial call's, see core.userfunc)
    calibrate=lambda: 1.0,
    cost=lambda size, seconds: seconds,
    memory_bytes=lambda size: 0,
    payload_bytes=lambda size: 0,
)


def workload_info(name: str) -> Workload:
    """The :class:`Workload` of ``name``: one of :data:`WORKLOADS`, or your own function's."""
    return FUNCTION_WORKLOAD if name == FUNCTION else WORKLOADS[name]


# What measured_call runs, by name: only the task functions, so that a by-value copy of measured_call
# carries them and not the metadata above (its calibrations and cost models stay on the client).
_TASK_FUNCS: dict[str, Callable[[Any], Any]] = {name: w.func for name, w in WORKLOADS.items()}


@cache
def calibration(name: WorkloadName) -> float:
    """Calibrate ``name`` on this machine once per process and remember the figure."""
    return WORKLOADS[name].calibrate()


def estimate_task_seconds(name: WorkloadName, size: float) -> float:
    """Estimated seconds for one task of ``name`` at ``size``, run alone on this machine."""
    workload = WORKLOADS[name]
    return float(workload.cost(size, calibration(name)))


def noop(i: int) -> int:
    """Do nothing and return ``i``: the task the overhead page schedules by the thousand.

    Module level (and outside :data:`WORKLOADS`) so process workers import it by reference; its cost
    is a function call, so a graph of no-ops measures what the scheduler adds per task.
    """
    return i
