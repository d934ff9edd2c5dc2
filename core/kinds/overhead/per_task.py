"""Part 1 of ``overhead``: what one more task costs each engine, measured with graphs of no-op tasks.

Each engine computes a graph of N no-op tasks and a graph of one. The one-task compute is the engine's
fixed cost per ``compute`` (a round trip to the scheduler, submitting a batch); the difference, divided
by the N − 1 extra tasks, is what one more task costs, next to the figures Dask's docs quote.
"""

from __future__ import annotations

import statistics
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from core.fmt import duration as fmt_duration
from core.kinds.base import StrictJson, records
from core.kinds.overhead.common import (
    ADVICE,
    DASK_DEFAULT_CHUNKSIZE,
    GRAPH_FORM_LABELS,
    GRAPH_FORMS,
    OVERHEAD_ENGINES,
    PER_TASK_ENGINES,
    WARMUP_TASKS,
    GraphForm,
    all_tasks_ran,
    checked_int,
    checked_names,
    engine_spec,
    fmt_us,
    log_domain,
    log_ticks,
    noop_tasks,
    now_iso,
    references_frame,
    start_prior_s,
    worker_bytes,
)
from core.measure import noise as other_cpu
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo, machine_info
from core.measure.noise import Noise
from core.progress import Progress
from core.progress import quiet as _quiet
from core.spec import SCHEDULER_LABELS, short_repr

# --- 1 · per-task overhead ---------------------------------------------------------------------------

# Rough per-task and per-compute costs for the estimate shown before a run (a 2-core machine, loaded).
_PER_TASK_PRIOR_S = {"sync": 4e-5, "threads": 1e-4, "processes": 3e-4, "cluster-threads": 2.5e-3,
                     "cluster-processes": 3e-3, "futures-threads": 1e-4, "futures-processes": 3e-4,
                     "multiprocessing": 1e-4, "joblib-threads": 2e-4, "joblib-loky": 5e-4}
_LIST_EXTRA_S = 2e-4  # merging one more one-task graph in dask.compute(*list)
_FIXED_PRIOR_S = {"sync": 2e-3, "threads": 3e-3, "processes": 5e-3, "cluster-threads": 2e-2,
                  "cluster-processes": 3e-2, "futures-threads": 1e-3, "futures-processes": 3e-3,
                  "multiprocessing": 3e-3, "joblib-threads": 5e-3, "joblib-loky": 2e-2}


@dataclass(frozen=True)
class PerTaskSpec:
    """How to measure the per-task overhead.

    Parameters
    ----------
    engines : tuple of str
        Engines to measure, in this order: Dask's (``sync``, ``threads``, ``processes``,
        ``cluster-threads``, ``cluster-processes``; the default) and the pools beyond Dask
        (``futures-threads``, ``futures-processes``, ``multiprocessing``, ``joblib-threads``,
        ``joblib-loky``), which run N no-op *calls* (there is no graph to build).
    tasks : int
        N, the no-op tasks of the big graph (10 to 20 000).
    workers : int
        Threads, processes or cluster workers (1 thread each); sync always has one thread.
    repeats : int
        Measured (one-task, N-task) pairs per engine; the median is reported with the spread.
    chunksize : int
        Tasks per submission on ``processes`` (Dask's default is 6) and the process pools beyond Dask
        (``map``'s chunksize, joblib's ``batch_size``). Every pool is started once and reused here: its
        start-up is the start-up measurement's subject, not this one's.
    graph : {"single", "list"}
        How the N tasks reach ``compute`` (:func:`noop_graph`).
    """

    engines: tuple[str, ...] = OVERHEAD_ENGINES
    tasks: int = 1000
    workers: int = 2
    repeats: int = 3
    chunksize: int = DASK_DEFAULT_CHUNKSIZE
    graph: GraphForm = "single"

    def __post_init__(self) -> None:
        object.__setattr__(self, "engines", checked_names("engines", self.engines, PER_TASK_ENGINES))
        for name in ("tasks", "workers", "repeats", "chunksize"):
            checked_int(name, getattr(self, name))
        if self.graph not in GRAPH_FORMS:
            raise ValueError(f"graph must be one of {', '.join(GRAPH_FORMS)} (got {short_repr(self.graph)})")

    @property
    def label(self) -> str:
        return f"overhead: {self.tasks} no-op tasks on {len(self.engines)} engine(s)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "engines": list(self.engines)}


def _per_task_prior_s(spec: PerTaskSpec, engine: str) -> float:
    per_task = _PER_TASK_PRIOR_S[engine] * (2 if engine == "processes" and spec.chunksize == 1 else 1)
    return per_task + (_LIST_EXTRA_S if spec.graph == "list" else 0.0)


