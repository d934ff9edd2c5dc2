"""Start: threads vs processes, the GIL, and a one-click experiment (tutorial §1–3)."""

import streamlit as st

from core.measure.machine import machine_info
from core.measure.spec import ExperimentSpec
from core.report import charts
from pages.common import Arm, run_panel, show_results

m = machine_info()
st.title("GIL Lab: see threads, processes and the GIL at work")
st.markdown(
    "Move a slider, press Run, and watch Python's **Global Interpreter Lock** decide what runs in"
    " parallel — measured live on this machine with Dask's schedulers. Every number here was measured"
    " here, with its spread, next to the machine it came from."
)
st.altair_chart(charts.schematic_chart(4), width="stretch")
a, b = st.columns(2)
with a:
    st.subheader("Threads")
    st.markdown(
        "- Run inside one program and **share memory**: no copying to pass data.\n"
        "- Share **one GIL**: only one thread runs Python bytecode at a time, so pure-Python CPU work"
        " does not get faster with more threads."
    )
with b:
    st.subheader("Processes")
    st.markdown(
        "- Separate programs with **their own memory** and **their own interpreter and GIL**.\n"
        "- Run CPU-bound Python on several cores at once — but start-up costs time, and data must be"
        " serialised (pickled) and copied between them."
    )
st.subheader("What is the GIL?")
st.markdown(
    "A lock inside CPython that lets only one thread execute Python bytecode at any moment; it keeps"
    " the interpreter's memory management safe. C code that does not touch Python objects — NumPy's big"
    " kernels, waiting on I/O — can **release** it, and then threads do run in parallel."
    f" On this machine: Python {m.python_version}, GIL **{m.gil_label}**, {m.usable_cores} usable cores."
)
st.subheader("Dask's schedulers on one machine")
st.markdown(
    "- **threads**: a thread pool in this process — right for I/O and GIL-releasing code.\n"
    "- **processes**: a pool of worker processes — right for pure-Python CPU work, if the work outweighs"
    " the start-up.\n"
    "- **LocalCluster**: the distributed scheduler on this machine, with workers as threads or processes."
)

st.header("See it: four fib(30) tasks, three ways")
st.markdown(
    "The tutorial's CPU-bound example with its defaults. The process pool is started once and reused"
    " here, with its start-up shown separately; the *CPU-bound* page shows Dask's default, which starts"
    " a new pool on every compute."
)
arms = [
    Arm("sync", ExperimentSpec(workload="fib", size=30, tasks=4, scheduler="sync", workers=1, repeats=3)),
    Arm("threads", ExperimentSpec(workload="fib", size=30, tasks=4, scheduler="threads", workers=4, repeats=3)),
    Arm("processes", ExperimentSpec(workload="fib", size=30, tasks=4, scheduler="processes", workers=4,
                                    repeats=3, reuse_pool=True)),
]
results = run_panel("start", arms, what="first experiment")
if results:
    show_results(arms, results, key="start")
