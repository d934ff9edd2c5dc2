"""The one run path: every engine, every measurement kind, timed the same way.

:func:`run_experiment` runs one :class:`~core.measure.spec.ExperimentSpec` (warm-up and measured
repeats on one engine) and returns its :class:`~core.measure.results.ExperimentResult`.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timezone
from typing import Any

from dask.delayed import Delayed, delayed

from core.engines import ClusterSource, Progress, Watch, make_engine
from core.engines.base import _quiet
from core.measure.estimate import estimate
from core.measure.machine import machine_info
from core.measure.results import ExperimentResult, build_result
from core.measure.spec import ExperimentSpec
from core.serve.slot import RUN_SLOT, SlotStatus
from core.workloads import make_payload, measured_call

# --- the one run path ------------------------------------------------------------------------------


def build_graph(spec: ExperimentSpec, token: str, payload: Any = None) -> list[Delayed]:
    """``spec.tasks`` independent delayed tasks, each with its own key.

    ``delayed`` is impure by default and every key is named explicitly, so T tasks really are T
    tasks; the tutorial's ``client.map(fib, [30] * 4)`` is pure and collapses to one.
    """
    shared = delayed(payload, name=f"payload-{token}") if payload is not None else None
    return [
        delayed(measured_call)(
            spec.workload, spec.size, i, shared, spec.blas_threads, dask_key_name=f"{spec.workload}-{i}-{token}"
        )
        for i in range(spec.tasks)
    ]


def run_experiment(
    spec: ExperimentSpec,
    *,
    clusters: ClusterSource | None = None,
    progress: Progress | None = None,
    deadline_s: float | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExperimentResult:
    """Run ``spec`` and return its measured result.

    A run can be stopped. Distributed engines (``cluster-threads``, ``cluster-processes``,
    ``external``) wait for each compute in slices of a quarter second and, between slices, call
    ``progress`` (tasks done so far), ``should_stop`` and check ``deadline_s``; a run that must stop
    has its tasks cancelled and leaves nothing of itself running on the cluster (a
    ``processes=True`` LocalCluster restarts its workers if a task does not end within a second;
    threads cannot be interrupted, so a ``processes=False`` or external cluster's running tasks are
    waited for). The cluster stays usable for the next run.

    Local engines (``sync``, ``threads``, ``processes``) cannot be stopped mid-compute:
    ``dask.compute`` blocks the calling thread inside ``dask.local.get_async`` until the graph is
    done and offers no cancellation hook, a thread pool's threads cannot be interrupted, and killing
    a process pool under ``get_async`` leaves it waiting for results that never come. They are
    checked between repeats (and kept short by the callers' time budgets, not here).

    Parameters
    ----------
    spec : ExperimentSpec
        What to run and where.
    clusters : ClusterSource, optional
        Where cluster schedulers find (or start) their LocalCluster (a :class:`ClusterRegistry`,
        or the app's ``st.cache_resource``-backed source). Defaults to a process-wide
        registry that is closed at interpreter exit.
    progress : callable, optional
        ``progress(message, fraction)`` is called before each repeat, between wait slices of a
        distributed compute (a heartbeat: "3 of 4 tasks done") and at the end. Called from this
        thread only. If it raises (anything, including a ``BaseException`` such as Streamlit's
        stop when its session goes away), the run is stopped as for ``should_stop`` and the same
        exception is re-raised.
    deadline_s : float, optional
        Seconds of computing allowed, counted from the end of the engine's start-up (a cluster's
        start is bounded by its own timeouts): a distributed run past it is stopped within a
        slice, a local one before its next repeat. ``None``: no limit.
    should_stop : callable, optional
        ``should_stop()`` returning True stops the run (between slices or repeats).

    Returns
    -------
    ExperimentResult
        One row per measured repeat (wall, start-up, compute, teardown) and one row per task per
        repeat (start, end, CPU time, pid, thread, worker), with the machine's metadata.

    Raises
    ------
    EngineError
        If the engine cannot start, e.g. an external cluster is unreachable or is not a Dask
        scheduler; :class:`WorkerLost` if a worker died during the run (the measurement would mix
        in re-run tasks, so none is returned; a LocalCluster is restarted, run again).
    RunCancelled
        If ``should_stop()`` returned True.
    RunTimeout
        If the run went past ``deadline_s``; the message names the limit.
    ValueError
        If ``deadline_s`` is not a positive number.
    """
    if deadline_s is not None and (
        isinstance(deadline_s, bool) or not isinstance(deadline_s, (int, float)) or math.isnan(deadline_s)
        or deadline_s <= 0
    ):
        raise ValueError(f"deadline_s must be a positive number of seconds, or None (got {deadline_s!r})")
    notify = progress or _quiet
    watch = Watch(notify, should_stop, deadline_s)

    def waiting(status: SlotStatus) -> None:
        watch.check()  # a visitor who gives up while waiting does not wait on (the slot lets it raise)
        notify(f"Waiting for another experiment to finish (runs never overlap: they would share cores):"
               f" {status.describe()}", 0.0)

    # Waiters are told roughly how long this run has left; when the app already holds the slot for a
    # whole comparison the estimate is not needed (reentrant hold).
    expected_s = 0.0 if RUN_SLOT.held_by_me else estimate(spec).seconds
    with RUN_SLOT.hold(spec.label, estimate_s=expected_s, on_wait=waiting):
        return _run_locked(spec, clusters, watch)


def _run_locked(spec: ExperimentSpec, clusters: ClusterSource | None, watch: Watch) -> ExperimentResult:
    notify = watch.notify
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    payload = make_payload(int(spec.size)) if spec.workload == "transfer" else None
    engine = make_engine(spec, clusters, watch=watch)
    total = spec.warmup + spec.repeats
    repeats: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    values: list[Any] = []
    with ExitStack() as stack:
        stack.callback(engine.close)
        notify(f"Starting {spec.scheduler}", 0.0)
        watch.check()  # a cluster's start cannot be interrupted: do not begin one for nothing
        setup_s = engine.setup()
        watch.start()
        for i in range(total):
            measured = i >= spec.warmup
            label = f"repeat {i - spec.warmup + 1} of {spec.repeats}" if measured else f"warm-up {i + 1}"
            watch.stage(f"{spec.scheduler}: {label}", i, total)
            watch.check()
            notify(f"{spec.scheduler}: {label}", i / total)
            graph = build_graph(spec, f"{run_id}-{i}", payload)
            t_enter = time.perf_counter()
            with engine.repeat() as compute:
                t_start = time.perf_counter()
                epoch0 = time.time()
                out = compute(graph)
                t_done = time.perf_counter()
            t_exit = time.perf_counter()
            engine.verify()  # outside the stopwatch: a dead worker means some tasks ran twice
            if not measured:
                continue
            repeat = i - spec.warmup
            repeats.append(
                {
                    "repeat": repeat,
                    "startup_s": t_start - t_enter,
                    "compute_s": t_done - t_start,
                    "teardown_s": t_exit - t_done,
                    "wall_s": t_exit - t_enter,
                }
            )
            for rec in out:
                records.append({**rec, "repeat": repeat, "start_s": rec["start_epoch"] - epoch0,
                                "end_s": rec["end_epoch"] - epoch0})
            if not values:
                values = [rec["value"] for rec in sorted(out, key=lambda r: r["task"])]
        engine_info = engine.info()
    notify("Done", 1.0)
    return build_result(
        spec=spec,
        machine=machine_info(),
        run_id=run_id,
        started_at=started_at,
        setup_s=setup_s,
        engine=engine_info,
        repeats=repeats,
        records=records,
        values=values,
    )