def per_task_cost(spec: PerTaskSpec) -> Cost:
    """Rough cost of :func:`measure_per_task` (clusters counted as not yet running)."""
    total = 0.0
    computes = 2 + 2 * spec.repeats
    for e in spec.engines:
        tasks = WARMUP_TASKS + 1 + spec.repeats * (spec.tasks + 1)
        total += tasks * _per_task_prior_s(spec, e) + computes * _FIXED_PRIOR_S[e] + start_prior_s(e, spec.workers)
    longest = max((spec.tasks * _per_task_prior_s(spec, e) for e in spec.engines if not e.startswith("cluster")),
                  default=0.0)
    return Cost(seconds=total, memory_bytes=max(worker_bytes(e, spec.workers) for e in spec.engines),
                longest_uncancellable_s=longest, what="this per-task measurement", advice=ADVICE)


@dataclass(frozen=True)
class PerTaskResult(StrictJson):
    """What :func:`measure_per_task` measured.

    Attributes
    ----------
    runs : DataFrame
        One row per engine per repeat: ``engine``, ``scheduler``, ``repeat``, ``tasks``, ``fixed_s``
        (that repeat's one-task compute), ``compute_s`` (the N-task compute) and ``per_task_us``
        = (``compute_s`` − the engine's median ``fixed_s``) ÷ (N − 1), in microseconds.
    summary : DataFrame
        One row per engine: median ``per_task_us`` with ``per_task_min_us`` / ``per_task_max_us``,
        median ``fixed_s`` and ``compute_s``, ``setup_s`` (a cluster or pool started for this run;
        0 when reused), ``detail`` and ``repeats``.
    references : DataFrame
        Dask's quoted figures (:func:`references_frame`).
    noise : Noise, optional
        Other programs' CPU while it measured (not in the JSON).
    """

    spec: PerTaskSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    runs: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    references: pd.DataFrame = field(repr=False)
    noise: Noise | None = field(default=None, repr=False)

    def per_task_us(self, scheduler: str) -> float:
        """Median per-task overhead of ``scheduler`` in µs."""
        row = self.summary.loc[self.summary["scheduler"] == scheduler]
        if row.empty:
            raise KeyError(f"{scheduler} was not measured (measured: {', '.join(self.summary['scheduler'])})")
        return float(row["per_task_us"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "per_task", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "summary": records(self.summary), "runs": records(self.runs),
                "references": records(self.references)}


    def quoted(self, scheduler: str) -> list[float]:
        """Dask's quoted per-task figures for ``scheduler`` (µs)."""
        refs = self.references
        return [float(v) for v in refs.loc[refs["scheduler"] == scheduler, "per_task_us"].dropna()]

    def metrics(self) -> list[tuple[str, str, str, str]]:
        out = []
        for row in self.summary.itertuples():
            quoted = self.quoted(row.scheduler)
            docs = ("Dask's docs: " + " / ".join(fmt_duration(q / 1e6) for q in quoted)) if quoted \
                else "no figure in Dask's docs"
            out.append((row.scheduler, fmt_duration(row.per_task_us / 1e6),
                        f"per task · {docs} · fixed {fmt_duration(row.fixed_s)} per compute",
                        f"{row.engine}: median overhead per task over {row.repeats} repeat(s); fastest"
                        f" {fmt_duration(row.per_task_min_us / 1e6)}, slowest"
                        f" {fmt_duration(row.per_task_max_us / 1e6)}. {row.detail}."))
        return out

    def explain(self) -> list[str]:
        s = self.summary
        fastest, slowest = s.loc[s["per_task_us"].idxmin()], s.loc[s["per_task_us"].idxmax()]
        out = [
            f"One more task costs **{fmt_duration(fastest.per_task_us / 1e6)}** on {fastest.engine} and"
            f" **{fmt_duration(slowest.per_task_us / 1e6)}** on {slowest.engine}"
            f" ({slowest.per_task_us / max(fastest.per_task_us, 1e-9):.0f}× more).",
            "To keep overhead under 1 %, a task should run at least 100× its overhead: here ≥ "
            + ", ".join(f"{fmt_duration(r.per_task_us / 1e4)} on {r.engine}" for r in s.itertuples()) + ".",
        ]
        dist = s[s["scheduler"].str.startswith("cluster")]
        if not dist.empty:
            out.append(
                "A LocalCluster pays for what makes it scale beyond one machine: every task is a message to a"
                " scheduler, a decision, a message to a worker and a result sent back — "
                f"{fmt_duration(float(dist['per_task_us'].median()) / 1e6)} per task here, against Dask's quoted ~1 ms."
            )
        if self.spec.graph == "list":
            out.append("With a *list of delayed*, `dask.compute` first merges and optimises N one-task graphs — on the"
                       " local schedulers that costs more than running the tasks. Switch to *one graph* to compare.")
        shown = self.references[self.references["scheduler"].isin(s["scheduler"])].drop_duplicates("claim")
        if not shown.empty:
            out.append("Dask's figures: " + "; ".join(f"[{r.claim}]({r.url}) ({r.source})" for r in shown.itertuples())
                       + ".")
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Per-task overhead", per_task_overhead_chart(self.summary, self.runs, self.references))]

    def captions(self) -> dict[str, str]:
        return {"Per-task overhead": "Bars: median overhead per task (log scale: each gridline is 10×); whiskers:"
                                     " fastest and slowest repeat; dots: each repeat. Black diamonds: the figures"
                                     " Dask's documentation quotes."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"summary": self.summary, "runs": self.runs, "references": self.references}

    def text(self) -> str:
        spec = self.spec
        head = per_task_head(spec.tasks, spec.graph, spec.workers, spec.repeats, self.machine.to_dict())
        return "\n".join([*head, "", *per_task_lines(records(self.summary), records(self.references))])


def _timed_compute(engine: Any, scheduler: str, tasks: int, form: GraphForm) -> float:
    """Seconds of one ``compute`` of ``tasks`` no-ops on ``engine`` (its per-compute start-up excluded).

    The graph (or the calls) is built before the stopwatch starts, as the run path builds its graphs.
    """
    from core.engines import EngineError

    work = noop_tasks(tasks, scheduler, form)
    with engine.repeat() as compute:
        t0 = time.perf_counter()
        out = compute(work)
        elapsed = time.perf_counter() - t0
    if not all_tasks_ran(out, tasks, form, scheduler):
        raise EngineError(f"the no-op graph of {tasks} task(s) returned {str(out)[:80]}: not every task ran")
    return elapsed


def _detail(scheduler: str, spec: PerTaskSpec) -> str:
    if scheduler == "sync":
        return "one thread, the caller's"
    if scheduler == "threads":
        return f"{spec.workers} threads, pool reused"
    if scheduler == "processes":
        return f"{spec.workers} processes, one pool reused, chunksize {spec.chunksize}"
    if scheduler in ("futures-processes", "multiprocessing", "joblib-loky"):
        return f"{spec.workers} processes, one pool reused, N plain calls, chunksize {spec.chunksize}"
    if scheduler in ("futures-threads", "joblib-threads"):
        return f"{spec.workers} threads, pool reused, N plain calls"
    return f"{spec.workers} worker(s) × 1 thread, cluster reused"


def measure_per_task(
    spec: PerTaskSpec,
    *,
    clusters: Any = None,
    progress: Progress | None = None,
) -> PerTaskResult:
    """Measure each engine's overhead per task with graphs of no-op tasks.

    For every repeat the engine computes a one-task graph (its fixed cost per ``compute``) and an
    N-task graph; ``per_task_us`` = (N-task time − median one-task time) ÷ (N − 1). One warm-up of
    each size runs first and is not timed (imports, first-touch memory, the workers' first task).

    Parameters
    ----------
    spec : PerTaskSpec
        Engines, N, workers, repeats, processes' chunksize and the graph form.
    clusters : ClusterSource, optional
        Where cluster engines find their LocalCluster (the app passes its cached clusters; the CLI a
        :class:`core.engines.ClusterRegistry`). Defaults to the process-wide registry.
    progress : callable, optional
        ``progress(message, fraction)`` before each engine and at the end.

    Returns
    -------
    PerTaskResult

    Raises
    ------
    EngineError
        If an engine cannot start, or a graph did not run every task.
    """
    from core.engines import make_engine, park_idle_clusters

    notify = progress or _quiet
    started_at, run_id = now_iso(), uuid.uuid4().hex[:8]
    runs: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    before = other_cpu.sample()  # other programs' CPU, from here to the end of the loop
    for k, scheduler in enumerate(spec.engines):
        notify(f"{SCHEDULER_LABELS[scheduler]}: {spec.repeats} × ({spec.tasks} no-ops + 1)", k / len(spec.engines))
        engine = make_engine(engine_spec(scheduler, spec.workers, chunksize=spec.chunksize, reuse_pool=True),
                             clusters)
        fixed: list[float] = []
        full: list[float] = []
        with ExitStack() as stack:
            stack.callback(engine.close)
            park_idle_clusters([getattr(engine, "handle", None)])  # idle clusters' CPU is nobody's in the timing
            setup_s = engine.setup()
            warm = min(spec.tasks, WARMUP_TASKS)
            _timed_compute(engine, scheduler, warm, spec.graph)
            _timed_compute(engine, scheduler, 1, spec.graph)
            for _ in range(spec.repeats):
                fixed.append(_timed_compute(engine, scheduler, 1, spec.graph))
                full.append(_timed_compute(engine, scheduler, spec.tasks, spec.graph))
        fixed_s = statistics.median(fixed)
        per_task = [(t - fixed_s) / (spec.tasks - 1) * 1e6 for t in full]
        common = {"engine": SCHEDULER_LABELS[scheduler], "scheduler": scheduler, "tasks": spec.tasks}
        runs.extend({**common, "repeat": r, "fixed_s": fixed[r], "compute_s": full[r], "per_task_us": per_task[r]}
                    for r in range(spec.repeats))
        summary.append({**common, "per_task_us": statistics.median(per_task), "per_task_min_us": min(per_task),
                        "per_task_max_us": max(per_task), "fixed_s": fixed_s,
                        "compute_s": statistics.median(full), "setup_s": setup_s,
                        "detail": _detail(scheduler, spec), "repeats": spec.repeats})
    other = other_cpu.summarize([other_cpu.window(before, other_cpu.sample())], machine_info().usable_cores)
    notify("Done", 1.0)
    return PerTaskResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                         runs=pd.DataFrame(runs), summary=pd.DataFrame(summary), references=references_frame(),
                         noise=other)




