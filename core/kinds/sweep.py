"""Sweeps: how an engine scales with workers, and what shipping data to tasks costs.

Two experiments built from many ordinary runs of :func:`core.engines.run_experiment` (the one run
path, so every point carries its per-task evidence and the machine it was measured on):

* **Scaling** (:func:`scaling_sweep`): one workload on one engine at 1, 2, … workers, as *strong
  scaling*: the total work is fixed (the same ``tasks`` at every worker count) and we ask how much
  faster more workers finish it. Speedup is measured against the **1-worker run of the same engine**
  (so engine overhead cancels out and only parallelism is left); a ``sync`` run is added for
  reference. An Amdahl's-law fit gives the serial fraction ``f``.
* **Data transfer** (:func:`transfer_sweep`): the ``transfer`` workload (every task receives one
  shared array and only checksums it) over payload sizes and engines. Threads read the caller's
  array in place; processes receive it pickled, copied and unpickled.

Results are frozen dataclasses holding one tidy DataFrame (one row per point) plus the stacked
``runs`` frames of every run, the machine, and strict-JSON ``to_dict`` / ``to_json``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.measure.estimate import MEMORY_FRACTION, BudgetError, check_budget, estimate, memory_bytes
from core.measure.machine import MachineInfo, available_memory_bytes, machine_info
from core.measure.results import ExperimentResult
from core.measure.spec import CLUSTER_SCHEDULERS, LIMITS, SCHEDULER_LABELS, ExperimentSpec
from core.workloads import WORKLOADS

Progress = Callable[[str, float], None]

SCALING_SCHEDULERS = ("threads", "processes", "cluster-threads", "cluster-processes")
TRANSFER_SCHEDULERS = ("sync", "threads", "processes", "cluster-threads", "cluster-processes")
DEFAULT_TRANSFER_SCHEDULERS = ("threads", "processes", "cluster-processes")
TRANSFER_SIZES_MB = (1, 10, 50, 100, 200)
TASKS_PER_WORKER = 2  # default k in tasks = k × max(workers): every worker of the widest run gets two tasks

SCALING_COLUMNS = ["scheduler", "engine", "workload", "size", "tasks", "workers", "cores", "balanced",
                   "wall_s", "wall_min_s", "wall_max_s", "compute_s", "setup_s", "speedup", "speedup_min",
                   "speedup_max", "efficiency", "ideal_speedup", "amdahl_speedup", "serial_fraction",
                   "speedup_vs_sync", "run_id"]
TRANSFER_COLUMNS = ["scheduler", "engine", "mb", "tasks", "workers", "wall_s", "wall_min_s", "wall_max_s",
                    "compute_s", "setup_s", "throughput_mb_s", "run_id"]


# --- parsing and validation --------------------------------------------------------------------------


def max_sweep_workers(cores: int | None = None) -> int:
    """Largest worker count a sweep accepts: 4 × the usable cores (at least 4, at most the spec's 32).

    Twice the cores already shows the flat part after the knee; 4 × leaves room to look further.
    """
    cores = machine_info().usable_cores if cores is None else cores
    return min(LIMITS["workers"][1], max(4, 4 * cores))


def parse_counts(text: str | Sequence[int], field: str, low: int, high: int) -> tuple[int, ...]:
    """``"1,2,4"`` (or a sequence of ints) → ``(1, 2, 4)``, sorted; ``ValueError`` naming ``field`` otherwise.

    Refuses empty lists, non-integers, values outside ``low..high`` and duplicates.
    """
    allowed = f"a comma-separated list of whole numbers from {low} to {high}"
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
        if not text.strip() or any(p == "" for p in parts):
            raise ValueError(f"{field} must be {allowed} (got {text[:60]!r})")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"{field} must be {allowed} (got {text[:60]!r})") from None
    else:
        values = list(text)
        if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
            raise ValueError(f"{field} must be {allowed} (got {str(values)[:60]})")
        values = [int(v) for v in values]
    bad = [v for v in values if not low <= v <= high]
    if bad:
        raise ValueError(f"{field} must be {allowed} (got {bad[0]})")
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"{field} lists {dupes[0]} more than once")
    return tuple(sorted(values))


def parse_names(text: str | Sequence[str], field: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """``"threads,processes"`` → ``("threads", "processes")`` in the given order; ``ValueError`` otherwise."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else [str(p) for p in text]
    if not parts or any(p == "" for p in parts):
        raise ValueError(f"{field} must be a comma-separated list of {', '.join(allowed)} (got {str(text)[:60]!r})")
    for p in parts:
        if p not in allowed:
            raise ValueError(f"{field} must be a comma-separated list of {', '.join(allowed)} (got {p[:60]!r})")
    dupes = [p for p in dict.fromkeys(parts) if parts.count(p) > 1]
    if dupes:
        raise ValueError(f"{field} lists {dupes[0]} more than once")
    return tuple(parts)


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


def _sweep_warmup(scheduler: str, warmup: int | None) -> int:
    # A fresh LocalCluster's workers import the task modules (and NumPy) on their first task: one
    # unrecorded repeat keeps that out of the first measured one. Pools and threads are warm already.
    if warmup is not None:
        return warmup
    return 1 if scheduler in CLUSTER_SCHEDULERS else 0


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


# --- results ---------------------------------------------------------------------------------------


def _strict(value: Any) -> Any:
    """Plain-Python, strict-JSON version of ``value`` (NaN and ±inf become ``None``)."""
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return _strict(json.loads(frame.to_json(orient="records")))


@dataclass(frozen=True)
class ScalingResult:
    """A strong-scaling sweep: one engine, one workload, a fixed number of tasks, several worker counts.

    Attributes
    ----------
    workload, size, scheduler, tasks, repeats : as in :class:`core.measure.spec.ExperimentSpec`
    workers : tuple of int
        The worker counts measured (1 is always among them: it is the baseline).
    frame : DataFrame
        One row per worker count (:data:`SCALING_COLUMNS`): ``wall_s`` (median over repeats),
        ``wall_min_s``, ``wall_max_s``, ``compute_s``, ``setup_s`` (one-time start-up, never in wall),
        ``speedup`` = wall(1 worker) ÷ wall (``speedup_min`` / ``speedup_max`` from the slowest and
        fastest repeat), ``efficiency`` = speedup ÷ workers, ``ideal_speedup`` = min(workers, cores),
        ``amdahl_speedup`` (the fitted curve at that count), ``speedup_vs_sync`` (NaN without sync),
        ``balanced`` (tasks divide evenly among the workers) and the ``run_id`` of the run.
    runs : DataFrame
        Every measured repeat of every run (the sync reference included), stacked.
    serial_fraction : float
        Amdahl's f fitted to the speedups (NaN when no point constrains it).
    fit_points : int
        Distinct core counts above 1 behind the fit.
    cores : int
        Usable cores of the machine (where the ideal line bends: the knee).
    sync_wall_s : float or None
        Median wall of the same tasks on the sync scheduler, if it was run.
    machine : MachineInfo
    started_at : str
        ISO timestamp (UTC) of the sweep's first run.
    """

    workload: str
    size: float
    scheduler: str
    tasks: int
    repeats: int
    workers: tuple[int, ...]
    frame: pd.DataFrame = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    serial_fraction: float
    fit_points: int
    cores: int
    sync_wall_s: float | None
    machine: MachineInfo = field(repr=False)
    started_at: str

    baseline = "the 1-worker run of the same engine"

    @property
    def caveat(self) -> str:
        """What the Amdahl fit can tell on this machine (little, on 2 cores)."""
        return amdahl_caveat(self.cores, self.fit_points)

    @property
    def balanced(self) -> bool:
        """Whether every worker count divided the tasks evenly."""
        return bool(self.frame["balanced"].all())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the sweep's parameters, ``rows`` (one per worker count), fit, machine, runs."""
        return _strict({
            "kind": "scaling",
            "workload": self.workload,
            "size": self.size,
            "scheduler": self.scheduler,
            "engine": SCHEDULER_LABELS[self.scheduler],
            "tasks": self.tasks,
            "repeats": self.repeats,
            "workers": list(self.workers),
            "baseline": self.baseline,
            "cores": self.cores,
            "serial_fraction": self.serial_fraction,
            "fit_points": self.fit_points,
            "fit_caveat": self.caveat,
            "sync_wall_s": self.sync_wall_s,
            "started_at": self.started_at,
            "machine": self.machine.to_dict(),
            "rows": _records(self.frame),
            "runs": _records(self.runs),
        })

    def to_json(self, indent: int | None = None) -> str:
        """Strict JSON (no NaN or Infinity tokens)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


@dataclass(frozen=True)
class TransferResult:
    """A data-transfer sweep: the ``transfer`` workload over payload sizes and engines.

    Attributes
    ----------
    sizes_mb : tuple of int
        Payload sizes (MB) measured.
    schedulers : tuple of str
        Engines measured, in the order given.
    tasks, workers, repeats : int
        The same for every run (``sync`` always has one worker).
    frame : DataFrame
        One row per (engine, size) (:data:`TRANSFER_COLUMNS`): ``wall_s`` (median), ``wall_min_s``,
        ``wall_max_s``, ``compute_s`` (median), ``setup_s`` and ``throughput_mb_s`` = mb × tasks ÷
        compute_s: the payload megabytes delivered to tasks per second of compute.
    runs : DataFrame
        Every measured repeat of every run, stacked.
    machine : MachineInfo
    started_at : str
    """

    sizes_mb: tuple[int, ...]
    schedulers: tuple[str, ...]
    tasks: int
    workers: int
    repeats: int
    frame: pd.DataFrame = field(repr=False)
    runs: pd.DataFrame = field(repr=False)
    machine: MachineInfo = field(repr=False)
    started_at: str

    def growth(self, scheduler: str) -> float:
        """Median wall at the largest size ÷ at the smallest, for ``scheduler`` (NaN if absent)."""
        rows = self.frame[self.frame["scheduler"] == scheduler].sort_values("mb")
        if len(rows) < 2 or rows["wall_s"].iloc[0] <= 0:
            return math.nan
        return float(rows["wall_s"].iloc[-1] / rows["wall_s"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: parameters, ``rows`` (one per engine and size), machine and runs."""
        return _strict({
            "kind": "transfer",
            "workload": "transfer",
            "sizes_mb": list(self.sizes_mb),
            "schedulers": list(self.schedulers),
            "tasks": self.tasks,
            "workers": self.workers,
            "repeats": self.repeats,
            "started_at": self.started_at,
            "machine": self.machine.to_dict(),
            "rows": _records(self.frame),
            "runs": _records(self.runs),
        })

    def to_json(self, indent: int | None = None) -> str:
        """Strict JSON (no NaN or Infinity tokens)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


# --- scaling -----------------------------------------------------------------------------------------


def scaling_specs(
    workload: str = "fib",
    size: float = 27,
    scheduler: str = "processes",
    workers: str | Sequence[int] = (1, 2, 4),
    tasks: int | None = None,
    repeats: int = 3,
    *,
    warmup: int | None = None,
    include_sync: bool = True,
) -> list[ExperimentSpec]:
    """The runs of a strong-scaling sweep, validated (no measurement): the sync reference first.

    Strong scaling: the same ``tasks`` at every worker count (default :func:`default_tasks`:
    2 × max(workers), rounded up to a multiple of every count so each divides evenly). 1 worker is
    always added: it is the baseline for speedup. ``processes`` keeps one pool per worker count
    (``reuse_pool``): Dask's default of a new pool on every compute would add its start-up (≈0.2 s
    per process) to every repeat and bury the scaling; that start-up is reported as ``setup_s``, as is
    a LocalCluster's. Cluster engines get one unrecorded warm-up repeat unless ``warmup`` says otherwise.

    Raises
    ------
    ValueError
        Unknown or non-CPU-bound workload, an engine without workers, bad worker counts or tasks.
    """
    if workload not in WORKLOADS:
        raise ValueError(f"workload must be one of {', '.join(WORKLOADS)} (got {str(workload)[:60]!r})")
    wl = WORKLOADS[workload]
    if not wl.cpu_bound or workload == "transfer":
        raise ValueError(
            f"scaling sweeps measure CPU-bound work; {workload} is not (waiting needs no core: see the I/O page,"
            " and the transfer sweep for transfer)"
        )
    if scheduler not in SCALING_SCHEDULERS:
        raise ValueError(f"scheduler must be one of {', '.join(SCALING_SCHEDULERS)} (got {str(scheduler)[:60]!r})")
    counts = parse_counts(workers, "workers", 1, max_sweep_workers())
    if 1 not in counts:
        counts = (1, *counts)
    if tasks is None:
        tasks = default_tasks(counts)
    low, high = LIMITS["tasks"]
    if isinstance(tasks, bool) or not isinstance(tasks, int) or not low <= tasks <= high:
        raise ValueError(f"tasks must be an integer from {low} to {high} (got {str(tasks)[:60]})")
    if tasks < max(counts):
        raise ValueError(
            f"tasks must be at least the largest worker count ({max(counts)}) so every worker has work (got {tasks})"
        )
    warm = _sweep_warmup(scheduler, warmup)
    specs = []
    if include_sync:
        specs.append(ExperimentSpec(workload=workload, size=size, tasks=tasks, scheduler="sync", workers=1,
                                    repeats=repeats, warmup=warmup or 0))
    for w in counts:
        specs.append(ExperimentSpec(workload=workload, size=size, tasks=tasks, scheduler=scheduler, workers=w,
                                    repeats=repeats, warmup=warm, reuse_pool=scheduler == "processes"))
    return specs


def scaling_from_results(results: Sequence[ExperimentResult]) -> ScalingResult:
    """Assemble a :class:`ScalingResult` from the runs of :func:`scaling_specs` (any order).

    Raises
    ------
    ValueError
        If the runs are not one sweep (different workloads, sizes, tasks or engines) or lack 1 worker.
    """
    if not results:
        raise ValueError("a scaling sweep needs at least the 1-worker run")
    sync = [r for r in results if r.spec.scheduler == "sync"]
    points = sorted((r for r in results if r.spec.scheduler != "sync"), key=lambda r: r.spec.workers)
    if not points:
        raise ValueError("a scaling sweep needs runs of one engine besides sync")
    first = points[0].spec
    for r in results:
        s = r.spec
        if (s.workload, s.size, s.tasks) != (first.workload, first.size, first.tasks):
            raise ValueError("every run of a sweep must have the same workload, size and tasks")
    if {r.spec.scheduler for r in points} != {first.scheduler}:
        raise ValueError("a scaling sweep measures one engine (plus sync for reference)")
    counts = [r.spec.workers for r in points]
    if len(set(counts)) != len(counts):
        raise ValueError("each worker count may appear once in a sweep")
    if counts[0] != 1:
        raise ValueError("the 1-worker run is missing: it is the baseline for speedup")
    machine = points[0].machine
    cores = machine.usable_cores
    base = points[0].wall_s
    sync_wall = sync[0].wall_s if sync else None
    rows = []
    for r in points:
        w = r.spec.workers
        rows.append({
            "scheduler": r.spec.scheduler,
            "engine": SCHEDULER_LABELS[r.spec.scheduler],
            "workload": r.spec.workload,
            "size": r.spec.size,
            "tasks": r.spec.tasks,
            "workers": w,
            "cores": cores,
            "balanced": r.spec.tasks % w == 0,
            "wall_s": r.wall_s,
            "wall_min_s": r.wall_min_s,
            "wall_max_s": r.wall_max_s,
            "compute_s": float(r.runs["compute_s"].median()),
            "setup_s": r.setup_s,
            "speedup": base / r.wall_s if r.wall_s > 0 else math.nan,
            "speedup_min": base / r.wall_max_s if r.wall_max_s > 0 else math.nan,
            "speedup_max": base / r.wall_min_s if r.wall_min_s > 0 else math.nan,
            "ideal_speedup": float(min(w, cores)),
            "speedup_vs_sync": sync_wall / r.wall_s if sync_wall and r.wall_s > 0 else math.nan,
            "run_id": r.run_id,
        })
    frame = pd.DataFrame(rows)
    frame["efficiency"] = frame["speedup"] / frame["workers"]
    f, fit_points = fit_serial_fraction(frame["workers"], frame["speedup"], cores)
    frame["serial_fraction"] = f
    frame["amdahl_speedup"] = amdahl(f, np.minimum(frame["workers"], cores)) if fit_points else math.nan
    runs = pd.concat([r.runs for r in (*sync, *points)], ignore_index=True)
    return ScalingResult(
        workload=first.workload, size=first.size, scheduler=first.scheduler, tasks=first.tasks,
        repeats=first.repeats, workers=tuple(counts), frame=frame[SCALING_COLUMNS], runs=runs,
        serial_fraction=f, fit_points=fit_points, cores=cores, sync_wall_s=sync_wall, machine=machine,
        started_at=min(r.started_at for r in results),
    )


def _check(specs: list[ExperimentSpec], max_seconds: float | None) -> float:
    """Estimated seconds of all ``specs``; ``BudgetError`` over ``max_seconds`` (None: no check at all)."""
    if max_seconds is None:
        return sum(estimate(s).seconds for s in specs)
    try:
        return check_budget(specs, max_seconds)
    except BudgetError as exc:
        text = str(exc)
        runs = f"{len(specs)} run{'s' if len(specs) != 1 else ''}"
        if text.startswith("this run is"):  # the time budget: it is the whole sweep's
            text = text.replace("this run is", f"this sweep ({runs}) is", 1).replace(
                "lower the size, tasks or repeats", "lower the size, tasks or repeats, or sweep fewer points", 1)
        else:  # the memory guard: one run of the sweep
            text = f"one run of this sweep: {text}"
        raise BudgetError(text) from None


def _run_all(
    specs: list[ExperimentSpec], clusters: Any, progress: Progress | None, label: Callable[[ExperimentSpec], str]
) -> list[ExperimentResult]:
    from core.engines import ClusterRegistry  # the engines import dask: only when measuring
    from core.measure.run import run_experiment

    notify = progress or (lambda message, fraction: None)
    own = clusters is None
    registry = ClusterRegistry() if own else clusters
    results = []
    try:
        for i, spec in enumerate(specs):
            notify(f"{label(spec)} ({i + 1} of {len(specs)})", i / len(specs))
            results.append(run_experiment(spec, clusters=registry))
            nxt = specs[i + 1] if i + 1 < len(specs) else None
            if own and spec.scheduler in CLUSTER_SCHEDULERS and (nxt is None or nxt.workers != spec.workers):
                # A sweep's own clusters are not reused by later shapes: free the cores and memory now.
                registry.close()
    finally:
        if own:
            registry.close()
    notify("Done", 1.0)
    return results


def scaling_sweep(
    workload: str = "fib",
    size: float = 27,
    scheduler: str = "processes",
    workers: str | Sequence[int] = (1, 2, 4),
    tasks: int | None = None,
    repeats: int = 3,
    *,
    warmup: int | None = None,
    include_sync: bool = True,
    clusters: Any = None,
    max_seconds: float | None = 60.0,
    progress: Progress | None = None,
) -> ScalingResult:
    """Measure speedup and parallel efficiency of ``scheduler`` at each worker count.

    Strong scaling: a fixed total of ``tasks`` (default :func:`default_tasks`, which every worker
    count divides evenly; a ``tasks`` that does not divide a count is allowed and that row is flagged
    ``balanced = False``, its last wave half-empty). Speedup = median wall of **the 1-worker run of
    the same engine** ÷ median wall at p workers, so the engine's own overheads cancel; ``sync`` is
    run too for reference (``speedup_vs_sync``) unless ``include_sync`` is False. Wall never includes
    one-time start-up: each LocalCluster shape (one per worker count) and each reused process pool
    starts before its timed repeats, and that start-up is the ``setup_s`` column.

    Parameters
    ----------
    workload, size : str, float
        A CPU-bound workload (fib, numpy-sort, numpy-matmul, numpy-small) and its size.
    scheduler : {"threads", "processes", "cluster-threads", "cluster-processes"}
    workers : str or sequence of int
        Worker counts, e.g. ``"1,2,4"`` (1 to :func:`max_sweep_workers`; no duplicates; 1 is added).
    tasks : int, optional
        Total tasks of every run (at least the largest worker count).
    repeats : int
        Measured repeats per worker count; the median is reported with min and max.
    warmup : int, optional
        Unrecorded repeats first (default: 1 on cluster engines, 0 otherwise).
    include_sync : bool
        Also run the tasks on ``sync`` for reference.
    clusters : ClusterSource, optional
        Where cluster engines get their LocalCluster per shape (the app's cache). By default a
        :class:`core.engines.ClusterRegistry` of the sweep's own, each shape closed when done.
    max_seconds : float or None
        Refuse (``BudgetError``) when the estimate of all runs together exceeds it or a run would
        need more than half the available memory; ``None`` skips the check.
    progress : callable, optional
        ``progress(message, fraction)`` before each run.

    Returns
    -------
    ScalingResult
    """
    specs = scaling_specs(workload, size, scheduler, workers, tasks, repeats, warmup=warmup,
                          include_sync=include_sync)
    _check(specs, max_seconds)
    results = _run_all(specs, clusters, progress,
                       lambda s: "sync (reference)" if s.scheduler == "sync" else f"{s.scheduler} × {s.workers}")
    return scaling_from_results(results)


# --- data transfer ---------------------------------------------------------------------------------


def _transfer_memory_ok(spec: ExperimentSpec, available: int | None) -> bool:
    return available is None or memory_bytes(spec) <= MEMORY_FRACTION * available


def transfer_specs(
    sizes: str | Sequence[int] = TRANSFER_SIZES_MB,
    schedulers: str | Sequence[str] = DEFAULT_TRANSFER_SCHEDULERS,
    tasks: int = 4,
    workers: int | None = None,
    repeats: int = 2,
    *,
    warmup: int | None = None,
) -> list[ExperimentSpec]:
    """The runs of a transfer sweep, engine by engine, sizes ascending (no measurement).

    ``workers`` defaults to the usable cores. ``processes`` reuses one pool per run so that pool
    start-up (not a transfer cost) stays out of wall; cluster engines get one warm-up repeat.
    """
    wl = WORKLOADS["transfer"]
    mbs = parse_counts(sizes, "sizes", int(wl.min_size), int(wl.max_size))
    names = parse_names(schedulers, "schedulers", TRANSFER_SCHEDULERS)
    workers = machine_info().usable_cores if workers is None else workers
    return [
        ExperimentSpec(workload="transfer", size=mb, tasks=tasks, scheduler=s, workers=1 if s == "sync" else workers,
                       repeats=repeats, warmup=_sweep_warmup(s, warmup), reuse_pool=s == "processes")
        for s in names for mb in mbs
    ]


def default_transfer_sizes(
    schedulers: str | Sequence[str] = DEFAULT_TRANSFER_SCHEDULERS,
    tasks: int = 4,
    workers: int | None = None,
    candidates: Sequence[int] = TRANSFER_SIZES_MB,
) -> tuple[int, ...]:
    """The ``candidates`` (MB) whose runs fit in memory on every engine: at most half of what is available.

    A process engine holds the caller's array, its pickle and a copy per task in flight, so the cap
    depends on the engines, tasks and workers (:func:`core.measure.estimate.memory_bytes`).
    """
    available = available_memory_bytes()
    ok = []
    for mb in candidates:
        specs = transfer_specs([mb], schedulers, tasks, workers, repeats=1)
        if all(_transfer_memory_ok(s, available) for s in specs):
            ok.append(int(mb))
    return tuple(ok)


def transfer_from_results(results: Sequence[ExperimentResult]) -> TransferResult:
    """Assemble a :class:`TransferResult` from runs of the ``transfer`` workload."""
    if not results:
        raise ValueError("a transfer sweep needs at least one run")
    if any(r.spec.workload != "transfer" for r in results):
        raise ValueError("a transfer sweep only has runs of the transfer workload")
    rows = []
    for r in results:
        s = r.spec
        compute = float(r.runs["compute_s"].median())
        rows.append({
            "scheduler": s.scheduler,
            "engine": SCHEDULER_LABELS[s.scheduler],
            "mb": int(s.size),
            "tasks": s.tasks,
            "workers": s.workers,
            "wall_s": r.wall_s,
            "wall_min_s": r.wall_min_s,
            "wall_max_s": r.wall_max_s,
            "compute_s": compute,
            "setup_s": r.setup_s,
            "throughput_mb_s": s.size * s.tasks / compute if compute > 0 else math.nan,
            "run_id": r.run_id,
        })
    frame = pd.DataFrame(rows, columns=TRANSFER_COLUMNS)
    schedulers = tuple(dict.fromkeys(frame["scheduler"]))
    order = {s: i for i, s in enumerate(schedulers)}
    frame = frame.sort_values(["scheduler", "mb"], key=lambda c: c.map(order) if c.name == "scheduler" else c)
    frame = frame.reset_index(drop=True)
    first = results[0]
    return TransferResult(
        sizes_mb=tuple(sorted(set(frame["mb"].tolist()))), schedulers=schedulers, tasks=first.spec.tasks,
        workers=max(r.spec.workers for r in results), repeats=first.spec.repeats, frame=frame,
        runs=pd.concat([r.runs for r in results], ignore_index=True), machine=first.machine,
        started_at=min(r.started_at for r in results),
    )


def transfer_sweep(
    sizes: str | Sequence[int] | None = None,
    schedulers: str | Sequence[str] = DEFAULT_TRANSFER_SCHEDULERS,
    tasks: int = 4,
    workers: int | None = None,
    repeats: int = 2,
    *,
    warmup: int | None = None,
    clusters: Any = None,
    max_seconds: float | None = 60.0,
    progress: Progress | None = None,
) -> TransferResult:
    """Measure the ``transfer`` workload at each payload size on each engine.

    Every task receives the same array of ``size`` MB and only checksums it. Threads (and sync) read
    the caller's array in place, so their time barely moves with size (what does grow is the
    checksum itself, a fast read of memory). The ``processes`` scheduler pickles the array for every
    task, pipes it to a worker process and unpickles it there: time grows with MB × tasks. A
    LocalCluster with processes sends the payload to one worker with the graph and copies it once
    per *worker* that needs it, not once per task.

    Parameters
    ----------
    sizes : str or sequence of int, optional
        Payload sizes in MB (1 to 400), e.g. ``"1,10,50"``. Default: 1, 10, 50, 100, 200 MB, keeping
        those that fit in half the available memory on every engine (:func:`default_transfer_sizes`).
    schedulers : str or sequence of str
        Engines to compare (default threads, processes, cluster-processes).
    tasks, workers, repeats : int
        Tasks per run, workers (default: the usable cores; sync has one) and measured repeats.
    warmup : int, optional
        Unrecorded repeats first (default: 1 on cluster engines, 0 otherwise).
    clusters, max_seconds, progress
        As in :func:`scaling_sweep`. Explicit sizes over the memory guard raise ``BudgetError``.

    Returns
    -------
    TransferResult
        ``throughput_mb_s`` = mb × tasks ÷ median compute seconds.
    """
    if sizes is None:
        sizes = default_transfer_sizes(schedulers, tasks, workers)
        if not sizes:
            raise BudgetError("not even a 1 MB payload fits in half the available memory on these engines")
    specs = transfer_specs(sizes, schedulers, tasks, workers, repeats, warmup=warmup)
    _check(specs, max_seconds)
    results = _run_all(specs, clusters, progress, lambda s: f"{s.scheduler} · {int(s.size)} MB")
    return transfer_from_results(results)


# --- plain-language readings ---------------------------------------------------------------------------


def describe_scaling(result: ScalingResult) -> list[str]:
    """Markdown sentences written from the sweep's own numbers: the knee, the best point, f and its limits."""
    f = result.frame
    cores = result.cores
    engine = SCHEDULER_LABELS[result.scheduler]
    best = f.loc[f["speedup"].idxmax()]
    if int(best["workers"]) == 1:
        out = [f"On **{engine}**, no worker count beat 1 worker: more workers only added overhead"
               f" (best other: {f['speedup'].iloc[1:].max():.2f}×)." if len(f) > 1 else
               f"Only 1 worker was measured on **{engine}**."]
    else:
        out = [
            f"On **{engine}**, {int(best['workers'])} workers ran the {result.tasks} tasks fastest:"
            f" **{best['speedup']:.2f}×** the 1-worker time ({best['wall_s']:.3f} s vs {f['wall_s'].iloc[0]:.3f} s),"
            f" efficiency {best['efficiency']:.0%}."
        ]
    at_cores = f[f["workers"] == cores]
    beyond = f[f["workers"] > cores]
    if not at_cores.empty and not beyond.empty:
        s_knee = float(at_cores["speedup"].iloc[0])
        s_beyond = float(beyond["speedup"].max())
        out.append(
            f"The knee is at **{cores} workers = {cores} usable cores**: {s_knee:.2f}× there, at most"
            f" {s_beyond:.2f}× beyond. Extra workers cannot compute at the same time — they take turns on"
            f" the same {cores} cores."
        )
    wl = WORKLOADS[result.workload]
    if result.scheduler in ("threads", "cluster-threads") and wl.gil == "holds" and f["speedup"].max() < 1.3:
        out.append(
            f"Threads do not scale for {result.workload}: every worker thread lives in one process with one"
            " GIL, and pure-Python bytecode runs only while holding it, so the threads take turns."
        )
    if math.isfinite(result.serial_fraction):
        out.append(
            f"Amdahl fit: serial fraction **f = {result.serial_fraction:.2f}** — as if {result.serial_fraction:.0%}"
            f" of the 1-worker time could not be parallelised (best possible speedup 1/f ="
            f" {'∞' if result.serial_fraction == 0 else f'{1 / result.serial_fraction:.1f}×'}). {result.caveat}"
        )
    else:
        out.append(result.caveat)
    above = f[f["speedup_min"] > 1.1 * f["ideal_speedup"]]
    if not above.empty:
        out.append(
            f"Above the ideal at {', '.join(str(w) for w in above['workers'])} workers: not extra cores, but a"
            " 1-worker run slowed by per-task overhead (sending each task, collecting its result) that more"
            " workers overlap with computing."
        )
    if result.sync_wall_s is not None:
        one, sync = float(f["wall_s"].iloc[0]), result.sync_wall_s
        if one > 1.1 * sync:
            why = f"the {one - sync:.3f} s difference is what the engine itself costs"
        elif sync > 1.1 * one:
            why = "sync was the slower one this time: same work on one thread, so that is this machine's noise"
        else:
            why = "about the same: this engine adds little to tasks of this size"
        out.append(
            f"For reference, sync ran the same tasks in {sync:.3f} s and the 1-worker {result.scheduler} run in"
            f" {one:.3f} s: {why}."
        )
    if not result.balanced:
        odd = ", ".join(str(w) for w in f.loc[~f["balanced"], "workers"])
        out.append(f"{result.tasks} tasks do not divide evenly among {odd} workers: those runs end with a"
                   " half-empty wave and sit below the ideal for that reason alone.")
    return out


