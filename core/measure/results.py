"""Immutable experiment results as tidy pandas DataFrames.

Modelled on pyperf's result objects: validated once, never mutated, and carrying the metadata of
the machine they were measured on, so a number is never shown without its context. The frames are
long/tidy (one row per repeat, one row per task per repeat) because that is what Altair and a CSV
download want.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from core.measure.machine import MachineInfo
from core.spec import PROCESS_POOL_SCHEDULERS, SCHEDULER_LABELS, ExperimentSpec

RUN_COLUMNS = ["run_id", "scheduler", "engine", "workload", "size", "tasks", "workers",
               "threads_per_worker", "repeat", "wall_s", "startup_s", "compute_s", "teardown_s",
               "lanes", "task_cpu_s", "cpu_utilization"]
TASK_COLUMNS = ["run_id", "scheduler", "engine", "repeat", "task", "start_s", "end_s", "wall_s",
                "cpu_s", "cpu_share", "pid", "thread_id", "worker", "host", "lane"]


class ResultBase:
    """What every kind's result offers beyond its own fields, with the defaults of a result that has no more.

    So that no caller asks ``hasattr``: a result overrides ``warnings()`` (one line each: the CLI prints them
    on stderr, a page shows them with ``st.warning``), ``metrics()`` (``(label, value, note, help)`` for a
    page's metric row), ``captions()`` (a chart's title → its caption) and ``has_verdicts`` (its numbers are
    turned into verdicts, which a busy machine leaves undecided). Every result also has a ``noise`` field
    (other programs' CPU while it ran, or None): a default here would become every dataclass field's default.
    """

    kind: ClassVar[str] = ""
    has_verdicts: ClassVar[bool] = False

    def warnings(self) -> list[str]:
        return []

    def metrics(self) -> list[tuple[str, str, str, str]]:
        return []

    def captions(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class ExperimentResult(ResultBase):
    """What one :func:`core.run_experiment` call measured.

    Attributes
    ----------
    spec, machine : ExperimentSpec, MachineInfo
        What ran and where.
    run_id : str
        Short random id; a cached result shows the same id again, a fresh measurement a new one.
    started_at : str
        ISO timestamp (UTC).
    setup_s : float
        One-time start-up paid by this run (e.g. starting a LocalCluster); 0 when it was reused.
    engine : dict
        What the engine really had: ``n_workers``, ``threads_per_worker``, ``total_threads``; a distributed
        engine also ``scheduler_address``, ``ship_code``, ``hosts``, ``workers`` (address, host, threads,
        memory limit, pid, Python and package versions of each), ``scheduler`` and ``warnings``.
    runs : DataFrame
        One row per measured repeat: ``wall_s`` = ``startup_s`` + ``compute_s`` + ``teardown_s``.
    tasks : DataFrame
        One row per task per repeat, times in seconds from that repeat's compute start.
    values : tuple
        Task return values of the first repeat, in task order (equal across engines).
    """

    spec: ExperimentSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    setup_s: float
    engine: dict[str, Any]
    runs: pd.DataFrame = field(repr=False)
    tasks: pd.DataFrame = field(repr=False)
    values: tuple[Any, ...] = field(repr=False)
    noise: Any = field(default=None, repr=False)  # a single run is not watched for other programs

    def __post_init__(self) -> None:
        if len(self.runs) != self.spec.repeats:
            raise ValueError(f"expected {self.spec.repeats} repeat rows, got {len(self.runs)}")
        if len(self.tasks) != self.spec.repeats * self.spec.tasks:
            raise ValueError(f"expected {self.spec.repeats * self.spec.tasks} task rows, got {len(self.tasks)}")

    @property
    def wall_s(self) -> float:
        """Median wall time over repeats (seconds)."""
        return float(self.runs["wall_s"].median())

    @property
    def wall_min_s(self) -> float:
        return float(self.runs["wall_s"].min())

    @property
    def wall_max_s(self) -> float:
        return float(self.runs["wall_s"].max())

    @property
    def median_repeat(self) -> int:
        """The repeat whose wall time is the median one (the one timelines show)."""
        order = self.runs.sort_values("wall_s")["repeat"].tolist()
        return int(order[(len(order) - 1) // 2])

    @property
    def cpu_share(self) -> float:
        """Median over tasks of CPU time ÷ wall time: ~1 runs freely, ≪1 waits (GIL, sleep, I/O)."""
        return float(self.tasks["cpu_share"].median())

    @property
    def cpu_utilization(self) -> float:
        """Median over repeats of total task CPU ÷ (compute time × lanes): how busy the lanes really were.

        1.0 means every worker thread or process computed for the whole compute time. It cannot tell a
        wait for the GIL from any other wait (sleep, I/O, a core taken by another process): the GIL
        trace can. With more lanes than cores its ceiling is cores ÷ lanes.
        """
        return float(self.runs["cpu_utilization"].median())

    @property
    def distinct_pids(self) -> int:
        return int(self.tasks["pid"].nunique())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``spec``, ``machine``, ``wall_s``, ``runs``, ``tasks`` and more."""
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "spec": self.spec.to_dict(),
            "machine": self.machine.to_dict(),
            "engine": self.engine,
            "setup_s": self.setup_s,
            "wall_s": self.wall_s,
            "wall_min_s": self.wall_min_s,
            "wall_max_s": self.wall_max_s,
            "cpu_share": None if math.isnan(self.cpu_share) else self.cpu_share,  # JSON has no NaN
            "cpu_utilization": None if math.isnan(self.cpu_utilization) else self.cpu_utilization,
            "values": [_jsonable(v) for v in self.values],
            "runs": json.loads(self.runs.to_json(orient="records")),
            "tasks": json.loads(self.tasks.to_json(orient="records")),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentResult:
        """The result :meth:`to_dict` (``run --json``) describes; values come back as JSON has them."""
        return cls(
            spec=ExperimentSpec(**data["spec"]), machine=MachineInfo(**data["machine"]), run_id=str(data["run_id"]),
            started_at=str(data["started_at"]), setup_s=float(data["setup_s"]), engine=dict(data["engine"]),
            runs=pd.DataFrame(data["runs"]), tasks=pd.DataFrame(data["tasks"]), values=tuple(data["values"]),
        )

    # The measurement protocol (core.kinds.base): words, charts, terminal text and frames of a run.

    def explain(self) -> list[str]:
        from core.report.experiment import explain

        return explain(self)

    def charts(self) -> list[tuple[str, Any]]:
        from core.report.experiment import charts

        return charts(self)

    def text(self) -> str:
        from core.report.experiment import text

        return text(self)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"runs": self.runs, "tasks": self.tasks}

    def warnings(self) -> list[str]:
        """What the engine found worth a warning (one line each, e.g. a cluster's differing versions)."""
        return [str(w) for w in self.engine.get("warnings", [])]


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else repr(value)