# --- the chart -------------------------------------------------------------------------------------

_PER_TASK_COLUMNS = ["engine", "per_task_us", "per_task_min_us", "per_task_max_us"]


def per_task_overhead_chart(
    summary: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    references: pd.DataFrame | None = None,
    title: str | None = None,
) -> Any:
    """Overhead per task by engine on a log scale, next to the figures Dask's documentation quotes.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per engine (:attr:`PerTaskResult.summary`): ``engine``, ``per_task_us`` (median),
        ``per_task_min_us``, ``per_task_max_us``; ``fixed_s``, ``detail`` and ``repeats`` join the
        tooltip when present.
    runs : pandas.DataFrame, optional
        One row per engine per repeat with ``engine``, ``repeat`` and ``per_task_us``: drawn as dots.
    references : pandas.DataFrame, optional
        Quoted figures with ``engine``, ``per_task_us``, ``label`` (e.g. "docs: 50 µs") and, optionally,
        ``claim`` and ``source`` (:func:`references_frame`). Rows for engines not in ``summary``, or
        without a figure, are skipped.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Layers: ``bar`` (median µs per task, from the log axis' floor, coloured by engine), ``text``
        (the median, e.g. "39 µs", in white at the foot of the bar), ``errorbar`` (min..max over repeats), ``circle``
        (each repeat, with ``runs``), and with ``references`` a black diamond ``point`` per quoted figure and
        its ``text`` label. The y axis is logarithmic, labelled in µs and ms. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column, or a frame given lacks its columns.
    """
    import altair as alt

    from core.report.palette import INK, SECONDS, by_engine, engine_scale, engine_x, require

    data, order = by_engine(summary, _PER_TASK_COLUMNS, "per-task summary")
    data["label"] = (data["per_task_us"] / 1e6).map(fmt_duration)
    refs = pd.DataFrame(columns=["engine", "per_task_us", "label"])
    if references is not None:
        require(references, ["engine", "per_task_us", "label"], "references")
        refs = references[references["engine"].astype(str).isin(order) & references["per_task_us"].notna()].copy()
        refs["engine"] = refs["engine"].astype(str)
        for column in ("claim", "source"):
            if column not in refs:
                refs[column] = ""
    values = [*data["per_task_us"], *data["per_task_min_us"], *refs["per_task_us"]]
    domain = log_domain(values)
    data["floor_us"] = domain[0]
    y_title = "Overhead per task (log scale)"
    y_scale = alt.Scale(type="log", domain=domain, nice=False)
    y_axis = alt.Axis(values=log_ticks(domain), labelExpr=(
        "datum.value >= 1000 ? format(datum.value / 1000, '~g') + ' ms' : format(datum.value, '~g') + ' µs'"))
    x = engine_x(order)
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("label:N", title="Per task (median)"),
               alt.Tooltip("per_task_min_us:Q", title="Fastest repeat (µs)", format=".3~r"),
               alt.Tooltip("per_task_max_us:Q", title="Slowest repeat (µs)", format=".3~r")]
    for column, label, fmt in (("fixed_s", "Fixed cost per compute (s)", SECONDS), ("detail", "Engine", None),
                               ("repeats", "Repeats", None)):
        if column in data:
            tooltip.append(alt.Tooltip(f"{column}:{'Q' if fmt or column == 'repeats' else 'N'}", title=label,
                                       **({"format": fmt} if fmt else {})))
    base = alt.Chart(data)
    bars = base.mark_bar().encode(
        x=x,
        y=alt.Y("per_task_us:Q", title=y_title, scale=y_scale, axis=y_axis),
        y2="floor_us:Q",
        color=alt.Color("engine:N", scale=engine_scale(order), legend=None),
        tooltip=tooltip,
    )
    # The median is written inside the bar, at its foot: the top is where whiskers and Dask's figures sit.
    labels = base.mark_text(baseline="bottom", dy=-6, fontWeight="bold", color="white").encode(
        x=x, y=alt.Y("floor_us:Q", title=y_title, scale=y_scale), text="label:N", tooltip=tooltip)
    spread = base.mark_errorbar(ticks=True, color=INK, thickness=1.5).encode(
        x=x, y=alt.Y("per_task_min_us:Q", title=y_title, scale=y_scale), y2="per_task_max_us:Q", tooltip=tooltip)
    layers: list[Any] = [bars, spread, labels]
    if runs is not None:
        require(runs, ["engine", "repeat", "per_task_us"], "per-task runs")
        dots = runs[["engine", "repeat", "per_task_us"]].assign(engine=runs["engine"].astype(str))
        layers.append(alt.Chart(dots).mark_circle(size=28, color=INK, opacity=0.7).encode(
            x=x, y=alt.Y("per_task_us:Q", title=y_title, scale=y_scale),
            tooltip=[alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("repeat:Q", title="Repeat"),
                     alt.Tooltip("per_task_us:Q", title="Per task (µs)", format=".3~r")]))
    if not refs.empty:
        ref_tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("label:N", title="Dask's docs"),
                       alt.Tooltip("claim:N", title="They say"), alt.Tooltip("source:N", title="Where")]
        ref = alt.Chart(refs)
        y_ref = alt.Y("per_task_us:Q", title=y_title, scale=y_scale)
        text = {"align": "left", "baseline": "middle", "dx": 9, "fontStyle": "italic"}
        layers += [
            ref.mark_point(shape="diamond", filled=True, size=110, color=INK, stroke="white", strokeWidth=1,
                           opacity=1).encode(x=x, y=y_ref, tooltip=ref_tooltip),
            ref.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round", opacity=0.85).encode(
                x=x, y=y_ref, text="label:N", tooltip=ref_tooltip),
            ref.mark_text(**text, color=INK).encode(x=x, y=y_ref, text="label:N", tooltip=ref_tooltip),
        ]
    chart = alt.layer(*layers).properties(width="container", height=340)
    return chart.properties(title=title) if title else chart


