"""The sweep's spec: its engines and workloads, the default worker counts and tasks, and Amdahl's law."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.kinds.points import MAX_REPEATS, parse_counts
from core.measure.machine import machine_info
from core.spec import LIMITS, PROCESS_POOL_SCHEDULERS, ExperimentSpec, check_int, short_repr
from core.workloads import WORKLOADS

# Every engine whose size can be swept. joblib-loky is not among them: its executor is one per process, so the
# worker counts of a sweep (open together, in interleaved rounds) cannot have one each.
SCALING_SCHEDULERS = ("threads", "processes", "cluster-threads", "cluster-processes", "futures-threads",
                      "futures-processes", "multiprocessing", "joblib-threads")
SCALING_WORKLOADS = ("fib", "numpy-sort", "numpy-matmul", "numpy-small")
TASKS_PER_WORKER = 2  # default k in tasks = k × max(workers): every worker of the widest run gets two tasks

SCALING_COLUMNS = ["scheduler", "engine", "workload", "size", "tasks", "workers", "cores", "balanced",
                   "wall_s", "wall_min_s", "wall_max_s", "compute_s", "setup_s", "speedup", "speedup_min",
                   "speedup_max", "efficiency", "ideal_speedup", "amdahl_speedup", "serial_fraction",
                   "speedup_vs_sync", "run_id"]
BASELINE = "the 1-worker run of the same engine"


# --- defaults ------------------------------------------------------------------------------------------


def max_sweep_workers(cores: int | None = None) -> int:
    """Largest worker count a sweep accepts: 4 × the usable cores (at least 4, at most the spec's 32).

    Twice the cores already shows the flat part after the knee; 4 × leaves room to look further.
    """
    cores = machine_info().usable_cores if cores is None else cores
    return min(LIMITS["workers"][1], max(4, 4 * cores))


def default_worker_counts(max_workers: int, cores: int | None = None) -> tuple[int, ...]:
    """Every count from 1 to ``max_workers`` when that is at most 8; else powers of two plus the core count."""
    cores = machine_info().usable_cores if cores is None else cores
    if max_workers <= 8:
        return tuple(range(1, max_workers + 1))
    counts = {1, max_workers, min(cores, max_workers)}
    p = 2
    while p < max_workers:
        counts.add(p)
        p *= 2
    return tuple(sorted(counts))


def default_tasks(workers: Sequence[int], per_worker: int = TASKS_PER_WORKER) -> int:
    """Total tasks for a strong-scaling sweep over ``workers``.

    The smallest multiple of lcm(workers) that gives the widest run ``per_worker`` tasks per worker,
    so every worker count divides the tasks evenly (no half-empty last wave). When that exceeds the
    spec's 64-task limit (e.g. 1…8 workers: lcm 840), ``per_worker × max(workers)`` instead, and the
    rows whose count does not divide it are flagged ``balanced = False``.
    """
    widest = max(workers)
    lcm = math.lcm(*workers)
    want = per_worker * widest
    tasks = lcm * math.ceil(want / lcm)
    if tasks <= LIMITS["tasks"][1]:
        return tasks
    return min(want, LIMITS["tasks"][1])


# --- Amdahl's law -----------------------------------------------------------------------------------


def amdahl(serial_fraction: float, p: float | np.ndarray) -> float | np.ndarray:
    """Amdahl's speedup on ``p`` cores: 1 / (f + (1 − f) / p)."""
    return 1.0 / (serial_fraction + (1.0 - serial_fraction) / np.asarray(p, dtype=float))


def fit_serial_fraction(workers: Sequence[int], speedup: Sequence[float], cores: int) -> tuple[float, int]:
    """Least-squares fit of Amdahl's serial fraction ``f`` to measured speedups.

    Fits S(p) = 1 / (f + (1 − f) / p) with p = min(workers, cores) (more workers than cores cannot
    compute more at once), minimising the squared error in S over f ∈ [0, 1] (a dense grid, then
    a finer one around the best point: one parameter, no optimiser needed).

    Returns
    -------
    (f, points) : tuple of float and int
        ``f`` (NaN when nothing constrains it) and the number of distinct p > 1 that did. Points at
        p = 1 carry no information (S(1) = 1 for every f). With 2 cores there is only p = 2:
        ``f = 2 / S(2) − 1``, one number fitted to one measurement.
    """
    p = np.minimum(np.asarray(workers, dtype=float), float(cores))
    s = np.asarray(speedup, dtype=float)
    keep = (p > 1) & np.isfinite(s) & (s > 0)
    if not keep.any():
        return math.nan, 0
    p, s = p[keep], s[keep]

    def best(grid: np.ndarray) -> float:
        err = ((s[None, :] - amdahl(grid[:, None], p[None, :])) ** 2).sum(axis=1)
        return float(grid[int(np.argmin(err))])

    coarse = best(np.linspace(0.0, 1.0, 1001))
    fine = best(np.linspace(max(0.0, coarse - 1e-3), min(1.0, coarse + 1e-3), 201))
    return fine, int(len(set(p.tolist())))


def amdahl_caveat(cores: int, points: int) -> str:
    """What the Amdahl fit can and cannot say on this machine."""
    if points == 0:
        return "Amdahl's f is not defined here: no run had more than one worker on more than one core."
    if cores <= 2 or points == 1:
        return (
            f"With {cores} usable core{'s' if cores != 1 else ''} the fit rests on a single speedup (at"
            f" p = {min(cores, 2) if cores >= 2 else 1}): f = p/S − 1 over p − 1 is one number computed from one"
            " measurement. It cannot tell a truly serial part from start-up, scheduling overhead, another"
            " program on the cores or noise, and it predicts nothing about more cores."
        )
    return (
        f"The fit uses {points} core counts above 1; f lumps together the serial part, per-task overhead"
        " and contention, so read it as a summary of this machine, not a property of the code."
    )


# --- the spec ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalingSpec:
    """A strong-scaling sweep: ``tasks`` tasks of ``workload`` on ``scheduler`` at each worker count.

    Parameters
    ----------
    workload, size : str, float
        A CPU-bound workload (fib, numpy-sort, numpy-matmul, numpy-small) and its size.
    scheduler : {"threads", "processes", "cluster-threads", "cluster-processes"}
    workers : str or sequence of int
        Worker counts, e.g. ``"1,2,4"`` (1 to :func:`max_sweep_workers`; no duplicates). 1 is added:
        it is the baseline of every speedup.
    tasks : int, optional
        Total tasks of every point, at least the largest worker count (default :func:`default_tasks`,
        which every count divides evenly; a count that does not divide it is flagged ``balanced = False``).
    repeats : int
        Measured rounds (every point runs once per round); medians are reported with min and max.
    include_sync : bool
        Also run the tasks on ``sync``, for reference (``speedup_vs_sync``).
    """

    workload: str = "fib"
    size: float = 27
    scheduler: str = "processes"
    workers: tuple[int, ...] = (1, 2, 4)
    tasks: int | None = None
    repeats: int = 3
    include_sync: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.workload, str) or self.workload not in WORKLOADS:
            raise ValueError(f"workload must be one of {', '.join(WORKLOADS)} (got {short_repr(self.workload)})")
        wl = WORKLOADS[self.workload]
        if not wl.cpu_bound or self.workload == "transfer":
            raise ValueError(f"scaling sweeps measure CPU-bound work; {self.workload} is not (waiting needs no core:"
                             " see the I/O page, and the transfer sweep for transfer)")
        if self.scheduler not in SCALING_SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCALING_SCHEDULERS)}"
                             f" (got {short_repr(self.scheduler)})")
        counts = parse_counts(self.workers, "workers", 1, max_sweep_workers())
        counts = counts if 1 in counts else (1, *counts)
        object.__setattr__(self, "workers", counts)
        tasks = default_tasks(counts) if self.tasks is None else check_int("tasks", self.tasks)
        if tasks < max(counts):
            raise ValueError(f"tasks must be at least the largest worker count ({max(counts)}) so every worker has"
                             f" work (got {tasks})")
        object.__setattr__(self, "tasks", tasks)
        check_int("repeats", self.repeats, (1, MAX_REPEATS))
        object.__setattr__(self, "include_sync", bool(self.include_sync))
        object.__setattr__(self, "size", self.experiments()[-1].size)  # validates the size; fib n is whole

    def experiments(self) -> list[ExperimentSpec]:
        """The points, the sync reference first.

        A process pool (Dask's ``processes``, ``futures-processes``, ``multiprocessing``) keeps one pool per
        worker count (``reuse_pool``): a new pool on every compute would add its start-up (≈0.2 s per
        process) to every repeat and bury the scaling; that start-up is ``setup_s``, as is a LocalCluster's.
        Every point gets the rounds' warm-up.
        """
        common = {"workload": self.workload, "size": self.size, "tasks": self.tasks, "repeats": self.repeats,
                  "warmup": 1}
        specs = [ExperimentSpec(scheduler="sync", workers=1, **common)] if self.include_sync else []
        reuse = self.scheduler in PROCESS_POOL_SCHEDULERS
        return specs + [ExperimentSpec(scheduler=self.scheduler, workers=w, reuse_pool=reuse, **common)  # type: ignore[arg-type]
                        for w in self.workers]

    @property
    def label(self) -> str:
        return (f"scaling sweep: {self.workload} {WORKLOADS[self.workload].describe_size(self.size)} × {self.tasks}"
                f" on {self.scheduler} × {','.join(map(str, self.workers))}")


def scaling_specs(workload: str = "fib", size: float = 27, scheduler: str = "processes",
                  workers: str | Sequence[int] = (1, 2, 4), tasks: int | None = None, repeats: int = 3, *,
                  include_sync: bool = True) -> list[ExperimentSpec]:
    """The points of a sweep, validated (no measurement): :meth:`ScalingSpec.experiments`."""
    return ScalingSpec(workload, size, scheduler, workers, tasks, repeats, include_sync).experiments()  # type: ignore[arg-type]