def describe_transfer(result: TransferResult) -> list[str]:
    """Markdown sentences from the transfer sweep's numbers: who stays flat, who grows, and MB/s."""
    f = result.frame
    out = []
    lo, hi = min(result.sizes_mb), max(result.sizes_mb)
    for s in result.schedulers:
        rows = f[f["scheduler"] == s].sort_values("mb")
        engine = SCHEDULER_LABELS[s]
        if len(rows) >= 2:
            a, b = float(rows["wall_s"].iloc[0]), float(rows["wall_s"].iloc[-1])
            rate = float(rows["throughput_mb_s"].iloc[-1])
            out.append(
                f"**{engine}**: {a * 1000:.0f} ms at {lo} MB → {b * 1000:.0f} ms at {hi} MB"
                f" ({b / a:.1f}×) · {rate:,.0f} MB/s delivered at {hi} MB."
            )
        else:
            out.append(f"**{engine}**: {float(rows['wall_s'].iloc[0]) * 1000:.0f} ms at {lo} MB.")
    return out


# --- the CLI verbs (``python -m core sweep`` / ``transfer``) -----------------------------------------------


def _fmt_table(frame: pd.DataFrame, columns: list[str]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    shown = frame[columns].copy()
    return shown.to_string(index=False, formatters={c: fmt for c in columns if shown[c].dtype.kind == "f"})


def _machine_line(m: MachineInfo) -> str:
    return (f"machine: {m.usable_cores} usable of {m.logical_cores} logical cores · Python {m.python_version}"
            f" (GIL {m.gil_label}) · dask {m.dask_version} · distributed {m.distributed_version}")


def cli_main(args: Any) -> int:
    """``python -m core sweep|transfer``: print the result, or one error line and return 2."""
    import sys

    from core.cli import PROG

    try:
        print(cli_output(args))
    except ValueError as exc:  # bad input, or over the budget (BudgetError)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from core.engines import EngineError  # imported only now: bad input never pays for Dask

        if not isinstance(exc, EngineError):
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return 0


def cli_output(args: Any) -> str:
    """Run the ``sweep`` or ``transfer`` verb from parsed arguments; return what to print.

    Raises ``ValueError`` (bad input), ``BudgetError`` or ``EngineError``: the CLI turns each into one
    line on stderr and exit status 2.
    """
    max_seconds = None if args.force else args.max_seconds
    if args.command == "sweep":
        size = args.size if args.size is not None else WORKLOADS.get(args.workload, WORKLOADS["fib"]).default_size
        result: ScalingResult | TransferResult = scaling_sweep(
            args.workload, size, args.scheduler, args.workers, args.tasks, args.repeats,
            include_sync=not args.no_sync, max_seconds=max_seconds,
        )
        if args.json:
            return result.to_json()
        assert isinstance(result, ScalingResult)
        what = f"{result.workload} {WORKLOADS[result.workload].describe_size(result.size)} × {result.tasks} tasks"
        lines = [
            f"strong scaling: {what} on {SCHEDULER_LABELS[result.scheduler]},"
            f" {result.repeats} repeat(s) per worker count",
            _machine_line(result.machine),
            f"baseline: {result.baseline}; wall excludes one-time start-up (setup_s)",
            "",
            _fmt_table(result.frame, ["workers", "wall_s", "wall_min_s", "wall_max_s", "setup_s", "speedup",
                                      "efficiency", "ideal_speedup", "amdahl_speedup"]),
            "",
            *[s.replace("**", "") for s in describe_scaling(result)],
        ]
        return "\n".join(lines)
    sizes = args.sizes if args.sizes is not None else None
    result = transfer_sweep(sizes, args.schedulers, args.tasks, args.workers, args.repeats, max_seconds=max_seconds)
    if args.json:
        return result.to_json()
    assert isinstance(result, TransferResult)
    lines = [
        f"transfer: {result.tasks} tasks per run, each receiving the same array of mb megabytes, {result.repeats}"
        f" repeat(s) per point",
        _machine_line(result.machine),
        "",
        _fmt_table(result.frame, ["scheduler", "mb", "wall_s", "wall_min_s", "wall_max_s", "compute_s",
                                  "throughput_mb_s"]),
        "",
        *[s.replace("**", "") for s in describe_transfer(result)],
        "MB/s = MB × tasks ÷ compute seconds: for processes, pickling + copying + unpickling; for threads,"
        " only reading memory.",
    ]
    return "\n".join(lines)