def per_task_head(tasks: int, graph: str, workers: int, repeats: int, m: dict[str, Any]) -> list[str]:
    return [
        f"Overhead anatomy: {tasks} no-op tasks ({GRAPH_FORM_LABELS[graph]}), {workers} workers, {repeats} repeat(s)",
        f"machine: {m['usable_cores']} usable of {m['logical_cores']} logical cores · Python {m['python_version']}"
        f" · dask {m['dask_version']} · distributed {m['distributed_version']}",
    ]


def per_task_lines(engines: list[dict[str, Any]], docs_rows: list[dict[str, Any]]) -> list[str]:
    docs: dict[str, list[str]] = {}
    for ref in docs_rows:
        if ref.get("per_task_us") is not None:
            docs.setdefault(ref["scheduler"], []).append(fmt_us(ref["per_task_us"]))
    lines = ["per-task overhead = (compute of N no-ops − compute of 1) ÷ (N − 1):"]
    width = max(len(row["engine"]) for row in engines)
    for row in engines:
        quoted = " / ".join(docs.get(row["scheduler"], [])) or "-"
        lines.append(f"  {row['engine']:<{width}}  {fmt_us(row['per_task_us']):>9} per task"
                     f"  (min {fmt_us(row['per_task_min_us'])}, max {fmt_us(row['per_task_max_us'])})"
                     f"  fixed {fmt_duration(row['fixed_s'])} per compute  · Dask's docs: {quoted}")
    return lines
