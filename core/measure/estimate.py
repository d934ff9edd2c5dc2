"""How long and how much memory an experiment will take, before it runs.

The app shows the estimate next to the Run button and refuses runs that would take minutes or
exhaust memory (Streamlit Community Cloud gives about 2 cores and 1–3 GB); the CLI refuses runs over
``--max-seconds`` unless forced. Task costs come from a quick calibration on this machine
(:func:`core.workloads.calibration`); engine overheads are rough figures measured on a 2-core
machine. An estimate is a guide, not a measurement, and the app says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.measure.machine import machine_info
from core.spec import (
    CHUNKSIZE_SCHEDULERS,
    CLUSTER_SCHEDULERS,
    ONE_GIL_SCHEDULERS,
    PROCESS_POOL_SCHEDULERS,
    PROCESS_SCHEDULERS,
    ExperimentSpec,
)
from core.workloads import FUNCTION, MB, calibration, estimate_task_seconds, workload_info

# Rough engine overheads (seconds), measured on the 2-core development machine.
POOL_START_S = 0.25  # a spawn pool, plus per worker below
POOL_START_PER_WORKER_S = 0.2
POOL_STOP_S = 0.3
# The pools beyond Dask start workers that import no Dask: about half the per-worker cost (loky's workers
# import loky and cloudpickle).
PLAIN_POOL_START_PER_WORKER_S = {"futures-processes": 0.1, "multiprocessing": 0.1, "joblib-loky": 0.15}
CLUSTER_START_S = {"cluster-threads": 0.3, "cluster-processes": 0.5, "external": 0.5}
CLUSTER_START_PER_WORKER_S = {"cluster-threads": 0.02, "cluster-processes": 0.35, "external": 0.0}
TASK_OVERHEAD_S = {"sync": 1e-4, "threads": 3e-4, "processes": 2e-3, "cluster-threads": 2e-3,
                   "cluster-processes": 3e-3, "external": 5e-3, "futures-threads": 1e-4, "futures-processes": 1e-3,
                   "multiprocessing": 1e-3, "joblib-loky": 2e-3, "joblib-threads": 5e-4,
                   "interpreters": 1e-3}
# Beyond the GIL: a subinterpreter starts in ~30 ms (importing core.workloads), a child of another interpreter
# in ~0.1 s; a task on another interpreter pays its JSON round trip over the child's pipe.
INTERPRETER_START_S = 0.04
OTHER_PYTHON_START_S = 0.15
OTHER_PYTHON_TASK_S = 5e-4
MEMORY_FRACTION = 0.5  # refuse runs that would need more than this share of available memory
# Resident memory of one worker process before it computes anything (interpreter, dask, numpy), measured
# with psutil on the development machine: a spawn-pool worker imports little; a Nanny-managed
# distributed worker carries distributed, tornado and its own event loop, plus the nanny process.
PROCESS_TRANSFER_MB_S = 250.0  # payload MB per second into another process (pickle + pipe + unpickle)
PROCESS_WORKER_BYTES = {"processes": 60 * MB, "cluster-processes": 110 * MB, "futures-processes": 30 * MB,
                        "multiprocessing": 30 * MB, "joblib-loky": 45 * MB}


def fmt_seconds(seconds: float) -> str:
    """Whole seconds for big numbers, two significant digits for small ones (never "0 s")."""
    return f"{seconds:,.0f}" if seconds >= 10 else f"{seconds:.2g}"


_secs = fmt_seconds


@dataclass(frozen=True)
class Cost:
    """What one measurement of any kind is expected to take, before it runs (see :mod:`core.kinds.base`).

    Attributes
    ----------
    seconds : float
        Expected wall time of the whole measurement (start-ups included).
    memory_bytes : int
        Peak memory it needs on this machine (worker processes included).
    longest_uncancellable_s : float
        The longest piece that cannot be stopped once started: one compute on a local engine (sync,
        threads, processes block in ``dask.compute``). 0 when every piece can be stopped.
    what : str
        How messages name it ("this comparison", "this sweep (5 runs)").
    advice : str
        What to change when it is over budget.
    max_seconds : float or None
        For measurements that adapt their length (rounds until decided): the most they will take.
    typical_seconds : float or None
        For those: about how long one usually takes (until decided or at the budget, on a quiet machine),
        which is what a queue behind it waits; ``seconds`` when None.
    """

    seconds: float
    memory_bytes: int
    longest_uncancellable_s: float = 0.0
    what: str = "this run"
    advice: str = "lower the size, tasks or repeats (the CLI's --force runs it anyway)"
    max_seconds: float | None = None
    typical_seconds: float | None = None

    @property
    def typical_s(self) -> float:
        """About how long it usually takes: what sessions queued behind it are told they wait."""
        return self.typical_seconds if self.typical_seconds is not None else self.seconds

    def describe(self) -> str:
        """``≈ 2 s`` or ``≈ 2 s (rounds until decided, at most 3 s)``."""
        text = f"≈ {fmt_seconds(self.seconds)} s"
        if self.max_seconds is not None and self.max_seconds > self.seconds * 1.05:
            text += f" (more rounds until decided, at most {fmt_seconds(self.max_seconds)} s)"
        return text


class BudgetError(ValueError):
    """A run would take longer, or need more memory, than allowed. The message says by how much."""


@dataclass(frozen=True)
class Estimate:
    """Estimated cost of running a spec on this machine."""

    seconds: float
    task_s: float
    per_repeat_s: float
    setup_s: float
    memory_bytes: int

    @property
    def memory_mb(self) -> float:
        return self.memory_bytes / MB


def _lanes(spec: ExperimentSpec) -> int:
    if spec.scheduler in CHUNKSIZE_SCHEDULERS:
        # With chunksize c, ready tasks go out in batches of c: fewer batches than workers idle some.
        return max(1, min(spec.workers, math.ceil(spec.tasks / spec.chunksize)))
    return max(1, spec.concurrency)


def compute_seconds(spec: ExperimentSpec, task_s: float, cores: int) -> float:
    """Estimated compute time of one repeat: tasks spread over lanes, limited by cores and the GIL."""
    wl = workload_info(spec.workload)
    lanes = _lanes(spec)
    waves = math.ceil(spec.tasks / lanes) * task_s  # if every lane really ran in parallel
    holds = wl.gil != "releases"  # your own function: estimated as the worst case, holding the GIL
    if spec.scheduler == "sync" or not wl.cpu_bound:
        base = spec.tasks * task_s if spec.scheduler == "sync" else waves
    else:
        one_gil = spec.scheduler in ONE_GIL_SCHEDULERS
        if holds and one_gil:
            parallel = 1  # one GIL: the tasks take turns
        elif holds and spec.scheduler in ("cluster-processes", "external"):
            parallel = min(spec.workers, cores)  # one GIL per worker process
        else:
            parallel = min(lanes, cores)
        base = max(waves, spec.tasks * task_s / parallel)
    if spec.workload == "transfer" and spec.scheduler in PROCESS_SCHEDULERS:
        # Each task's payload is pickled, sent through a pipe or socket and unpickled, one after the other
        # in the sending process: measured ~300 MB/s on the 2-core development machine (the in-process
        # pickle calibration alone was 4–10× too optimistic).
        base += spec.tasks * (task_s + spec.size / PROCESS_TRANSFER_MB_S)
    return base + spec.tasks * TASK_OVERHEAD_S[spec.scheduler]


def memory_bytes(spec: ExperimentSpec) -> int:
    """Peak memory the run needs on this machine.

    Arrays of the tasks in flight (× 2: a sort or product needs room for its result), or the copies of
    a shipped payload (one per process that receives it, plus its pickle), plus the baseline of each
    worker process the engine starts. An external cluster's workers live elsewhere: only the caller's
    copy of a payload counts.
    """
    wl = workload_info(spec.workload)
    in_flight = min(spec.tasks, 1 if spec.scheduler == "sync" else spec.concurrency)
    payload = wl.payload_bytes(spec.size)
    if spec.scheduler == "external":
        return int(payload)
    need = wl.memory_bytes(spec.size) * in_flight * 2
    if payload:
        copies = 1 + (2 * in_flight if spec.scheduler in (*PROCESS_POOL_SCHEDULERS, "cluster-processes") else 0)
        need = payload * copies
    need += PROCESS_WORKER_BYTES.get(spec.scheduler, 0) * spec.workers
    return int(need)


def estimate(spec: ExperimentSpec, *, cluster_running: bool = False) -> Estimate:
    """Estimate wall time and peak memory of ``spec`` on this machine.

    Parameters
    ----------
    spec : ExperimentSpec
        The experiment.
    cluster_running : bool
        Whether a LocalCluster of this shape is already up (its start-up is then not counted).
    """
    cores = machine_info().usable_cores
    if spec.workload == FUNCTION:
        from core.userfunc import tried  # one trial call in a child process, remembered

        task_s = tried(spec).seconds
    elif spec.workload == "transfer":
        task_s = calibration("transfer") * spec.size
    else:
        task_s = estimate_task_seconds(spec.workload, spec.size)
    per_repeat = compute_seconds(spec, task_s, cores)
    setup = 0.0
    if spec.scheduler in PROCESS_POOL_SCHEDULERS:
        per_worker = PLAIN_POOL_START_PER_WORKER_S.get(spec.scheduler, POOL_START_PER_WORKER_S)
        pool = POOL_START_S + per_worker * spec.workers + POOL_STOP_S
        if spec.reuse_pool:
            setup = pool
        else:
            per_repeat += pool
    elif spec.python is not None or spec.scheduler == "interpreters":
        setup = (OTHER_PYTHON_START_S if spec.python is not None else 0.0) + (
            INTERPRETER_START_S * spec.workers if spec.scheduler == "interpreters" else 0.0)
        per_repeat += spec.tasks * (OTHER_PYTHON_TASK_S if spec.python is not None else 0.0)
    elif spec.scheduler in (*CLUSTER_SCHEDULERS, "external") and not cluster_running:
        setup = CLUSTER_START_S[spec.scheduler] + CLUSTER_START_PER_WORKER_S[spec.scheduler] * spec.workers
    total = setup + per_repeat * (spec.repeats + spec.warmup)
    return Estimate(seconds=total, task_s=task_s, per_repeat_s=per_repeat, setup_s=setup,
                    memory_bytes=memory_bytes(spec))

