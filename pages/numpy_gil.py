"""NumPy and the GIL: kernels that release it, code that does not, and what shipping data costs."""

import streamlit as st

from core.measure.results import combine
from core.measure.spec import ExperimentSpec
from core.report import charts
from core.workloads import WORKLOADS
from pages.common import Arm, engine_picker, run_panel, show_results

st.title("NumPy and the GIL")
st.markdown(
    "NumPy's heavy kernels — sorting, BLAS matrix products — run in C and **release the GIL**, so"
    " threads can use several cores at once with no copying. But NumPy is not magic: a Python loop over"
    " many *tiny* array operations spends its time in Python-level dispatch, which **holds the GIL**."
)
KERNELS = ["numpy-sort", "numpy-matmul", "numpy-small"]
# Plain option names: a bound widget writes its *displayed* label into the URL.
kernel = st.segmented_control("Kernel", KERNELS, default="numpy-sort", key="kernel", bind="query-params",
                              help="numpy-sort and numpy-matmul release the GIL; numpy-small holds it.") or "numpy-sort"
wl = WORKLOADS[kernel]
st.caption(f"**{wl.label}** — {wl.gil} the GIL. {wl.gil_why}")
c = st.columns(4)
size = c[0].slider(f"{wl.size_name} ({wl.size_unit})" if wl.size_unit else wl.size_name,
                   int(wl.min_size), min(int(wl.max_size), {"numpy-sort": 16, "numpy-matmul": 2000,
                                                            "numpy-small": 200}[kernel]),
                   int(wl.default_size), int(wl.step), key=f"size-{kernel}", bind="query-params",
                   help=wl.size_help)
tasks = c[1].slider("Tasks", 1, 8, 4, key="np-tasks", bind="query-params")
workers = c[2].slider("Workers", 1, 8, 2, key="np-workers", bind="query-params")
repeats = c[3].slider("Repeats", 1, 5, 2, key="np-repeats", bind="query-params")
blas = 1
if kernel == "numpy-matmul":
    pinned = st.toggle("Pin BLAS to 1 thread inside each task", value=True, key="pin-blas", bind="query-params",
                       help="Otherwise OpenBLAS starts its own threads and competes with Dask's.")
    blas = 1 if pinned else None
engines = engine_picker("np-engines", ["sync", "threads", "processes"], ["sync", "threads", "processes"])
arms = [
    Arm(s, ExperimentSpec(workload=kernel, size=size, tasks=tasks, scheduler=s, workers=1 if s == "sync" else workers,
                          repeats=repeats, blas_threads=blas))
    for s in engines
]
results = run_panel(f"numpy-{kernel}", arms, what=f"{kernel} comparison")
if results:
    show_results(arms, results, key=f"numpy-{kernel}")
    st.session_state.setdefault("numpy-kernels", {})[kernel] = (arms, results)

done = st.session_state.get("numpy-kernels", {})
if len(done) > 1:
    st.subheader("Kernels side by side")
    st.caption("Threads vs sync for each kernel you measured in this session (same chart, same scale).")
    cols = st.columns(len(done))
    for col, (name, (k_arms, k_results)) in zip(cols, done.items(), strict=True):
        runs, _ = combine(k_results, [a.label for a in k_arms])
        if "sync" in set(runs["scheduler"]):
            col.altair_chart(charts.speedup_chart(runs, baseline="sync", title=name), width="stretch")

st.divider()
st.header("Sharing memory vs shipping it")
st.markdown(
    "Threads share one address space: every task reads the caller's array in place. A process has its"
    " own memory, so each task's input is **pickled, sent and copied**. The `transfer` workload hands the"
    " same array to every task and only computes a checksum: what you see is the cost of moving data."
)
t = st.columns(3)
mb = t[0].slider("Payload (MB)", 1, 200, 50, key="mb", bind="query-params")
t_tasks = t[1].slider("Tasks", 1, 8, 4, key="tr-tasks", bind="query-params")
t_workers = t[2].slider("Workers", 1, 4, 2, key="tr-workers", bind="query-params")
t_arms = [
    Arm(label, ExperimentSpec(workload="transfer", size=mb, tasks=t_tasks, scheduler=s, workers=t_workers, repeats=2))
    for label, s in [("sync", "sync"), ("threads", "threads"), ("processes", "processes"),
                     ("LocalCluster processes=True", "cluster-processes")]
]
t_results = run_panel("transfer", t_arms, what="data-transfer comparison")
if t_results:
    show_results(t_arms, t_results, key="transfer")
