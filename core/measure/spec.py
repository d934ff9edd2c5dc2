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

from core.workloads import WORKLOADS, WorkloadName

Scheduler = Literal["sync", "threads", "processes", "cluster-threads", "cluster-processes", "external"]
SCHEDULERS: tuple[str, ...] = get_args(Scheduler)
LOCAL_SCHEDULERS = ("sync", "threads", "processes")
CLUSTER_SCHEDULERS = ("cluster-threads", "cluster-processes")
DISTRIBUTED_SCHEDULERS = (*CLUSTER_SCHEDULERS, "external")

SCHEDULER_LABELS: dict[str, str] = {
    "sync": "sync (one thread)",
    "threads": "threads",
    "processes": "processes",
    "cluster-threads": "LocalCluster processes=False",
    "cluster-processes": "LocalCluster processes=True",
    "external": "external cluster",
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

# ASCII: ``\d`` would otherwise accept non-ASCII digits in the port ("٨٧٨٦"); used with fullmatch, so a
# trailing newline (which ``$`` tolerates) is refused too.
_ADDRESS = re.compile(
    r"^(tcp|tls|ws|wss)://[A-Za-z0-9_.\-]+(:\d{1,5})?$|^(tcp|tls)://\[[0-9a-fA-F:]+\](:\d{1,5})?$", re.ASCII
)


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


@dataclass(frozen=True)
class ExperimentSpec:
    """What to run: ``tasks`` independent tasks of ``workload`` at ``size`` on ``scheduler``.

    Parameters
    ----------
    workload : {"fib", "sleep", "numpy-sort", "numpy-matmul", "numpy-small", "transfer"}
        The kind of task; see :data:`core.workloads.WORKLOADS` for what ``size`` means for each.
    size : float
        The workload's size (fib's ``n``, seconds of sleep, …), within the workload's bounds.
    tasks : int
        Number of independent tasks in the graph (each one really is a separate task).
    scheduler : {"sync", "threads", "processes", "cluster-threads", "cluster-processes", "external"}
        Where the graph runs. ``external`` is an existing cluster at ``address``.
    workers : int
        Threads for ``threads``, processes for ``processes``, workers for a LocalCluster.
        Ignored by ``sync`` (always one thread) and ``external`` (the cluster decides).
    threads_per_worker : int
        Threads in each LocalCluster worker; must be 1 for the other schedulers.
    repeats : int
        Measured repetitions; the median is reported with the spread.
    warmup : int
        Unrecorded repetitions run first (imports, first-touch memory, JIT-free but cache-warm).
    chunksize : int
        Tasks the ``processes`` scheduler sends per submission. Dask's default is 6, which on a small
        graph puts every task in one process; 1 (our default) spreads them.
    reuse_pool : bool
        ``processes`` only: keep one process pool for all repeats instead of Dask's default of
        starting a new pool on every compute.
    blas_threads : int or None
        BLAS threads inside ``numpy-matmul`` tasks; ``None`` leaves the library default.
    address : str or None
        Scheduler address of an existing cluster (``tcp://host:8786``); only with ``external``.
    ship_code : bool
        Distributed engines: send the task code by value inside every graph (the default), so the
        cluster needs nothing of the lab (:mod:`core.engines.shipping`). ``False``: tasks reference
        ``core.workloads`` by name, and the scheduler and workers must import it themselves.
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

    def __post_init__(self) -> None:
        if not isinstance(self.workload, str) or self.workload not in WORKLOADS:
            raise ValueError(f"workload must be one of {', '.join(WORKLOADS)} (got {short_repr(self.workload)})")
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
        if not isinstance(self.scheduler, str) or self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)} (got {short_repr(self.scheduler)})")
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
        if self.scheduler != "processes" and (self.chunksize != 1 or self.reuse_pool):
            raise ValueError(f"chunksize and reuse_pool only apply to the processes scheduler (got {self.scheduler})")
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
        wl = WORKLOADS[self.workload]
        where = SCHEDULER_LABELS[self.scheduler]
        if self.scheduler in ("threads", "processes"):
            where += f" ({self.workers} workers)"
        elif self.scheduler in CLUSTER_SCHEDULERS:
            where += f" ({self.workers} workers × {self.threads_per_worker} threads)"
        elif self.scheduler == "external":
            where += f" at {self.address}"
        return f"{self.workload} {wl.describe_size(self.size)} × {self.tasks} on {where}"
