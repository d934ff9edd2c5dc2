"""Start: threads vs processes, the GIL, and a one-click experiment (tutorial §1–3)."""

import streamlit as st

from core.measure.machine import machine_info
from core.presets import preset
from core.report import charts
from pages.shell.panel import panel

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

st.header("See it: four fib tasks, three ways")
start = preset("start")
st.markdown(
    f"The tutorial's CPU-bound example: {start.tasks} independent `fib({int(start.size)})` tasks on one thread"
    " (**sync**, the baseline), on **4 threads** and on **4 processes**. The engines are measured **together**, in"
    " interleaved rounds, so a busy moment of this shared machine hits all of them alike; each verdict comes with"
    " its 95 % interval, and the lab says *undecided* rather than guess. The tutorial uses n = 30; n ="
    f" {int(start.size)} gives the same lesson in a few seconds (try 30 on the *CPU-bound* page). The process pool"
    " is started once and kept warm, its start-up shown apart; the *CPU-bound* page also shows Dask's default,"
    " a new pool for every compute."
)
panel(start, key="start", what="first experiment", predict="start")
