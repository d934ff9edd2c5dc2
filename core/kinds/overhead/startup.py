"""Part 2 of ``overhead``: what starting an engine costs, from nothing until it is ready to run a task.

A spawn process pool started for every compute (what Dask's ``processes`` scheduler does) versus one
pool reused; a ``LocalCluster`` with ``processes=False`` and ``processes=True`` until its ``Client``
sees every worker. Every start is from nothing, in a private registry, and is closed again.
"""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from core.fmt import duration as fmt_duration
from core.kinds.base import StrictJson, machine_line, records
from core.kinds.overhead.common import (
    ADVICE,
    ALL_STARTUP_CASES,
    BEYOND_DASK_ENGINES,
    STARTUP_CASES,
    STARTUP_LABELS,
    STARTUP_SCHEDULER,
    all_tasks_ran,
    checked_int,
    checked_names,
    engine_spec,
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
from core.spec import SCHEDULER_LABELS

# --- 2 · start-up --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartupSpec:
    """How to measure start-up.

    Parameters
    ----------
    cases : tuple of str
        Dask's (``sync``, ``threads``, ``processes``, ``processes-reused``, ``cluster-threads``,
        ``cluster-processes``; the default) and the pools beyond Dask (``futures-threads``,
        ``futures-processes``, ``multiprocessing``, ``joblib-threads``, ``joblib-loky``, each started
        once and reused). ``processes`` starts a new spawn pool for a compute, as Dask's processes
        scheduler does on every compute; ``processes-reused`` starts one pool and then reuses it.
    workers : int
        Threads, processes or cluster workers.
    repeats : int
        Independent starts of each case (each one from nothing, closed afterwards).
    """

    cases: tuple[str, ...] = STARTUP_CASES
    workers: int = 2
    repeats: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "cases", checked_names("cases", self.cases, ALL_STARTUP_CASES))
        checked_int("workers", self.workers)
        checked_int("repeats", self.repeats)

    @property
    def label(self) -> str:
        return f"overhead: start-up of {len(self.cases)} engine(s)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cases": list(self.cases)}


def startup_cost(spec: StartupSpec) -> Cost:
    """Rough cost of :func:`measure_startup`: every case started from nothing ``repeats`` times."""
    priors = [start_prior_s(STARTUP_SCHEDULER[c], spec.workers) + 0.01 for c in spec.cases]
    return Cost(seconds=spec.repeats * sum(priors),
                memory_bytes=max(worker_bytes(STARTUP_SCHEDULER[c], spec.workers) for c in spec.cases),
                longest_uncancellable_s=max(priors), what="this start-up measurement", advice=ADVICE)


@dataclass(frozen=True)
class StartupResult(StrictJson):
    """What :func:`measure_startup` measured.

    Attributes
    ----------
    runs : DataFrame
        One row per case per repeat: ``case``, ``label``, ``engine``, ``scheduler``, ``repeat``,
        ``startup_s`` (from nothing to ready to run tasks: for a LocalCluster, until its Client sees
        every worker), ``per_compute_s`` (start-up each later compute pays: the whole pool start again
        for ``processes``, next to nothing once a pool or cluster is up) and ``teardown_s``.
    summary : DataFrame
        One row per case: medians of those, ``startup_min_s`` / ``startup_max_s``, ``paid``
        ("every compute" or "once") and ``repeats``.
    noise : Noise, optional
        Other programs' CPU while it measured (not in the JSON).
    """

    spec: StartupSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    runs: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    noise: Noise | None = field(default=None, repr=False)

    def row(self, case: str) -> pd.Series:
        """The summary row of ``case``; ``KeyError`` if it was not measured."""
        found = self.summary.loc[self.summary["case"] == case]
        if found.empty:
            raise KeyError(f"{case} was not measured (measured: {', '.join(self.summary['case'])})")
        return found.iloc[0]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "startup", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "summary": records(self.summary), "runs": records(self.runs),
                "references": records(references_frame().dropna(subset=["startup_s"]))}


    def explain(self) -> list[str]:
        cases = set(self.summary["case"])
        cores = self.machine.usable_cores
        out = []
        if "processes" in cases:
            fresh = self.row("processes")
            out.append(
                f"**A new process pool took {fmt_duration(fresh.startup_s)}** to start ({fresh.workers} workers;"
                f" fastest {fmt_duration(fresh.startup_min_s)}, slowest {fmt_duration(fresh.startup_max_s)}) and"
                f" {fmt_duration(fresh.teardown_s)} to shut down. *Spawn* starts each worker as a brand-new Python:"
                " exec the interpreter, import the standard library, Dask's worker set-up and the task module — and on"
                f" {cores} shared cores those imports queue behind each other. Dask's `processes` scheduler does this"
                " on **every** `compute`, so a 50 ms computation can take a second."
            )
        if "processes-reused" in cases:
            reused = self.row("processes-reused")
            out.append(
                f"A reused pool pays its start ({fmt_duration(reused.startup_s)}) once; every later compute then pays"
                f" {fmt_duration(reused.per_compute_s)}. Pass your own pool (`dask.compute(..., pool=my_pool)`) or"
                " keep a LocalCluster running to get this."
            )
        if "threads" in cases:
            out.append(f"A thread pool took {fmt_duration(self.row('threads').startup_s)} (Dask's docs: about 10 µs):"
                       " threads share the interpreter that is already running.")
        for case in ("cluster-threads", "cluster-processes"):
            if case in cases:
                row = self.row(case)
                out.append(f"{STARTUP_LABELS[case]}: {fmt_duration(row.startup_s)} until the Client saw all"
                           f" {row.workers} worker(s), {fmt_duration(row.teardown_s)} to close.")
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Start-up", startup_chart(self.summary))]

    def captions(self) -> dict[str, str]:
        return {"Start-up": "Solid: from nothing until ready. Pale: what every later compute pays again. Labels give"
                            " the medians (microseconds are too thin to draw); hover for the fastest and slowest"
                            " start."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"summary": self.summary, "starts": self.runs}

    def text(self) -> str:
        return "\n".join([f"start-up: {len(self.spec.cases)} engine(s), {self.spec.workers} workers,"
                          f" {self.spec.repeats} start(s) each", machine_line(self.machine), "",
                          *startup_lines(records(self.summary))])