def _lanes(tasks: pd.DataFrame, spec: ExperimentSpec) -> pd.Series:
    """Readable Gantt lanes, one per worker thread: ``process 2 · thread 1``, ``worker 0 · thread 3``.

    Threads and processes are numbered by when they first ran a task in each repeat, so the same
    picture gets the same labels on every engine.
    """
    labels = pd.Series(index=tasks.index, dtype="object")
    for _, rep in tasks.groupby("repeat"):
        rep = rep.sort_values("start_s")
        if spec.scheduler in PROCESS_POOL_SCHEDULERS:
            proc = {pid: f"process {k + 1}" for k, pid in enumerate(dict.fromkeys(rep["pid"]))}
            where = rep["pid"].map(proc)
        elif spec.scheduler in ("sync", "threads", "futures-threads", "joblib-threads"):
            where = pd.Series("main process", index=rep.index)
        else:
            where = "worker " + rep["worker"].astype(str)
        thread_rank: dict[tuple[str, int], int] = {}
        for idx, w, tid in zip(rep.index, where, rep["thread_id"], strict=True):
            per_worker = [k for k in thread_rank if k[0] == w]
            key = (w, int(tid))
            if key not in thread_rank:
                thread_rank[key] = len(per_worker) + 1
            labels[idx] = f"{w} · thread {thread_rank[key]}"
    return labels


