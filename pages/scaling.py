"""Scaling & data transfer: speedup vs workers (with the knee and an Amdahl fit), and what shipping data costs."""

import streamlit as st

from core.kinds.scaling import ScalingSpec, default_tasks, default_worker_counts, max_sweep_workers
from core.kinds.transfer import TransferSpec, default_transfer_sizes
from core.measure.machine import machine_info
from core.spec import CLUSTER_SCHEDULERS, SCHEDULER_LABELS
from core.workloads import WORKLOADS
from pages.shell.controls import engine_picker
from pages.shell.panel import panel

cores = machine_info().usable_cores
st.title("Scaling & data transfer")
st.markdown(
    "Two questions every parallel program meets: **how far do more workers go?** and **what does it cost"
    " to get the data to them?** Both are answered here with many small runs of the same engine, measured"
    f" on this machine ({cores} usable core{'s' if cores != 1 else ''}). The points of a sweep take turns:"
    " every round runs each point once, in a rotating order, so a busy moment of this shared machine hits them"
    " all alike instead of bending the curve."
)

# --- scaling -------------------------------------------------------------------------------------------

st.header("Speedup vs workers")
st.markdown(
    "**Strong scaling**: the *same* tasks, spread over 1, 2, 3 … workers. *Speedup* = wall time with 1 worker"
    " ÷ wall time with p workers, on the same engine (so the engine's own overhead cancels out);"
    " *efficiency* = speedup ÷ workers. The ideal is linear up to the number of cores and flat after it:"
    " a core runs one thing at a time."
)
SWEEP_WORKLOADS = ["fib", "numpy-sort", "numpy-small"]
SWEEP_ENGINES = ["processes", "cluster-processes", "threads", "cluster-threads", "futures-processes",
                 "multiprocessing", "futures-threads", "joblib-threads"]
workload = st.segmented_control("Workload", SWEEP_WORKLOADS, default="fib", key="sc-workload", bind="query-params",
                                help="fib and numpy-small hold the GIL; numpy-sort releases it.") or "fib"
# Pills, not a segmented control: eight engines wrap onto a second line instead of scrolling out of sight.
engine = st.pills("Engine", SWEEP_ENGINES, default="processes", key="sc-engine", bind="query-params",
                  help="cluster-processes = LocalCluster(processes=True); cluster-threads ="
                       " LocalCluster(processes=False); futures-* are concurrent.futures' pools,"
                       " multiprocessing its Pool, joblib-threads joblib's threading backend."
                  ) or "processes"
wl = WORKLOADS[workload]
st.caption(f"**{wl.label}** — {wl.gil} the GIL. {wl.gil_why} · Engine: **{SCHEDULER_LABELS[engine]}**")
limit = max_sweep_workers(cores)
size_cap = {"fib": 30, "numpy-sort": 8, "numpy-small": 60}[workload]
size_default = {"fib": 28, "numpy-sort": 2, "numpy-small": 10}[workload]
c = st.columns(4)
size = c[0].slider(f"{wl.size_name} ({wl.size_unit})" if wl.size_unit else f"fib {wl.size_name}",
                   int(wl.min_size), size_cap, size_default, int(wl.step), key=f"sc-size-{workload}",
                   bind="query-params", help=wl.size_help)
top = c[1].slider("Up to … workers", 2, limit, min(limit, max(4, 2 * cores)), key="sc-workers", bind="query-params",
                  help=f"Every count from 1 up to this (powers of two beyond 8). This machine has {cores} cores:"
                       " going past them shows the knee.")
per_worker = c[2].slider("Tasks per worker (widest run)", 1, 4, 2, key="sc-k", bind="query-params",
                         help="Total tasks = this × the largest worker count, rounded up so every count divides"
                              " them evenly. The same total at every count: strong scaling.")
repeats = c[3].slider("Repeats", 1, 5, 3, key="sc-repeats", bind="query-params",
                      help="Each worker count runs this many times; medians are shown with the spread.")
with_sync = st.toggle("Also run sync (one thread, no engine) for reference", value=True, key="sc-sync",
                      bind="query-params")
counts = default_worker_counts(top, cores)
tasks = default_tasks(counts, per_worker)
even = all(tasks % w == 0 for w in counts)
st.caption(
    f"Worker counts {', '.join(map(str, counts))} · **{tasks} tasks** in every run"
    + ("" if even else " (not every count divides them: those runs end with a half-empty wave)")
    + (" · processes: one pool per worker count, its start-up reported apart, never in the wall time"
       if engine == "processes" else "")
)
if engine in CLUSTER_SCHEDULERS:
    st.caption(
        f":material/hub: Every worker count is a different LocalCluster ({len(counts)} shapes), all running while"
        " the sweep measures. Each starts once, before the rounds (its start-up is shown apart, never in the wall"
        " time); the app keeps the 3 most recently used shapes running afterwards and closes older ones."
    )
st.caption("A sweep runs every worker count once per round: a smaller size, fewer workers, fewer tasks per worker or"
           " fewer repeats make it shorter.")
results = panel(ScalingSpec(workload=workload, size=size, scheduler=engine, workers=counts, tasks=tasks,
                            repeats=repeats, include_sync=with_sync), key="scaling", what="scaling sweep")