def _start_once(case: str, workers: int) -> dict[str, float]:
    """Start ``case``'s engine from nothing, run one no-op, time a second compute's start, close it all."""
    from core.engines import ClusterRegistry, EngineError, make_engine, park_idle_clusters

    scheduler = STARTUP_SCHEDULER[case]
    # A pool beyond Dask is started once and reused, as code using it does (``with ProcessPoolExecutor() as
    # pool:`` around every map); only Dask's processes scheduler starts a pool per compute by default.
    spec = engine_spec(scheduler, workers, chunksize=1,
                        reuse_pool=case == "processes-reused" or case in BEYOND_DASK_ENGINES)
    with ExitStack() as stack:
        # A private registry: a start-up measurement needs a cluster started now, never the app's
        # running one; closing the registry (timed below) shuts that cluster down.
        registry = stack.enter_context(ClusterRegistry())
        park_idle_clusters()  # kept clusters elsewhere in the lab would take CPU from this start
        t0 = time.perf_counter()
        engine = make_engine(spec, registry)
        stack.callback(engine.close)
        engine.setup()
        with engine.repeat() as compute:
            t_ready = time.perf_counter()
            if not all_tasks_ran(compute(noop_tasks(1, scheduler)), 1, "single", scheduler):
                raise EngineError(f"{case}: the first no-op did not run")
            t_done = time.perf_counter()
        t_left = time.perf_counter()
        if case == "processes":
            # Dask starts a new pool on every compute, so every compute pays this same start again;
            # starting a second pool here would only double the wait.
            per_compute = t_ready - t0
            teardown_repeat = t_left - t_done
        else:
            with engine.repeat() as compute:
                per_compute = time.perf_counter() - t_left
                compute(noop_tasks(1, scheduler))
            teardown_repeat = 0.0
        t_close = time.perf_counter()
        engine.close()
        registry.close()
        teardown = teardown_repeat + time.perf_counter() - t_close
    return {"startup_s": t_ready - t0, "per_compute_s": per_compute, "teardown_s": teardown}


def measure_startup(spec: StartupSpec, *, progress: Progress | None = None) -> StartupResult:
    """Time how long each engine takes to be ready to run tasks, from nothing, and to shut down.

    Every repeat of every case starts its own pool or cluster and closes it (clusters through a
    private :class:`core.engines.ClusterRegistry`), so nothing already running is reused or stopped.
    The cases take turns (round-robin), so a burst of load hits every case, not one.

    Raises
    ------
    EngineError
        If a pool or cluster cannot start.
    """
    notify = progress or _quiet
    started_at, run_id = now_iso(), uuid.uuid4().hex[:8]
    runs: list[dict[str, Any]] = []
    total = len(spec.cases) * spec.repeats
    before = other_cpu.sample()  # other programs' CPU, from here to the end of the loop
    for r in range(spec.repeats):
        for k, case in enumerate(spec.cases):
            notify(f"{STARTUP_LABELS[case]}: start {r + 1} of {spec.repeats}", (r * len(spec.cases) + k) / total)
            scheduler = STARTUP_SCHEDULER[case]
            runs.append({"case": case, "label": STARTUP_LABELS[case], "engine": SCHEDULER_LABELS[scheduler],
                         "scheduler": scheduler, "repeat": r, **_start_once(case, spec.workers)})
    other = other_cpu.summarize([other_cpu.window(before, other_cpu.sample())], machine_info().usable_cores)
    frame = pd.DataFrame(runs)
    summary = []
    for case in spec.cases:
        rows = frame[frame["case"] == case]
        summary.append({
            "case": case, "label": STARTUP_LABELS[case], "engine": rows["engine"].iloc[0],
            "scheduler": rows["scheduler"].iloc[0],
            "paid": "every compute" if case == "processes" else "once",
            "startup_s": float(rows["startup_s"].median()), "startup_min_s": float(rows["startup_s"].min()),
            "startup_max_s": float(rows["startup_s"].max()), "per_compute_s": float(rows["per_compute_s"].median()),
            "teardown_s": float(rows["teardown_s"].median()), "workers": 1 if case == "sync" else spec.workers,
            "repeats": spec.repeats,
        })
    notify("Done", 1.0)
    return StartupResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                         runs=frame, summary=pd.DataFrame(summary), noise=other)




