"""Overhead anatomy: what a task, a pool and a cluster cost on this machine, and when processes pay off."""

import streamlit as st

from core.kinds.overhead import (
    ALL_STARTUP_CASES,
    BREAK_EVEN_ENGINES,
    DASK_DEFAULT_CHUNKSIZE,
    OVERHEAD_ENGINES,
    PER_TASK_ENGINES,
    STARTUP_CASES,
    STARTUP_LABELS,
    BreakEvenSpec,
    ChunksizeSpec,
    PerTaskSpec,
    StartupSpec,
    sweep_sizes,
)
from core.measure.machine import machine_info
from core.spec import SCHEDULER_LABELS
from pages.shell.controls import engine_picker
from pages.shell.panel import panel
from pages.shell.resources import settings

cores = machine_info().usable_cores

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
pt_engines = engine_picker("pt-engines", list(PER_TASK_ENGINES), list(OVERHEAD_ENGINES))
st.caption("Every process pool is started once and reused here (its start-up is section 2's subject); clusters are"
           " the app's running ones, started once if needed and reported apart. The pools beyond Dask (futures-*,"
           " multiprocessing, joblib-*) run N plain no-op calls: they have no graph to build.")
panel(PerTaskSpec(engines=tuple(pt_engines), tasks=pt_tasks, workers=pt_workers, repeats=pt_repeats,
                  chunksize=pt_chunk, graph=GRAPH_OPTIONS[pt_graph]), key="per-task", what="per-task overhead")

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
su_cases = st.pills("Engines", list(ALL_STARTUP_CASES), selection_mode="multi", default=list(STARTUP_CASES),
                    key="su-cases", bind="query-params", format_func=lambda case: STARTUP_LABELS.get(case, case))
if not su_cases:
    st.caption("No engine selected: showing all of them.")
panel(StartupSpec(cases=tuple(c for c in ALL_STARTUP_CASES if c in (su_cases or STARTUP_CASES)), workers=su_workers,
                  repeats=su_repeats), key="startup", what="start-up measurement")

# 3 · chunksize --------------------------------------------------------------------------------------------

st.header("3 · Why 4 tasks ran in one process: chunksize")
st.markdown(
    "To save round trips, Dask's `processes` scheduler sends ready tasks to the pool in **batches of"
    f" `chunksize`** — {DASK_DEFAULT_CHUNKSIZE} by default. A batch goes to one process, which runs its tasks"
    " one after another. With 4 ready tasks and chunksize 6, all 4 travel in **one** batch: one process works,"
    " the others idle. The same graph with chunksize 1, side by side (the two take turns, round after round):"
)
c = st.columns(4)
ck_n = c[0].slider("fib n", 20, 30, 27, key="ck-n", bind="query-params", help="Each task computes fib(n).")
ck_tasks = c[1].slider("Tasks", 2, 8, 4, key="ck-tasks", bind="query-params",
                       help="The tutorial's 4. Up to 6 fit in one default batch.")
ck_workers = c[2].slider("Processes", 2, 8, 4, key="ck-workers", bind="query-params")
ck_repeats = c[3].slider("Repeats", 1, 3, 2, key="ck-repeats", bind="query-params")
panel(ChunksizeSpec(n=ck_n, tasks=ck_tasks, workers=ck_workers, repeats=ck_repeats,
                    chunksizes=(DASK_DEFAULT_CHUNKSIZE, 1)), key="chunksize", what="chunksize comparison")

# 4 · break-even -------------------------------------------------------------------------------------------

st.header("4 · When do processes pay off?")
st.markdown(
    "fib(n) × tasks on sync (one thread) and on a process engine, for growing n. Small tasks: the engine's"
    " overhead dominates and sync wins. Big tasks: the work is split over cores and the engine wins."
    " The **break-even n** is where the lines cross. Every n on every engine is measured once per round, so a"
    " busy moment of this shared machine cannot move the crossing."
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
    be_engines = engine_picker("be-engines", list(BREAK_EVEN_ENGINES), ["processes", "cluster-processes"])
st.caption("processes: a new pool for every compute, Dask's default (chunksize 1). LocalCluster: the app's running"
           " cluster — its one-time start is not in the wall time.")
try:
    be_spec = BreakEvenSpec(sizes=sweep_sizes(be_range[0], be_range[1], be_step), tasks=be_tasks,
                            workers=be_workers, repeats=be_repeats, engines=tuple(be_engines))
except ValueError as exc:
    st.warning(f"Pick another range: {exc}.")
else:
    panel(be_spec, key="break-even", what="break-even sweep")

with st.expander("The same measurements from a terminal"):
    st.code("python -m core overhead --scheduler all --tasks 1000 --json\n"
            "python -m core overhead --scheduler processes --break-even --sizes 18:30:3", language="bash")
    st.markdown(f"Measurements here that are estimated over {settings().max_seconds:.0f} s are refused; the CLI's"
                " `--max-seconds` and `--force` set its own budget. Labels of engines:"
                + ", ".join(f" `{s}` = {SCHEDULER_LABELS[s]}" for s in PER_TASK_ENGINES) + ".")