def build_result(
    *,
    spec: ExperimentSpec,
    machine: MachineInfo,
    run_id: str,
    started_at: str,
    setup_s: float,
    engine: dict[str, Any],
    repeats: list[dict[str, Any]],
    records: list[dict[str, Any]],
    values: list[Any],
) -> ExperimentResult:
    """Assemble the tidy frames from the raw measurements of :func:`core.run_experiment`."""
    common = {"run_id": run_id, "scheduler": spec.scheduler, "engine": SCHEDULER_LABELS[spec.scheduler]}
    runs = pd.DataFrame(repeats)
    for key, value in {**common, "workload": spec.workload, "size": spec.size, "tasks": spec.tasks,
                       "workers": spec.workers, "threads_per_worker": spec.threads_per_worker}.items():
        runs[key] = value
    tasks = pd.DataFrame(records)
    # Per run: how much of the lanes' time was spent computing (sync has one lane: the caller's thread).
    # An external cluster has whatever threads its workers were started with.
    runs["lanes"] = int(engine.get("total_threads") or spec.concurrency) if spec.scheduler == "external" \
        else spec.concurrency
    cpu_by_repeat = tasks.groupby("repeat")["cpu_s"].sum()
    runs["task_cpu_s"] = runs["repeat"].map(cpu_by_repeat).astype(float)
    runs["cpu_utilization"] = (runs["task_cpu_s"] / (runs["compute_s"] * runs["lanes"])).where(runs["compute_s"] > 1e-4)
    runs = runs[RUN_COLUMNS]

    for key, value in common.items():
        tasks[key] = value
    tasks["wall_s"] = tasks["end_s"] - tasks["start_s"]
    # A task too short to time reliably gets no share rather than a meaningless ratio.
    tasks["cpu_share"] = (tasks["cpu_s"] / tasks["wall_s"]).where(tasks["wall_s"] > 1e-4)
    tasks["lane"] = _lanes(tasks, spec)
    tasks = tasks[TASK_COLUMNS].sort_values(["repeat", "task"]).reset_index(drop=True)
    return ExperimentResult(
        spec=spec, machine=machine, run_id=run_id, started_at=started_at, setup_s=setup_s,
        engine=engine, runs=runs, tasks=tasks, values=tuple(values),
    )


def combine(
    results: list[ExperimentResult], labels: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stack the ``runs`` and ``tasks`` frames of several results (e.g. one per engine).

    ``labels`` renames each result's ``engine`` column, for comparisons of the same scheduler in
    different shapes ("threads × 2" vs "threads × 8"); charts group and colour by that column.
    """
    if labels is not None and len(labels) != len(results):
        raise ValueError(f"labels must have one entry per result ({len(results)}), got {len(labels)}")
    runs, tasks = [], []
    for i, r in enumerate(results):
        run, task = r.runs, r.tasks
        if labels is not None:
            run, task = run.assign(engine=labels[i]), task.assign(engine=labels[i])
        runs.append(run)
        tasks.append(task)
    return pd.concat(runs, ignore_index=True), pd.concat(tasks, ignore_index=True)


def with_machine(frame: pd.DataFrame, machine: MachineInfo) -> pd.DataFrame:
    """``frame`` with the machine's metadata as extra columns, for a self-describing CSV."""
    meta = {f"machine_{k}": v for k, v in machine.to_dict().items()}
    return frame.assign(**meta)