# --- the chart -------------------------------------------------------------------------------------

_STARTUP_COLUMNS = ["case", "label", "engine", "startup_s", "startup_min_s", "startup_max_s", "per_compute_s"]
_STARTUP_MEASURES = ["to start, from nothing", "again on every later compute"]


def startup_chart(summary: pd.DataFrame, title: str | None = None) -> Any:
    """Start-up by engine: what it takes to start from nothing, and what every later compute pays again.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per case (:attr:`StartupResult.summary`): ``case``, ``label`` (the row name shown),
        ``engine`` (colour), ``startup_s`` (median) with ``startup_min_s`` / ``startup_max_s``, and
        ``per_compute_s``; ``paid`` and ``teardown_s`` join the tooltip.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Horizontal ``bar`` pairs per case (``yOffset`` by measure: solid "to start, from nothing",
        pale "again on every later compute"), coloured by engine, and a ``text`` label with the median
        in µs, ms or s at each bar's end (a microsecond bar is too thin to see); the fastest and slowest
        start are in the tooltip. Linear seconds on x. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column.
    """
    import altair as alt

    from core.report.palette import INK, by_engine, engine_scale

    data, engines = by_engine(summary, _STARTUP_COLUMNS, "start-up summary")
    data["label"] = data["label"].astype(str)
    cases = list(dict.fromkeys(data["label"]))
    extra = [c for c in ("paid", "teardown_s") if c in data]
    long = pd.concat([
        data[["case", "label", "engine", *extra]].assign(
            measure=_STARTUP_MEASURES[0], seconds=data["startup_s"], low_s=data["startup_min_s"],
            high_s=data["startup_max_s"]),
        data[["case", "label", "engine", *extra]].assign(
            measure=_STARTUP_MEASURES[1], seconds=data["per_compute_s"], low_s=data["per_compute_s"],
            high_s=data["per_compute_s"]),
    ], ignore_index=True)
    long["text"] = long["seconds"].map(fmt_duration)
    y = alt.Y("label:N", sort=cases, title=None, axis=alt.Axis(labelLimit=260))
    y_offset = alt.YOffset("measure:N", sort=_STARTUP_MEASURES, scale=alt.Scale(paddingInner=0.1))
    x = alt.X("seconds:Q", title="Seconds", scale=alt.Scale(domainMin=0))
    tooltip = [alt.Tooltip("label:N", title="Engine"), alt.Tooltip("measure:N", title="Measure"),
               alt.Tooltip("text:N", title="Median"),
               alt.Tooltip("low_s:Q", title="Fastest (s)", format=".3~g"),
               alt.Tooltip("high_s:Q", title="Slowest (s)", format=".3~g")]
    if "paid" in data:
        tooltip.append(alt.Tooltip("paid:N", title="Start-up is paid"))
    if "teardown_s" in data:
        tooltip.append(alt.Tooltip("teardown_s:Q", title="Shutdown (s)", format=".3~g"))
    base = alt.Chart(long)
    bars = base.mark_bar().encode(
        y=y, yOffset=y_offset, x=x,
        color=alt.Color("engine:N", scale=engine_scale(engines), legend=None),
        opacity=alt.Opacity("measure:N", sort=_STARTUP_MEASURES, scale=alt.Scale(range=[1.0, 0.4]),
                            legend=alt.Legend(title=None, orient="bottom", labelLimit=320)),
        tooltip=tooltip,
    )
    # The spread is in the tooltip, not drawn: a whisker past the bar's label made the label look like the max.
    labels = base.mark_text(align="left", baseline="middle", dx=5, color=INK, fontSize=11).encode(
        y=y, yOffset=y_offset, x=x, text="text:N", tooltip=tooltip)
    chart = alt.layer(bars, labels).properties(width="container", height=alt.Step(15))
    return chart.properties(title=title) if title else chart


def startup_lines(starts: list[dict[str, Any]]) -> list[str]:
    lines = ["start-up, from nothing until ready to run tasks (median):"]
    width = max(len(row["label"]) for row in starts)
    for row in starts:
        lines.append(f"  {row['label']:<{width}}  {fmt_duration(row['startup_s']):>9}"
                     f"  (min {fmt_duration(row['startup_min_s'])}, max {fmt_duration(row['startup_max_s'])})"
                     f"  · every later compute: {fmt_duration(row['per_compute_s'])}"
                     f"  · shutdown {fmt_duration(row['teardown_s'])}")
    return lines
