"""Overhead anatomy: what a task, a pool and a cluster cost on this machine, and when processes pay off."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.engines import EngineError
from core.kinds.overhead import (
    DASK_DEFAULT_CHUNKSIZE,
    OVERHEAD_ENGINES,
    PARALLEL_ENGINES,
    STARTUP_CASES,
    STARTUP_LABELS,
    BreakEvenResult,
    BreakEvenSpec,
    ChunksizeSpec,
    PerTaskSpec,
    StartupSpec,
    check_overhead_budget,
    measure_break_even,
    measure_chunksize,
    measure_per_task,
    measure_startup,
    sweep_sizes,
)
from core.measure.estimate import BudgetError
from core.measure.machine import machine_info
from core.measure.results import with_machine
from core.measure.spec import SCHEDULER_LABELS
from core.report import charts
from core.report.explain import fmt_duration
from core.serve.slot import RUN_SLOT, SlotBusy
from core.serve.store import ResultStore
from pages.common import AppClusters, engine_picker, session_gone, settings, slot_waiter

cores = machine_info().usable_cores


# --- cached measurements (shared by every visitor; a nonce asks for a fresh one) ------------------------


@st.cache_resource(show_spinner=False)
def _store() -> ResultStore:
    """Results of every section, shared by all visitors; one store, so "cached" can never disagree with it.

    Keys are ``repr(spec)``: each section's spec class has its own repr, and a reloaded ``core`` module
    (Streamlit reloads edited modules) makes new spec classes whose instances never compare equal.
    """
    return ResultStore(max_entries=100)


def _stored(measure_fn: Callable[[Any], Any]) -> Callable[[Any, int], Any]:
    """``measure(spec, nonce)``: the stored result, or a fresh measurement that is then stored."""

    def measure(spec: Any, nonce: int = 0) -> Any:
        found = _store().get(spec, nonce)
        if found is None:
            found = measure_fn(spec)
            _store().put(spec, nonce, found)
        return found

    return measure


per_task = _stored(lambda spec: measure_per_task(spec, clusters=AppClusters()))
startup = _stored(measure_startup)
chunksize = _stored(measure_chunksize)
break_even = _stored(lambda spec: measure_break_even(spec, clusters=AppClusters()))


def section_run(key: str, spec: Any, measure: Callable[[Any, int], Any], what: str) -> Any | None:
    """Estimate, Run and Measure-again buttons for one section; the result once there is one.

    A page load never measures: results show when the user presses Run, or at once when these exact
    settings were already measured (by anyone: the cache is shared).
    """
    nonce_key = f"{key}-nonce"
    nonce = st.session_state.get(nonce_key, 0)
    try:
        estimate_s = check_overhead_budget(spec, settings().max_seconds)
        blocked = None
    except BudgetError as exc:
        estimate_s, blocked = None, str(exc).replace(" (the CLI's --force runs it anyway)", "")
    cols = st.columns([1.1, 1.2, 4], vertical_alignment="center")
    run = cols[0].button("Run", type="primary", key=f"{key}-run", disabled=blocked is not None,
                         icon=":material/play_arrow:")
    again = cols[1].button("Measure again", key=f"{key}-again", disabled=blocked is not None,
                           help="Ignore the cached result for these settings and take a fresh measurement.")
    if blocked:
        cols[2].warning(f"Too big for this server: {blocked}.")
        return None
    cached = _store().has_all([spec], nonce)
    cols[2].caption(f"Estimated ≈ {estimate_s:.0f} s on this machine"
                    + (" · these settings are cached: instant" if cached else ""))
    if again:
        nonce = time.time_ns()
        st.session_state[nonce_key] = nonce
        cached = False
    if not (run or again or cached):
        st.info(f"Press **Run** to measure {what} on this machine.", icon=":material/timer:")
        return None
    try:
        if cached:
            return measure(spec, nonce)
        waiting = st.empty()
        with RUN_SLOT.hold(f"a visitor's {what}", estimate_s, max_wait_s=settings().max_wait_seconds,
                           on_wait=slot_waiter(waiting, session_gone())):
            waiting.empty()
            with st.status(f"Measuring {what} (≈ {estimate_s:.0f} s)…", expanded=False) as status:
                result = measure(spec, nonce)
                status.update(label="Measured. Results below.", state="complete")
        return result
    except SlotBusy as exc:
        st.warning(f"The lab is busy: {exc}. Your settings are kept; press Run again later.")
    except (EngineError, ValueError) as exc:
        st.error(f"The measurement could not run: {exc}")
    return None


def measured_note(result: Any) -> None:
    m = result.machine
    st.caption(f"Run `{result.run_id}` — measured {result.started_at} on {m.usable_cores} usable cores,"
               f" Python {m.python_version}, dask {m.dask_version}, distributed {m.distributed_version}.")


def downloads(key: str, result: Any, frames: dict[str, pd.DataFrame]) -> None:
    cols = st.columns(len(frames) + 1)
    for col, (name, frame) in zip(cols, frames.items(), strict=False):
        col.download_button(f"{name} (CSV)", with_machine(frame, result.machine).to_csv(index=False),
                            file_name=f"gil-lab-overhead-{key}-{name.lower().replace(' ', '-')}.csv",
                            mime="text/csv", key=f"{key}-dl-{name}")
    cols[-1].download_button("All (JSON)", result.to_json(indent=2), file_name=f"gil-lab-overhead-{key}.json",
                             mime="application/json", key=f"{key}-dl-json")


# --- page --------------------------------------------------------------------------------------------------

st.title("Overhead anatomy")
st.markdown(
    "Parallelism is never free. Before a single useful instruction runs, every task passes through a"
    " **scheduler**, and every pool of processes or cluster of workers has to **start**. This page measures"
    f" those costs on this machine ({cores} usable core{'s' if cores != 1 else ''}) with tasks that do"
    " nothing at all, puts them next to the figures Dask's documentation quotes, and finds the task size from"
    " which processes beat a single thread here."
)

# 1 · per-task overhead ----------------------------------------------------------------------------------

st.header("1 · What one task costs the scheduler")
st.markdown(
    "Each engine computes a graph of **N tasks that do nothing**, and a graph of one. The one-task compute is"
    " the engine's fixed cost per `compute` (a round trip to its scheduler); the rest, divided by the N − 1"
    " extra tasks, is what **one more task** costs: bookkeeping, handing it to a worker, collecting its result."
)
TASK_CHOICES = [100, 300, 1000, 3000, 10000]
c = st.columns(4)
pt_tasks = c[0].select_slider("No-op tasks (N)", TASK_CHOICES, value=1000, key="pt-tasks", bind="query-params",
                              help="More tasks: a steadier figure, a longer run (the clusters take ~2 ms each).")
pt_workers = c[1].slider("Workers", 1, 4, 2, key="pt-workers", bind="query-params",
                         help="Threads, processes or cluster workers (one thread each). Sync always has one.")
pt_repeats = c[2].slider("Repeats", 1, 5, 3, key="pt-repeats", bind="query-params",
                         help="Each engine measures (1 task, N tasks) this many times; the median is shown.")
pt_chunk = c[3].slider("processes: chunksize", 1, 8, DASK_DEFAULT_CHUNKSIZE, key="pt-chunksize",
                       bind="query-params", help="Tasks per submission to a process. 6 is Dask's default batching.")
GRAPH_OPTIONS = {"one graph": "single", "list of delayed": "list"}
# Plain option names: a bound widget writes its displayed label into the URL.
pt_graph = st.segmented_control(
    "How the N tasks reach compute", list(GRAPH_OPTIONS), default="one graph", key="pt-graph", bind="query-params",
    help="one graph: N tasks in one collection, as dask.array or dask.bag build them. list of delayed:"
         " dask.compute(*[delayed(noop)(i) for i in range(N)]), which first merges N one-task graphs.",
) or "one graph"
pt_engines = engine_picker("pt-engines", list(OVERHEAD_ENGINES), list(OVERHEAD_ENGINES))
pt_spec = PerTaskSpec(engines=tuple(pt_engines), tasks=pt_tasks, workers=pt_workers, repeats=pt_repeats,
                      chunksize=pt_chunk, graph=GRAPH_OPTIONS[pt_graph])
st.caption("The processes engine reuses one pool here (its start-up is section 2's subject); clusters are the"
           " app's running ones, started once if needed and reported apart.")
pt = section_run("per-task", pt_spec, per_task, "the per-task overhead")
if pt is not None:
    measured_note(pt)
    refs = pt.references
    cols = st.columns(len(pt.summary))
    for col, row in zip(cols, pt.summary.itertuples(), strict=True):
        quoted = refs.loc[refs["scheduler"] == row.scheduler, "per_task_us"].tolist()
        col.metric(row.scheduler, fmt_duration(row.per_task_us / 1e6),
                   help=f"{row.engine}: median overhead per task over {row.repeats} repeat(s); fastest"
                        f" {fmt_duration(row.per_task_min_us / 1e6)},"
                        f" slowest {fmt_duration(row.per_task_max_us / 1e6)}."
                        f" {row.detail}.")
        col.caption("per task · " + (("Dask's docs: " + " / ".join(fmt_duration(q / 1e6) for q in quoted)) if quoted
                                     else "no figure in Dask's docs"))
        col.caption(f"fixed {fmt_duration(row.fixed_s)} per compute")
    st.altair_chart(charts.per_task_overhead_chart(pt.summary, pt.runs, refs), width="stretch")
    st.caption("Bars: median overhead per task (log scale: each gridline is 10×); whiskers: fastest and slowest"
               " repeat; dots: each repeat. Black diamonds: the figures Dask's documentation quotes.")
    fastest = pt.summary.loc[pt.summary["per_task_us"].idxmin()]
    slowest = pt.summary.loc[pt.summary["per_task_us"].idxmax()]
    lines = [
        f"One more task costs **{fmt_duration(fastest.per_task_us / 1e6)}** on {fastest.engine} and"
        f" **{fmt_duration(slowest.per_task_us / 1e6)}** on {slowest.engine}"
        f" ({slowest.per_task_us / max(fastest.per_task_us, 1e-9):.0f}× more).",
        "To keep overhead under 1 %, a task should run at least 100× its overhead: here ≥ "
        + ", ".join(f"{fmt_duration(r.per_task_us / 1e4)} on {r.engine}" for r in pt.summary.itertuples()) + ".",
    ]
    dist = pt.summary[pt.summary["scheduler"].str.startswith("cluster")]
    if not dist.empty:
        lines.append(
            "A LocalCluster pays for what makes it scale beyond one machine: every task is a message to a"
            " scheduler, a decision, a message to a worker and a result sent back — "
            f"{fmt_duration(float(dist['per_task_us'].median()) / 1e6)} per task here, against Dask's quoted ~1 ms."
        )
    if pt.spec.graph == "list":
        lines.append("With a *list of delayed*, `dask.compute` first merges and optimises N one-task graphs — on the"
                     " local schedulers that costs more than running the tasks. Switch to *one graph* to compare.")
    st.markdown("\n".join(f"- {s}" for s in lines))
    with st.expander("Data and sources"):
        st.dataframe(pt.summary, hide_index=True)
        st.dataframe(refs[["engine", "per_task_us", "claim", "source", "url"]], hide_index=True,
                     column_config={"url": st.column_config.LinkColumn("url")})
        downloads("per-task", pt, {"Summary": pt.summary, "Repeats": pt.runs})

# 2 · start-up ---------------------------------------------------------------------------------------------

st.header("2 · What starting an engine costs")
st.markdown(
    "From nothing to *ready to run a task*: a thread pool is a data structure; a process pool must start"
    " fresh interpreters; a LocalCluster also starts a scheduler and, with `processes=True`, a nanny and a"
    " worker process each, and is ready only when its `Client` sees every worker."
)
c = st.columns(2)
su_workers = c[0].slider("Workers", 1, 4, 2, key="su-workers", bind="query-params",
                         help="Processes in the pool, workers in the cluster.")
su_repeats = c[1].slider("Repeats", 1, 5, 3, key="su-repeats", bind="query-params",
                         help="Each case is started from nothing and closed this many times.")
su_cases = st.pills("Engines", list(STARTUP_CASES), selection_mode="multi", default=list(STARTUP_CASES),
                    key="su-cases", bind="query-params", format_func=lambda case: STARTUP_LABELS.get(case, case))
if not su_cases:
    st.caption("No engine selected: showing all of them.")
su_spec = StartupSpec(cases=tuple(c for c in STARTUP_CASES if c in (su_cases or STARTUP_CASES)),
                      workers=su_workers, repeats=su_repeats)
su = section_run("startup", su_spec, startup, "start-up")
if su is not None:
    measured_note(su)
    st.altair_chart(charts.startup_chart(su.summary), width="stretch")
    st.caption("Solid: from nothing until ready. Pale: what every later compute pays again. Labels give the medians"
               " (microseconds are too thin to draw); hover for the fastest and slowest start.")
    cases = set(su.summary["case"])
    lines = []
    if "processes" in cases:
        fresh = su.row("processes")
        lines.append(
            f"**A new process pool took {fmt_duration(fresh.startup_s)}** to start ({fresh.workers} workers;"
            f" fastest {fmt_duration(fresh.startup_min_s)}, slowest {fmt_duration(fresh.startup_max_s)}) and"
            f" {fmt_duration(fresh.teardown_s)} to shut down. *Spawn* starts each worker as a brand-new Python:"
            " exec the interpreter, import the standard library, Dask's worker set-up and the task module — and on"
            f" {cores} shared cores those imports queue behind each other. Dask's `processes` scheduler does this"
            " on **every** `compute`, so a 50 ms computation can take a second."
        )
    if "processes-reused" in cases:
        reused = su.row("processes-reused")
        lines.append(
            f"A reused pool pays its start ({fmt_duration(reused.startup_s)}) once; every later compute then pays"
            f" {fmt_duration(reused.per_compute_s)}. Pass your own pool (`dask.compute(..., pool=my_pool)`) or"
            " keep a LocalCluster running to get this."
        )
    if "threads" in cases:
        lines.append(f"A thread pool took {fmt_duration(su.row('threads').startup_s)} (Dask's docs: about 10 µs):"
                     " threads share the interpreter that is already running.")
    for case in ("cluster-threads", "cluster-processes"):
        if case in cases:
            row = su.row(case)
            lines.append(f"{STARTUP_LABELS[case]}: {fmt_duration(row.startup_s)} until the Client saw all"
                         f" {row.workers} worker(s), {fmt_duration(row.teardown_s)} to close.")
    st.markdown("\n".join(f"- {s}" for s in lines))
    with st.expander("Data"):
        st.dataframe(su.summary, hide_index=True)
        downloads("startup", su, {"Summary": su.summary, "Starts": su.runs})

# 3 · chunksize --------------------------------------------------------------------------------------------

st.header("3 · Why 4 tasks ran in one process: chunksize")
st.markdown(
    "To save round trips, Dask's `processes` scheduler sends ready tasks to the pool in **batches of"
    f" `chunksize`** — {DASK_DEFAULT_CHUNKSIZE} by default. A batch goes to one process, which runs its tasks"
    " one after another. With 4 ready tasks and chunksize 6, all 4 travel in **one** batch: one process works,"
    " the others idle. The same graph with chunksize 1, side by side:"
)
c = st.columns(4)
ck_n = c[0].slider("fib n", 20, 30, 27, key="ck-n", bind="query-params", help="Each task computes fib(n).")
ck_tasks = c[1].slider("Tasks", 2, 8, 4, key="ck-tasks", bind="query-params",
                       help="The tutorial's 4. Up to 6 fit in one default batch.")
ck_workers = c[2].slider("Processes", 2, 8, 4, key="ck-workers", bind="query-params")
ck_repeats = c[3].slider("Repeats", 1, 3, 2, key="ck-repeats", bind="query-params")
ck_spec = ChunksizeSpec(n=ck_n, tasks=ck_tasks, workers=ck_workers, repeats=ck_repeats,
                        chunksizes=(DASK_DEFAULT_CHUNKSIZE, 1))
ck = section_run("chunksize", ck_spec, chunksize, "the chunksize effect")
if ck is not None:
    measured_note(ck)
    cols = st.columns(len(ck.summary))
    for col, row in zip(cols, ck.summary.itertuples(), strict=True):
        col.metric(row.engine, f"{row.distinct_pids} process{'es' if row.distinct_pids != 1 else ''}",
                   help="Distinct process ids that ran the tasks (median over repeats).")
        col.caption(f"wall {fmt_duration(row.wall_s)} (compute {fmt_duration(row.compute_s)},"
                    f" pool start {fmt_duration(row.startup_s)})")
    tabs = st.tabs(["Timeline", "Runtime"])
    with tabs[0]:
        st.altair_chart(charts.timeline_chart(ck.tasks, runs=ck.runs), width="stretch")
        st.caption("One row per process that ran a task (median repeat). With the default batching every task"
                   " sits in one row: they ran one after another in a single process.")
    with tabs[1]:
        st.altair_chart(charts.runtime_chart(ck.runs), width="stretch")
        st.caption("Wall time per compute, pool start-up and shutdown included (Dask starts a pool per compute).")
    default = ck.summary.loc[ck.summary["chunksize"] == DASK_DEFAULT_CHUNKSIZE].iloc[0]
    one = ck.summary.loc[ck.summary["chunksize"] == 1].iloc[0]
    st.markdown(
        f"- Chunksize {DASK_DEFAULT_CHUNKSIZE}: {ck_tasks} tasks ran in **{default.distinct_pids}** process(es),"
        f" compute {fmt_duration(default.compute_s)}. Chunksize 1: **{one.distinct_pids}** processes, compute"
        f" {fmt_duration(one.compute_s)}.\n"
        "- Batching pays off for many small tasks (section 1: fewer round trips); for a few big ones it"
        " serialises them. `dask.compute(..., scheduler='processes', chunksize=1)` spreads them."
    )
    with st.expander("Data"):
        st.dataframe(ck.summary, hide_index=True)
        downloads("chunksize", ck, {"Summary": ck.summary, "Runs": ck.runs, "Tasks": ck.tasks})

# 4 · break-even -------------------------------------------------------------------------------------------

st.header("4 · When do processes pay off?")
st.markdown(
    "fib(n) × tasks on sync (one thread) and on a process engine, for growing n. Small tasks: the engine's"
    " overhead dominates and sync wins. Big tasks: the work is split over cores and the engine wins."
    " The **break-even n** is where the lines cross."
)
c = st.columns(4)
be_range = c[0].slider("fib n from … to", 15, 32, (18, 30), key="be-range", bind="query-params",
                       help="Every task is ~1.6× longer per +1: the largest n dominates the run time.")
be_step = c[1].slider("Step", 1, 4, 3, key="be-step", bind="query-params")
be_tasks = c[2].slider("Tasks", 2, 8, 4, key="be-tasks", bind="query-params")
be_workers = c[3].slider("Workers", 1, 4, 2, key="be-workers", bind="query-params",
                         help=f"Processes or cluster workers. This machine has {cores} usable cores.")
c = st.columns([1, 3])
be_repeats = c[0].slider("Repeats", 1, 3, 2, key="be-repeats", bind="query-params")
with c[1]:
    be_engines = engine_picker("be-engines", list(PARALLEL_ENGINES), ["processes", "cluster-processes"])
st.caption("processes: a new pool for every compute, Dask's default (chunksize 1). LocalCluster: the app's running"
           " cluster — its one-time start is not in the wall time.")
be: BreakEvenResult | None = None
try:
    be_spec = BreakEvenSpec(sizes=sweep_sizes(be_range[0], be_range[1], be_step), tasks=be_tasks,
                            workers=be_workers, repeats=be_repeats, engines=tuple(be_engines))
except ValueError as exc:
    st.warning(f"Pick another range: {exc}.")
else:
    be = section_run("break-even", be_spec, break_even, "the break-even sweep")
if be is not None:
    measured_note(be)
    cols = st.columns(len(be.crossings))
    for col, row in zip(cols, be.crossings.itertuples(), strict=True):
        if pd.notna(row.break_even_n):
            col.metric(row.engine, f"wins from n = {int(row.break_even_n)}")
        else:
            col.metric(row.engine, "not within range", help=f"Slower than sync at every n in {row.sizes}.")
            if pd.notna(row.extrapolated_n):
                col.caption(f"extrapolated: about n = {int(row.extrapolated_n)} (a model, not a measurement)")
        if pd.notna(row.overhead_s):
            col.caption(f"overhead at n = {be.spec.sizes[-1]}: {fmt_duration(row.overhead_s)} more than a perfect"
                        f" split over {row.lanes} lane(s)")
    st.altair_chart(charts.break_even_chart(be.summary, be.crossings), width="stretch")
    st.caption("Median wall time per compute (log scale: equal steps are equal ratios); vertical bars: fastest to"
               " slowest repeat. Dashed lines: the measured break-even n.")
    sync_rows = be.summary[be.summary["scheduler"] == "sync"].set_index("n")["wall_s"]
    last = be.spec.sizes[-1]
    task_s = float(sync_rows[last]) / be.spec.tasks
    lines = [f"At n = {last} one fib task takes about {fmt_duration(task_s)} here (sync ÷ {be.spec.tasks} tasks)."]
    for row in be.crossings.itertuples():
        if pd.notna(row.break_even_n):
            lines.append(f"{row.engine} beats sync from n = {int(row.break_even_n)}: from there on, splitting the"
                         f" work over {row.lanes} core(s) saves more than its overhead costs.")
        elif row.lanes <= 1:
            lines.append(f"{row.engine} has one lane for pure-Python fib (one GIL, or one core): it cannot win.")
        else:
            guess = f" — about n = {int(row.extrapolated_n)} by extrapolation" if pd.notna(row.extrapolated_n) else ""
            lines.append(f"{row.engine} did not beat sync up to n = {last}{guess}. At n = {last} it took"
                         f" {fmt_duration(row.overhead_s)} more than sync's time split perfectly over {row.lanes}"
                         " cores: that overhead has to be earned back by the split before it wins.")
    if "processes" in be.spec.engines:
        lines.append("Rule of thumb: a fresh process pool pays off only when one compute holds more parallel work"
                     " than the pool's start-up (section 2). Keep a pool or a LocalCluster running and only the"
                     " per-compute and per-task costs (section 1) remain to be earned back.")
    st.markdown("\n".join(f"- {s}" for s in lines))
    with st.expander("Data"):
        st.dataframe(be.crossings, hide_index=True)
        st.dataframe(be.summary, hide_index=True)
        downloads("break-even", be, {"Crossings": be.crossings, "Summary": be.summary, "Runs": be.runs})

with st.expander("The same measurements from a terminal"):
    st.code("python -m core overhead --scheduler all --tasks 1000 --json\n"
            "python -m core overhead --scheduler processes --break-even --sizes 18:30:3", language="bash")
    st.markdown(f"Measurements here that are estimated over {settings().max_seconds:.0f} s are refused; the CLI's"
                " `--max-seconds` and `--force` set its own budget. Labels of engines:"
                + ", ".join(f" `{s}` = {SCHEDULER_LABELS[s]}" for s in OVERHEAD_ENGINES) + ".")
