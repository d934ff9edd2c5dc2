"""The experiment spec: one immutable, validated description of what to run and where.

A spec is the key for everything downstream: the app caches results on it, the URL encodes it, the
CLI builds it from flags. Validation happens once, here, with messages that name the field and the
allowed range, so every front end reports bad input the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, get_args

from core.workloads import FUNCTION, WORKLOADS, WorkloadName

Scheduler = Literal["sync", "threads", "processes", "cluster-threads", "cluster-processes", "external",
                    "futures-threads", "futures-processes", "multiprocessing", "joblib-loky", "joblib-threads",
                    "interpreters"]
SCHEDULERS: tuple[str, ...] = get_args(Scheduler)
CLUSTER_SCHEDULERS = ("cluster-threads", "cluster-processes")
# Beyond Dask: the pools Python itself (concurrent.futures, multiprocessing) and joblib offer.
POOL_SCHEDULERS = ("futures-threads", "futures-processes", "multiprocessing", "joblib-loky", "joblib-threads")
# Everything that runs in this machine's process tree without a cluster.
LOCAL_SCHEDULERS = ("sync", "threads", "processes", *POOL_SCHEDULERS)
# Threads of one process: one GIL between them.
ONE_GIL_SCHEDULERS = ("threads", "cluster-threads", "futures-threads", "joblib-threads")
# Local process pools: a pool that can be kept for every repeat (``reuse_pool``) and started apart.
PROCESS_POOL_SCHEDULERS = ("processes", "futures-processes", "multiprocessing", "joblib-loky")
# Every engine whose tasks run in worker processes, each with its own GIL.
PROCESS_SCHEDULERS = (*PROCESS_POOL_SCHEDULERS, "cluster-processes", "external")
# Engines that send several tasks per submission: Pool.map's and ProcessPoolExecutor.map's chunksize,
# joblib's batch_size.
CHUNKSIZE_SCHEDULERS = (*PROCESS_POOL_SCHEDULERS, "joblib-threads")
# A compute on these cannot be stopped once started (a thread cannot be interrupted; Dask's local
# schedulers and joblib's Parallel block the caller with no cancellation hook): budgets cap them harder.
UNCANCELLABLE_SCHEDULERS = ("sync", "threads", "processes", "futures-threads", "joblib-loky", "joblib-threads")
DISTRIBUTED_SCHEDULERS = (*CLUSTER_SCHEDULERS, "external")
# Beyond the GIL (core.engines.beyond_gil): subinterpreters, each with its own GIL, in one process; and the engines
# that can run on another interpreter of the machine (ExperimentSpec.python), in a warm child process of it.
INTERPRETER_SCHEDULERS = ("interpreters",)
OTHER_PYTHON_SCHEDULERS = ("sync", "threads", "interpreters")
STDLIB_WORKLOADS = ("fib", "sleep")  # what a subinterpreter or another interpreter runs: no NumPy there
_PYTHON_TAG = re.compile(r"3\.\d{1,2}t?", re.ASCII)  # a version tag, never a path: specs come from URLs

SCHEDULER_LABELS: dict[str, str] = {
    "sync": "sync (one thread)",
    "threads": "threads",
    "processes": "processes",
    "cluster-threads": "LocalCluster processes=False",
    "cluster-processes": "LocalCluster processes=True",
    "external": "external cluster",
    "futures-threads": "concurrent.futures threads",
    "futures-processes": "concurrent.futures processes",
    "multiprocessing": "multiprocessing.Pool",
    "joblib-loky": "joblib (loky processes)",
    "joblib-threads": "joblib (threads)",
    "interpreters": "subinterpreters (one GIL each)",
}

LIMITS: dict[str, tuple[int, int]] = {
    "tasks": (1, 64),
    "workers": (1, 32),
    "threads_per_worker": (1, 16),
    "repeats": (1, 100),
    "warmup": (0, 5),
    "chunksize": (1, 64),
    "blas_threads": (1, 64),
}
MAX_CLUSTER_THREADS = 64
MAX_FUNCTION_PATH = 200
MAX_FUNCTION_JSON = 2000  # characters of JSON arguments: a URL, a form field; data belongs in the function

# ASCII: ``\d`` would otherwise accept non-ASCII digits in the port ("٨٧٨٦"); used with fullmatch, so a
# trailing newline (which ``$`` tolerates) is refused too.
_ADDRESS = re.compile(
    r"^(tcp|tls|ws|wss)://[A-Za-z0-9_.\-]+(:\d{1,5})?$|^(tcp|tls)://\[[0-9a-fA-F:]+\](:\d{1,5})?$", re.ASCII
)


# ``package.module:name`` (or ``module:Class.method``): ASCII identifiers only, fullmatch.
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
_FUNCTION_PATH = re.compile(f"{_DOTTED}:{_DOTTED}", re.ASCII)


def short_repr(value: Any, limit: int = 60) -> str:
    """``value`` for an error message: one short line, whatever it is.

    A URL can carry a 10 000-character string and a script a 5 000-digit integer, whose ``repr``
    raises (Python's int-to-string limit) and whose ``:g`` format overflows.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        sign = "negative " if value < 0 else ""
        return f"a very large {sign}integer (about {int(value.bit_length() * math.log10(2))} digits)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_int(field: str, value: Any, limits: tuple[int, int] | None = None) -> int:
    """``value`` if it is an integer within ``limits`` (default: ``LIMITS[field]``), else a ValueError naming it."""
    low, high = limits or LIMITS[field]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{field} must be an integer from {low} to {high} (got {short_repr(value)})")
    return value


def check_function_path(value: Any, field: str = "function") -> str:
    """``value`` if it names a function as ``dotted.module:name``, else a ValueError saying what is wrong.

    Syntax only: nothing is imported here (a spec is built from every URL and CLI flag).
    :mod:`core.userfunc` imports it, in a child process first.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be text like mymodule:myfunction (got {short_repr(value)})")
    if len(value) > MAX_FUNCTION_PATH or not _FUNCTION_PATH.fullmatch(value):
        raise ValueError(f"{field} must look like dotted.module:name, e.g. mypackage.tasks:crunch"
                         f" (got {short_repr(value)})")
    if value.split(":", 1)[0] == "__main__":
        raise ValueError(f"{field}: a function in __main__ cannot be imported by worker processes; put it in a"
                         " module and name that module")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def canonical_json(field: str, value: Any, kind: type) -> str:
    """``value`` (JSON text, or a list / dict of JSON data) as canonical JSON text of a list or an object.

    Canonical (compact, sorted keys) so that equal arguments make equal, equally hashed specs: the spec
    is the app's cache key. Strict JSON: ``NaN`` and ``Infinity`` are refused.
    """
    import json

    want = "a JSON list, e.g. [30]" if kind is list else 'a JSON object, e.g. {"n": 30}'
    if isinstance(value, str):
        if len(value) > MAX_FUNCTION_JSON:
            raise ValueError(f"{field} must be at most {MAX_FUNCTION_JSON} characters of JSON (got {len(value)})")
        try:
            value = json.loads(value, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"{field} must be {want}: {short_repr(str(exc), 80)}") from None
    elif kind is list and isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, kind):
        raise ValueError(f"{field} must be {want} (got {short_repr(value)})")
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{field} must hold JSON data only: {short_repr(str(exc), 80)}") from None
    if len(text) > MAX_FUNCTION_JSON:
        raise ValueError(f"{field} must be at most {MAX_FUNCTION_JSON} characters of JSON (got {len(text)})")
    return text


def describe_call(function: str, args: str, kwargs: str, limit: int = 80) -> str:
    """``mymodule:crunch(30, mode="fast")``: a call as a reader would write it (cut to ``limit``)."""
    import json

    parts = [json.dumps(a) for a in json.loads(args)]
    parts += [f"{k}={json.dumps(v)}" for k, v in json.loads(kwargs).items()]
    text = f"{function}({', '.join(parts)})"
    return text if len(text) <= limit else text[: limit - 2] + "…)"


@dataclass(frozen=True)
class ExperimentSpec:
    """What to run: ``tasks`` independent tasks of ``workload`` at ``size`` on ``scheduler``.

    Parameters
    ----------
    workload : {"fib", "sleep", "numpy-sort", "numpy-matmul", "numpy-small", "transfer", "function"}
        The kind of task; see :data:`core.workloads.WORKLOADS` for what ``size`` means for each.
        ``function`` runs your own ``function`` instead (see below).
    size : float
        The workload's size (fib's ``n``, seconds of sleep, …), within the workload's bounds; 0 (and
        ignored) for your own function, whose arguments say how big a task is.
    tasks : int
        Number of independent tasks in the graph (each one really is a separate task).
    scheduler : str
        Where the tasks run: Dask's ``sync``, ``threads``, ``processes``, ``cluster-threads``,
        ``cluster-processes``, ``external`` (an existing cluster at ``address``), or, beyond Dask,
        ``futures-threads`` / ``futures-processes`` (``concurrent.futures``), ``multiprocessing``
        (``multiprocessing.Pool``), ``joblib-loky`` / ``joblib-threads`` (``joblib.Parallel``); beyond the
        GIL, ``interpreters`` (subinterpreters, one GIL each: :mod:`core.engines.beyond_gil`).
    workers : int
        Threads or processes of the pool, workers for a LocalCluster.
        Ignored by ``sync`` (always one thread) and ``external`` (the cluster decides).
    threads_per_worker : int
        Threads in each LocalCluster worker; must be 1 for the other schedulers.
    repeats : int
        Measured repetitions; the median is reported with the spread.
    warmup : int
        Unrecorded repetitions run first (imports, first-touch memory, JIT-free but cache-warm).
    chunksize : int
        Tasks sent per submission, for the engines that batch them (``processes``, ``futures-processes``
        and ``multiprocessing``: ``chunksize``; joblib: ``batch_size``, which joblib splits when a batch would
        leave a worker idle). Dask's default is 6, which on a small graph puts every task in one process; 1
        (our default) spreads them.
    reuse_pool : bool
        Local process pools (``processes``, ``futures-processes``, ``multiprocessing``, ``joblib-loky``):
        keep one pool for all repeats, started before them and reported apart, instead of a new pool
        on every compute (Dask's default).
    blas_threads : int or None
        BLAS threads inside ``numpy-matmul`` tasks; ``None`` leaves the library default.
    address : str or None
        Scheduler address of an existing cluster (``tcp://host:8786``); only with ``external``.
    ship_code : bool
        Distributed engines: send the task code by value inside every graph (the default), so the
        cluster needs nothing of the lab (:mod:`core.engines.shipping`). ``False``: tasks reference
        ``core.workloads`` by name, and the scheduler and workers must import it themselves.
    function : str or None
        ``workload="function"`` only: your own function as ``dotted.module:name``, imported from the
        environment the lab runs in (and by every worker process). Validated as a name here; it is
        imported and tried once in a child process before anything is measured (:mod:`core.userfunc`).
    function_args, function_kwargs : str
        JSON text of the list of positional and the object of keyword arguments of every call
        (canonical: compact, keys sorted). A list or dict of JSON data is accepted and converted.
    python : str or None
        Run on another interpreter of this machine, named by its version tag (``3.13``, ``3.13t`` for a
        free-threaded build; see :mod:`core.interpreters`), in a warm child process of it: ``sync``, ``threads``
        (a plain ``ThreadPoolExecutor`` there) and ``interpreters`` only, on fib or sleep. None: this interpreter.
    """

    workload: WorkloadName = "fib"
    size: float = 30
    tasks: int = 4
    scheduler: Scheduler = "threads"
    workers: int = 4
    threads_per_worker: int = 1
    repeats: int = 3
    warmup: int = 0
    chunksize: int = 1
    reuse_pool: bool = False
    blas_threads: int | None = 1
    address: str | None = None
    ship_code: bool = True
    function: str | None = None
    function_args: str = "[]"
    function_kwargs: str = "{}"
    python: str | None = None

    def __post_init__(self) -> None:
        if self.workload == FUNCTION:
            self._check_function()
        else:
            self._check_size()
            if self.function is not None or self.function_args != "[]" or self.function_kwargs != "{}":
                raise ValueError("function, function_args and function_kwargs only apply to workload 'function'"
                                 f" (got workload {short_repr(self.workload)})")
        self._check_engine()

    def _check_function(self) -> None:
        if self.function is None:
            raise ValueError("workload 'function' needs a function, as dotted.module:name")
        check_function_path(self.function)
        object.__setattr__(self, "function_args", canonical_json("function_args", self.function_args, list))
        object.__setattr__(self, "function_kwargs", canonical_json("function_kwargs", self.function_kwargs, dict))
        object.__setattr__(self, "size", 0)

    def _check_size(self) -> None:
        if not isinstance(self.workload, str) or self.workload not in WORKLOADS:
            raise ValueError(f"workload must be one of {', '.join(WORKLOADS)}, or {FUNCTION} with a function"
                             f" (got {short_repr(self.workload)})")
        wl = WORKLOADS[self.workload]
        if isinstance(self.size, bool) or not isinstance(self.size, (int, float)):
            raise ValueError(
                f"size must be a number from {wl.min_size:g} to {wl.max_size:g} (got {short_repr(self.size)})"
            )
        if not wl.min_size <= self.size <= wl.max_size:
            raise ValueError(
                f"size for {self.workload} ({wl.size_name}) must be from {wl.min_size:g} to {wl.max_size:g}"
                f" (got {short_repr(self.size)})"
            )
        if wl.integer_size:
            if float(self.size) != int(self.size):
                raise ValueError(
                    f"size for {self.workload} must be a whole number from {wl.min_size:g} to {wl.max_size:g}"
                    f" (got {short_repr(self.size)})"
                )
            object.__setattr__(self, "size", int(self.size))
        else:
            object.__setattr__(self, "size", float(self.size))

    def _check_engine(self) -> None:
        if not isinstance(self.scheduler, str) or self.scheduler not in SCHEDULERS:
            # "/": with interpreters, ", " would take the one-line message past 200 characters
            raise ValueError(f"scheduler must be one of {'/'.join(SCHEDULERS)} (got {short_repr(self.scheduler)})")
        for name in ("tasks", "workers", "threads_per_worker", "repeats", "warmup", "chunksize"):
            check_int(name, getattr(self, name))
        if self.blas_threads is not None:
            check_int("blas_threads", self.blas_threads)
        if not isinstance(self.reuse_pool, bool):  # a truthy "no" or an unhashable [] would slip through
            raise ValueError(f"reuse_pool must be True or False (got {short_repr(self.reuse_pool)})")
        if self.threads_per_worker != 1 and self.scheduler not in CLUSTER_SCHEDULERS:
            raise ValueError(
                "threads_per_worker only applies to cluster-threads and cluster-processes; "
                f"it must be 1 for {self.scheduler} (got {self.threads_per_worker})"
            )
        if self.scheduler in CLUSTER_SCHEDULERS and self.workers * self.threads_per_worker > MAX_CLUSTER_THREADS:
            raise ValueError(
                f"workers × threads_per_worker must be at most {MAX_CLUSTER_THREADS}"
                f" (got {self.workers} × {self.threads_per_worker})"
            )
        if not isinstance(self.ship_code, bool):
            raise ValueError(f"ship_code must be True or False (got {short_repr(self.ship_code)})")
        if not self.ship_code and self.scheduler not in DISTRIBUTED_SCHEDULERS:
            raise ValueError(f"ship_code=False only applies to {', '.join(DISTRIBUTED_SCHEDULERS)}: other engines run"
                             f" the lab's own code in this process or its children (got {self.scheduler})")
        if self.scheduler not in CHUNKSIZE_SCHEDULERS and self.chunksize != 1:
            raise ValueError(f"chunksize only applies to {', '.join(CHUNKSIZE_SCHEDULERS)} (got {self.scheduler})")
        if self.scheduler not in PROCESS_POOL_SCHEDULERS and self.reuse_pool:
            raise ValueError(f"reuse_pool only applies to the local process pools, {', '.join(PROCESS_POOL_SCHEDULERS)}"
                             f" (got {self.scheduler})")
        if self.scheduler == "external":
            if self.address is None or self.address == "":
                raise ValueError("address is required for the external scheduler, e.g. tcp://127.0.0.1:8786")
            if not isinstance(self.address, str):
                raise ValueError(f"address must be text like tcp://127.0.0.1:8786 (got {short_repr(self.address)})")
            port = self.address.rsplit(":", 1)[-1]
            if not _ADDRESS.fullmatch(self.address) or (port.isdigit() and not 1 <= int(port) <= 65535):
                raise ValueError(
                    "address must look like tcp://host:port with a port from 1 to 65535"
                    f" (got {short_repr(self.address)})"
                )
        elif self.address is not None:
            raise ValueError(f"address only applies to the external scheduler (got scheduler {self.scheduler})")
        self._check_python()

    def _check_python(self) -> None:
        # Not checked here: whether this interpreter has subinterpreters (``interpreters`` without ``python`` on 3.11
        # is one EngineError line when it starts), so that every scheduler builds a spec on every Python.
        if self.python is not None:
            if not isinstance(self.python, str) or not _PYTHON_TAG.fullmatch(self.python):
                raise ValueError(f"python must be a version like 3.13 or 3.13t (got {short_repr(self.python)})")
            if self.scheduler not in OTHER_PYTHON_SCHEDULERS:
                raise ValueError(f"python only applies to {', '.join(OTHER_PYTHON_SCHEDULERS)} (got {self.scheduler})")
        # Another interpreter may lack NumPy: refused here. Subinterpreters of this one cannot load it (nor, in 3.13,
        # most extensions): that is a one-line EngineError when a task imports it, so every scheduler takes every
        # workload in a spec.
        if self.python is not None and self.workload not in STDLIB_WORKLOADS:
            raise ValueError(f"workload must be {' or '.join(STDLIB_WORKLOADS)} on another interpreter (python"
                             f" {self.python}; got {short_repr(self.workload)})")

    # -- conveniences ------------------------------------------------------------------------------

    def replace(self, **changes: Any) -> ExperimentSpec:
        """A validated copy with ``changes`` applied."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:  # dataclasses.replace would raise a TypeError: keep "bad input is a ValueError"
            raise ValueError(f"unknown spec field(s): {', '.join(map(short_repr, unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields (JSON-serialisable)."""
        return asdict(self)

    @property
    def concurrency(self) -> int:
        """How many tasks the engine may run at the same time (before the GIL has its say)."""
        if self.scheduler == "sync":
            return 1
        if self.scheduler in CLUSTER_SCHEDULERS:
            return self.workers * self.threads_per_worker
        return self.workers

    @property
    def label(self) -> str:
        """Short human description, e.g. ``fib n = 30 × 4 on threads (4 workers)``."""
        where = SCHEDULER_LABELS[self.scheduler]
        if self.scheduler in ("threads", "processes", *POOL_SCHEDULERS, *INTERPRETER_SCHEDULERS):
            where += f" ({self.workers} workers)"
        elif self.scheduler in CLUSTER_SCHEDULERS:
            where += f" ({self.workers} workers × {self.threads_per_worker} threads)"
        elif self.scheduler == "external":
            where += f" at {self.address}"
        return f"{self.what} × {self.tasks} on {where}" + (f" on Python {self.python}" if self.python else "")

    @property
    def what(self) -> str:
        """What one task does: ``fib n = 30``, ``mymodule:crunch(30)``."""
        if self.workload == FUNCTION:
            return describe_call(str(self.function), self.function_args, self.function_kwargs)
        return f"{self.workload} {WORKLOADS[self.workload].describe_size(self.size)}"

    @property
    def call(self) -> tuple[str, str, str] | None:
        """``(function, args JSON, kwargs JSON)`` of your own function, None for the lab's workloads."""
        return None if self.workload != FUNCTION else (str(self.function), self.function_args, self.function_kwargs)
