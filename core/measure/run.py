"""The one run path: every engine, every measurement kind, timed the same way.

:func:`run_experiment` runs one :class:`~core.spec.ExperimentSpec` (warm-up and measured
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

from dask.delayed import Delayed

from core.engines import ClusterSource, Progress, Watch, make_engine, park_idle_clusters
from core.engines.base import SHARED, Work
from core.engines.shipping import TaskCall, task_call
from core.measure.machine import machine_info
from core.measure.results import ExperimentResult, build_result
from core.progress import quiet
from core.spec import POOL_SCHEDULERS, ExperimentSpec
from core.workloads import make_payload, measured_call

# --- the one run path ------------------------------------------------------------------------------


def build_work(spec: ExperimentSpec, token: str, payload: Any = None, root: str | None = None,
               call: TaskCall | None = None) -> Work:
    """``spec.tasks`` independent tasks, each :func:`core.workloads.measured_call` with its own key.

    As a Dask graph, ``delayed`` is impure by default and every key is named explicitly, so T tasks
    really are T tasks; the tutorial's ``client.map(fib, [30] * 4)`` is pure and collapses to one. ``call``
    says how a graph's task references its code: ``delayed(measured_call)`` (by name, the default) or a
    cluster's by-value builder (:func:`core.engines.shipping.task_call`). As plain calls (the pools beyond
    Dask), the same function with the same arguments. ``root`` is where your own function's module was
    found (see :func:`core.workloads.resolve_function`).
    """
    user_call = None if spec.call is None else (*spec.call, root)
    shared = SHARED if payload is not None else None
    return Work(func=measured_call,
                args=tuple((spec.workload, spec.size, i, shared, spec.blas_threads, user_call)
                           for i in range(spec.tasks)),
                keys=tuple(f"{spec.workload}-{i}-{token}" for i in range(spec.tasks)),
                payload=payload, payload_key=f"payload-{token}", task=call)


def build_graph(spec: ExperimentSpec, token: str, payload: Any = None, call: TaskCall | None = None
                ) -> list[Delayed]:
    """The Dask graph of :func:`build_work`: ``spec.tasks`` independent delayed tasks, each with its own key."""
    return build_work(spec, token, payload, call=call).delayed()


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
    notify = progress or quiet
    watch = Watch(notify, should_stop, deadline_s)

    # The run slot (one measurement at a time) is taken by the one run path above this function,
    # core.kinds.base.measure: a bare call here, from a script or a bench, runs at once.
    return _run_locked(spec, clusters, watch)


def _run_locked(spec: ExperimentSpec, clusters: ClusterSource | None, watch: Watch) -> ExperimentResult:
    total = spec.warmup + spec.repeats
    with ArmSession(spec, clusters, watch) as session:
        watch.notify(f"Starting {spec.scheduler}", 0.0)
        watch.check()  # a cluster's start cannot be interrupted: do not begin one for nothing
        park_idle_clusters([session.cluster])  # the lab's other clusters would take CPU nobody accounts for
        session.open()
        watch.start()
        slowest_s: float | None = None  # the first repeat has only the run's own deadline
        for i in range(total):
            measured = i >= spec.warmup
            label = f"repeat {i - spec.warmup + 1} of {spec.repeats}" if measured else f"warm-up {i + 1}"
            watch.stage(f"{spec.scheduler}: {label}", i, total)
            watch.check()
            watch.notify(f"{spec.scheduler}: {label}", i / total)
            watch.step(slowest_s)
            row = session.measure(record=measured)
            slowest_s = max(slowest_s or 0.0, row["wall_s"])
        result = session.result()
    watch.notify("Done", 1.0)
    return result


class ArmSession:
    """One engine, set up once and measured one repeat at a time: the unit every run path shares.

    :func:`run_experiment` opens one session and measures its repeats back to back; a comparison
    (:mod:`core.measure.rounds`) opens one session per arm and measures them in interleaved rounds.
    Either way a repeat is timed by the same :meth:`measure`, so the numbers of every kind of
    measurement are comparable. Use as a context manager: the engine is closed on leaving.

    ``spec.repeats`` and ``spec.warmup`` are ignored here: the caller decides how many repeats to
    measure, and :meth:`result` builds the result for however many were recorded.
    """

    def __init__(self, spec: ExperimentSpec, clusters: ClusterSource | None, watch: Watch) -> None:
        self.spec = spec
        self.watch = watch
        self.run_id = uuid.uuid4().hex[:8]
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.payload = make_payload(int(spec.size)) if spec.workload == "transfer" else None
        self.root: str | None = None
        if spec.call is not None:
            # Tried once in a child process first (cached): a bad name, an exception or a call that never
            # returns ends here, before any pool starts.
            from core.userfunc import check_spec

            self.root = check_spec(spec).root
        self.engine = make_engine(spec, clusters, watch=watch)
        self.call = task_call(spec)  # by value for distributed engines (nothing of the lab on the cluster)
        self.setup_s = 0.0
        self.repeats: list[dict[str, Any]] = []
        self.records: list[dict[str, Any]] = []
        self.values: list[Any] = []
        self._computes = 0
        self._info: dict[str, Any] | None = None
        self._result: ExperimentResult | None = None
        self._stack = ExitStack()

    def __enter__(self) -> ArmSession:
        self._stack.callback(self.engine.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def cluster(self) -> Any:
        """The :class:`~core.engines.LocalClusterHandle` this arm runs on, or None (no LocalCluster)."""
        return getattr(self.engine, "handle", None)

    def open(self) -> float:
        """Start the engine (a pool, a cluster); returns the seconds of one-time start-up (0 if reused)."""
        self.setup_s = self.engine.setup()
        return self.setup_s

    def measure(self, *, record: bool = True) -> dict[str, Any]:
        """Compute one fresh graph and return its repeat row (``wall_s`` = start-up + compute + teardown).

        With ``record=False`` (a warm-up) nothing is kept. The engine is verified outside the
        stopwatch: a dead worker means some tasks ran twice, and the repeat raises instead.
        """
        work = build_work(self.spec, f"{self.run_id}-{self._computes}", self.payload, self.root, self.call)
        # The form this engine takes, built before the stopwatch: plain calls for the pools beyond Dask, a graph
        # for Dask's engines.
        work.calls() if self.spec.scheduler in POOL_SCHEDULERS else work.delayed()
        self._computes += 1
        t_enter = time.perf_counter()
        with self.engine.repeat() as compute:
            t_start = time.perf_counter()
            epoch0 = time.time()
            out = compute(work)
            t_done = time.perf_counter()
        t_exit = time.perf_counter()
        self.engine.verify()
        row = {"repeat": len(self.repeats), "startup_s": t_start - t_enter, "compute_s": t_done - t_start,
               "teardown_s": t_exit - t_done, "wall_s": t_exit - t_enter}
        tasks = [{**rec, "start_s": rec["start_epoch"] - epoch0, "end_s": rec["end_epoch"] - epoch0} for rec in out]
        row["task_cpu_s"] = sum(t["cpu_s"] for t in tasks)
        if record:
            self._result = None
            self.repeats.append(row)
            self.records.extend({**t, "repeat": row["repeat"]} for t in tasks)
            if not self.values:
                self.values = [rec["value"] for rec in sorted(out, key=lambda r: r["task"])]
        return row

    def info(self) -> dict[str, Any]:
        """What the engine really has (workers, threads), read once while it is open."""
        if self._info is None:
            self._info = self.engine.info()
        return self._info

    @property
    def lanes(self) -> int:
        """Worker threads or processes that can run a task at once (an external cluster: its threads)."""
        if self.spec.scheduler == "external":
            return int(self.info().get("total_threads") or 1)
        return self.spec.concurrency

    @property
    def cores_used(self) -> float:
        """CPU the recorded repeats' tasks got, in cores: task CPU ÷ compute time (NaN before any repeat)."""
        compute = sum(r["compute_s"] for r in self.repeats)
        return sum(r["task_cpu_s"] for r in self.repeats) / compute if compute > 0 else float("nan")

    def result(self) -> ExperimentResult:
        """The :class:`ExperimentResult` of the repeats recorded so far (its spec says how many)."""
        if self._result is not None:
            return self._result
        info = self.info()
        if not self.repeats:
            raise ValueError("no repeat has been recorded yet")
        spec = self.spec if len(self.repeats) == self.spec.repeats else self.spec.replace(repeats=len(self.repeats))
        self._result = build_result(
            spec=spec,
            machine=machine_info(),
            run_id=self.run_id,
            started_at=self.started_at,
            setup_s=self.setup_s,
            engine=info,
            repeats=[{k: v for k, v in r.items() if k != "task_cpu_s"} for r in self.repeats],
            records=self.records,
            values=self.values,
        )
        return self._result