with st.expander("Why the knee sits at the core count, why threads don't scale for fib, and what f means",
                 expanded=not results):
    st.markdown(
        f"- **The knee.** A core executes one instruction stream at a time. Up to {cores} workers, each new worker"
        " process gets a core of its own and the tasks finish sooner. Past that, workers *share* the cores by"
        " taking turns: the same work, no more hardware to run it — plus the cost of switching and of the extra"
        " processes. So speedup flattens (or drops) right at the core count.\n"
        "- **Threads and fib.** All threads of a process share one **GIL**, and pure-Python bytecode only runs"
        " while holding it. Four threads computing fib are one thread taking turns: speedup ≈ 1×, whatever the"
        " cores. `LocalCluster(processes=False)` is the same: its workers are threads of one process. Pick"
        " *numpy-sort* to see threads scale: the sort runs in C with the GIL released.\n"
        "- **Amdahl's law.** If a fraction *f* of the 1-worker time cannot be split, p cores give at best"
        " S(p) = 1 / (f + (1 − f) / p), and never more than 1/f. The lab fits *f* to the measured speedups"
        " (least squares, p = min(workers, cores)). Read it as *everything that did not shrink*: the truly"
        " serial part, but also sending tasks, pickling, scheduling, contention — and, under threads, the GIL"
        " (f ≈ 1).\n"
        f"- **Its limits here.** With {cores} core{'s' if cores != 1 else ''}, only p = {min(cores, 2)} carries"
        " information: f = 2/S(2) − 1 is one measurement restated. It cannot separate a serial part from"
        " overhead or noise, and predicting 64 cores from it is guesswork. Above-ideal speedups happen too (the"
        " 1-worker run paid per-task overhead that more workers overlap); the fit then says f = 0. For a real"
        " curve, run `python -m core sweep` on a machine with many cores."
    )

st.divider()

# --- data transfer ----------------------------------------------------------------------------------

st.header("What does moving data cost?")
st.markdown(
    "Every task of the `transfer` workload receives the **same array** of the chosen size and only sums it:"
    " the work is trivial on purpose, so the time you see is the cost of getting data to a task. Threads"
    " share one address space; processes do not."
)
SIZE_OPTIONS = ["1", "10", "25", "50", "100", "200"]
x = st.columns(3)
xf_tasks = x[0].slider("Tasks", 1, 8, 4, key="xf-tasks", bind="query-params",
                       help="Each task receives the payload.")
xf_workers = x[1].slider("Workers", 1, 4, min(4, cores), key="xf-workers", bind="query-params",
                         help="Threads, processes or LocalCluster workers (sync always has one).")
xf_repeats = x[2].slider("Repeats", 1, 3, 2, key="xf-repeats", bind="query-params")
xf_engines = engine_picker("xf-engines", ["sync", "threads", "processes", "cluster-processes"],
                           ["threads", "processes", "cluster-processes"])
fits = set(default_transfer_sizes(xf_engines, xf_tasks, xf_workers, [int(s) for s in SIZE_OPTIONS]))
options = [s for s in SIZE_OPTIONS if int(s) in fits]
chosen = st.pills("Payload sizes (MB)", options or SIZE_OPTIONS[:1], selection_mode="multi",
                  default=[s for s in ["1", "10", "50"] if s in options] or (options or SIZE_OPTIONS)[:1],
                  key="xf-sizes", bind="query-params",
                  help="Sizes that would need more than half of the free memory on some engine are not offered.")
if len(options) < len(SIZE_OPTIONS):
    st.caption(f"Sizes above {max(fits, default=1)} MB are hidden: they would need more than half of this"
               " machine's free memory on a process engine (the array, its pickle and a copy per task in flight).")
sizes = sorted(int(s) for s in (chosen or ["1", "10"]))
if not chosen:
    st.caption("No size selected: measuring 1 and 10 MB.")
st.caption("The sweep runs every size of an engine once per round: fewer or smaller sizes, fewer tasks or repeats"
           " make it shorter. Estimates for process engines are rough: piping large payloads is often slower than"
           " they assume.")
xf_results = panel(TransferSpec(sizes_mb=tuple(sizes), schedulers=tuple(xf_engines), tasks=xf_tasks,
                                workers=xf_workers, repeats=xf_repeats), key="payloads", what="data-transfer sweep")

with st.expander("Why threads stay flat, why processes grow, and what MB/s means", expanded=not xf_results):
    st.markdown(
        "- **Threads (and sync)** read the caller's array in place: nothing is copied, so the time barely moves"
        " with size. What does grow is the sum itself — reading memory, at gigabytes per second.\n"
        "- **Dask's processes scheduler** gives every task its inputs *pickled*: the array is serialised in this"
        " process, pushed through a pipe to a worker process and unpickled there into a fresh copy — once per"
        " task. Time grows with MB × tasks.\n"
        "- **MB/s** is MB × tasks ÷ compute time. Under processes it is the rate of that whole pipeline —"
        " pickle + copy + unpickle (plus the sum) — and it is the ceiling on how fast a process pool can be fed."
        " Under threads it is not a transfer rate at all: nothing moved.\n"
        "- **A LocalCluster with processes** sends the payload once with the graph and copies it once to each"
        " *worker* that needs it, not once per task — so its implied MB/s is higher than the processes"
        " scheduler's. Dask's advice follows: load data *inside* the tasks (or `scatter` it once), rather than"
        " shipping big arrays from the client."
    )
