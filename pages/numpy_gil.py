"""NumPy and the GIL: kernels that release it, code that does not, and what shipping data costs."""

import streamlit as st

from core.kinds.compare import Arm, CompareSpec
from core.presets import preset
from core.workloads import WORKLOADS
from pages.shell.controls import engine_picker, rounds_picker
from pages.shell.panel import panel

st.title("NumPy and the GIL")
st.markdown(
    "NumPy's heavy kernels — BLAS matrix products, sorting — run in C and **release the GIL**, so"
    " threads can use several cores at once with no copying. But NumPy is not magic: a Python loop over"
    " many *tiny* array operations spends its time in Python-level dispatch, which **holds the GIL**."
)
KERNELS = ["numpy-matmul", "numpy-sort", "numpy-small"]
DEFAULTS = {"numpy-matmul": preset("numpy"), "numpy-small": preset("numpy-small")}
# Plain option names: a bound widget writes its *displayed* label into the URL.
kernel = st.segmented_control("Kernel", KERNELS, default="numpy-matmul", key="kernel", bind="query-params",
                              help="numpy-matmul and numpy-sort release the GIL; numpy-small holds it."
                              ) or "numpy-matmul"
wl = WORKLOADS[kernel]
default = DEFAULTS.get(kernel)
st.caption(f"**{wl.label}** — {wl.gil} the GIL. {wl.gil_why}")
if kernel == "numpy-sort":
    st.caption("Sorting is partly memory-bound: two threads share one memory bus, so it scales less than the"
               " matrix product.")
c = st.columns(3)
size = c[0].slider(f"{wl.size_name} ({wl.size_unit})" if wl.size_unit else wl.size_name,
                   int(wl.min_size), {"numpy-sort": 16, "numpy-matmul": 2000, "numpy-small": 200}[kernel],
                   int(default.size if default else 2), int(wl.step), key=f"size-{kernel}", bind="query-params",
                   help=wl.size_help)
tasks = c[1].slider("Tasks", 1, 8, 4, key="np-tasks", bind="query-params")
workers = c[2].slider("Workers", 1, 8, 2, key="np-workers", bind="query-params")
blas = 1
if kernel == "numpy-matmul":
    pinned = st.toggle("Pin BLAS to 1 thread inside each task", value=True, key="pin-blas", bind="query-params",
                       help="Otherwise OpenBLAS starts its own threads and competes with the engines' threads.")
    blas = 1 if pinned else None
engines = engine_picker("np-engines", ["sync", "threads", "processes"], ["sync", "threads", "processes"])
make = {"sync": Arm("sync"), "threads": Arm("threads", workers),
        "processes": Arm("processes", workers, reuse_pool=True)}
arms = tuple(make[e] for e in engines)
if arms[0].engine != "sync":
    arms = (Arm("sync"), *arms)
if len(arms) < 2:
    arms = (Arm("sync"), Arm("threads", workers))
rounds = rounds_picker()
panel(CompareSpec(workload=kernel, size=size, tasks=tasks, arms=arms, blas_threads=blas, rounds=rounds),
      key=f"numpy-{kernel}", what=f"{kernel} comparison",
      predict={"numpy-matmul": "numpy", "numpy-small": "numpy-small"}.get(kernel, kernel))

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
t_arms = (Arm("sync"), Arm("threads", t_workers), Arm("processes", t_workers, reuse_pool=True),
          Arm("cluster-processes", t_workers, label="LocalCluster processes=True"))
panel(CompareSpec(workload="transfer", size=mb, tasks=t_tasks, arms=t_arms, rounds=rounds), key="transfer",
      what="data-transfer comparison")
