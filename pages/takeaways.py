"""Takeaways (tutorial §8): each lesson next to a chart measured here."""

import streamlit as st

from core.measure.machine import machine_info
from core.measure.results import combine
from core.measure.spec import ExperimentSpec
from core.report import charts
from pages.common import Arm, measure

st.title("Takeaways")
st.markdown(
    "Each lesson below sits next to a measurement: yours, if you ran that page's experiment in this"
    " session, or a small default measured on this server (cached, so it is measured once)."
)

DEFAULTS = {
    "cpu": [Arm(s, ExperimentSpec(workload="fib", size=27, tasks=4, scheduler=s, workers=1 if s == "sync" else 2,
                                  repeats=3, reuse_pool=s == "processes")) for s in ("sync", "threads", "processes")],
    "io": [Arm(s, ExperimentSpec(workload="sleep", size=0.2, tasks=4, scheduler=s, workers=1 if s == "sync" else 4,
                                 repeats=2)) for s in ("sync", "threads")],
    "numpy": [Arm(s, ExperimentSpec(workload="numpy-sort", size=2, tasks=4, scheduler=s,
                                    workers=1 if s == "sync" else 2, repeats=2)) for s in ("sync", "threads")],
}

LESSONS = [
    ("cpu", "Threads do not speed up pure-Python CPU work; processes can",
     "Threads share one GIL, so CPU-bound Python runs one thread at a time. Processes each have their"
     " own GIL and use several cores — once the work outweighs their start-up."),
    ("io", "Threads do speed up waiting",
     "A waiting thread releases the GIL. More threads than cores is fine for I/O; Dask's default pool"
     " size (= cores) is often too small for it."),
    ("numpy", "Threads suit NumPy kernels that release the GIL",
     "Sorting and BLAS run in C without the GIL, so threads scale with no copying. A Python loop of tiny"
     " NumPy calls does not — see the NumPy page."),
    ("cluster", "Workers × threads per worker decides how many GILs you have",
     "In a LocalCluster, processes=True gives each worker its own GIL; processes=False shares one."),
]


def _chart(key: str) -> None:
    mine = st.session_state.get(f"last-{key}")
    if mine:
        arms, results = mine
        st.caption("From your run on the experiment page.")
    elif key in DEFAULTS:
        arms = DEFAULTS[key]
        if not st.button("Measure the small default (a few seconds)", key=f"default-{key}"):
            st.caption("No run of yours yet in this session.")
            return
        with st.spinner("Measuring…"):
            results = [measure(a.spec) for a in arms]
        st.caption("Small default, measured on this server.")
    else:
        st.caption("Run the LocalCluster page's experiment to see this one.")
        return
    runs, _ = combine(results, [a.label for a in arms])
    st.altair_chart(charts.runtime_chart(runs), width="stretch")


for key, title, text in LESSONS:
    st.subheader(title)
    left, right = st.columns([2, 3])
    left.markdown(text)
    with right:
        _chart(key)

st.header("Your machine")
m = machine_info()
st.table({
    "": ["usable cores", "logical cores", "Python", "GIL", "free-threaded build", "dask", "distributed", "numpy",
         "pandas", "platform"],
    "value": [str(m.usable_cores), str(m.logical_cores), f"{m.python_version} ({m.python_implementation})",
              m.gil_label, str(m.free_threaded_build), m.dask_version, m.distributed_version, m.numpy_version,
              m.pandas_version, m.platform],
})
