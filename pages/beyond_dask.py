"""Beyond Dask: the same tasks on concurrent.futures, multiprocessing and joblib, with the code each one takes."""

import streamlit as st

from core.engines.code import engine_code
from core.kinds.compare import Arm, CompareSpec
from core.presets import pairs_for, preset
from core.workloads import WORKLOADS
from pages.shell.controls import engine_picker, rounds_picker
from pages.shell.panel import panel

st.title("Beyond Dask: the GIL is Python's")
st.markdown(
    "Every lesson of this lab is about **Python**, not about Dask: the same GIL decides what"
    " `concurrent.futures`, `multiprocessing` and **joblib** (scikit-learn's parallel engine) can do. Here the"
    " very same tasks run on Dask's engines and on those, measured together in interleaved rounds: threads of"
    " one process take turns on pure-Python work whichever library starts them, and every process pool runs it"
    " in parallel — once a task is worth sending to another process."
)

KERNELS = ["fib", "sleep", "numpy-matmul"]
DEFAULTS = {"fib": preset("beyond-dask"), "sleep": preset("beyond-dask-io"),
            "numpy-matmul": preset("beyond-dask-numpy")}
# What a reader would write for each kernel: the function every engine below maps over its arguments.
TASK_CODE = {
    "fib": "def fib(n):  # pure Python: holds the GIL\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
    "sleep": "import time  # time.sleep releases the GIL while it waits, as I/O does\nwait = time.sleep",
    "numpy-matmul": "import numpy as np\n\ndef matmul(side):  # BLAS releases the GIL (pinned to 1 thread here)\n"
                    "    a = np.linspace(0.0, 1.0, side * side).reshape(side, side)\n    return np.trace(a @ a.T)",
}
FN = {"fib": "fib", "sleep": "wait", "numpy-matmul": "matmul"}
MAX_SIZE = {"fib": 30, "sleep": 0.5, "numpy-matmul": 1500}

kernel = st.segmented_control("Kernel", KERNELS, default="fib", key="bd-kernel", bind="query-params",
                              help="fib holds the GIL; sleep and numpy-matmul release it.") or "fib"
wl, default = WORKLOADS[kernel], DEFAULTS[kernel]
st.caption(f"**{wl.label}** — {wl.gil} the GIL. {wl.gil_why}")

c = st.columns(4)
label = f"{wl.size_name} ({wl.size_unit})" if wl.size_unit else wl.size_name
if wl.integer_size:
    size = c[0].slider(label, int(wl.min_size), MAX_SIZE[kernel], int(default.size), int(wl.step),
                       key=f"bd-size-{kernel}", bind="query-params", help=wl.size_help)
else:
    size = c[0].slider(label, float(wl.min_size), float(MAX_SIZE[kernel]), float(default.size), 0.01,
                       key=f"bd-size-{kernel}", bind="query-params", help=wl.size_help)
tasks = c[1].slider("Tasks", 1, 16, default.tasks, key="bd-tasks", bind="query-params")
thread_default = next((a.workers for a in default.arms if a.engine in ("threads", "futures-threads")), 2)
threads = c[2].slider("Threads per thread pool", 1, 16, thread_default, key="bd-threads", bind="query-params")
processes = c[3].slider("Processes per process pool", 1, 8, 2, key="bd-processes", bind="query-params",
                        help="Each process pool is started once, before the rounds (its start-up shown apart).")

ENGINES = ["Dask threads", "Dask processes", "futures-threads", "futures-processes", "multiprocessing",
           "joblib-loky", "joblib-threads"]
make = {
    "Dask threads": Arm("threads", threads, label=f"Dask threads ×{threads}"),
    "Dask processes": Arm("processes", processes, reuse_pool=True, label=f"Dask processes ×{processes}"),
    "futures-threads": Arm("futures-threads", threads),
    "futures-processes": Arm("futures-processes", processes, reuse_pool=True),
    "multiprocessing": Arm("multiprocessing", processes, reuse_pool=True),
    "joblib-loky": Arm("joblib-loky", processes, reuse_pool=True),
    "joblib-threads": Arm("joblib-threads", threads),
}
name_of = {"threads": "Dask threads", "processes": "Dask processes"}
engines = engine_picker(f"bd-engines-{kernel}", ENGINES, [name_of.get(a.engine, a.engine) for a in default.arms[1:]],
                        label="Engines (each against sync, the baseline)")
arms = (Arm("sync"), *(make[e] for e in engines))
spec = CompareSpec(workload=kernel, size=size, tasks=tasks, arms=arms, rounds=rounds_picker(),
                   pairs=pairs_for({"fib": "beyond-dask", "sleep": "beyond-dask-io"}.get(kernel, ""), arms))
result = panel(spec, key=f"beyond-{kernel}", what=f"{kernel} comparison beyond Dask",
               predict={"fib": "beyond-dask", "sleep": "beyond-dask-io"}.get(kernel, "beyond-dask-numpy"))

st.subheader("What each engine runs")
st.markdown(
    "The few lines you would write for each engine: what the lab runs, minus the measuring (every task also"
    " records its own start, end and CPU time). Process pools start **fresh interpreters** (spawn): the function"
    " must live in a module they can import, and a script needs `if __name__ == \"__main__\":` around its work."
)
st.code(TASK_CODE[kernel], language="python")
items = f"[{size!r}] * {tasks}"
verdicts = {v.label: v for v in result.verdicts} if result is not None else {}
tabs = st.tabs([a.label for a in arms])
for tab, arm in zip(tabs, arms, strict=True):
    with tab:
        v = verdicts.get(arm.label)
        if v is not None:
            st.caption(f"Measured above: **{v.describe()}** against sync.")
        elif arm.engine == "sync":
            st.caption("The baseline: every other engine is compared with it, round by round.")
        st.code(engine_code(arm, name="pool").snippet(fn=FN[kernel], items=items), language="python")
