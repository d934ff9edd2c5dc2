"""Interpreter & BLAS: the GIL status, the switch interval, and BLAS threads competing with Dask's."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.kinds.blas import BlasSpec
from core.kinds.interpreter import InterpreterInfo, blas_default_threads, blas_info, interpreter_info
from pages.shell.panel import panel


@st.cache_resource(show_spinner=False)
def _interpreter() -> InterpreterInfo:
    return interpreter_info()


info = _interpreter()
default_blas = blas_default_threads()
st.title("Interpreter & BLAS")
st.markdown(
    "Before Dask schedules anything, two things decide what threads can do: the **interpreter** (is there a"
    " GIL, and how often is it handed over?) and **native thread pools** — NumPy's BLAS starts threads of its"
    " own for a matrix product."
)

left, right = st.columns([3, 4])
with left:
    st.subheader("This interpreter")
    st.table(pd.DataFrame({
        "": ["Implementation", "Version", "Build", "Compiler", "Free-threaded build", "GIL", "Switch interval",
             "Usable cores", "Logical cores", "Platform"],
        "value": [info.implementation, info.version, info.build, info.compiler,
                  "yes (Py_GIL_DISABLED)" if info.free_threaded_build else "no", info.gil_label,
                  f"{info.switch_interval_s * 1000:g} ms", str(info.usable_cores), str(info.logical_cores),
                  info.platform],
    }).set_index(""))
    st.caption(
        "The GIL is read after importing NumPy, pandas and Dask: on a free-threaded build an extension module"
        " that does not declare itself thread-safe switches the GIL back on when it is imported."
    )
with right:
    st.subheader("BLAS and OpenMP thread pools")
    pools = blas_info()
    if pools:
        columns = ["internal_api", "num_threads", "version", "threading_layer", "user_api", "library"]
        st.dataframe(pd.DataFrame([p.to_dict() for p in pools])[columns], hide_index=True)
    else:
        st.caption("No BLAS or OpenMP library is loaded in this process.")
    st.markdown(
        f"The library's default here: **{default_blas if default_blas is not None else 'unknown'}** BLAS"
        f" thread{'s' if default_blas != 1 else ''} per matrix product — usually one per core"
        f" ({info.usable_cores} usable). *num_threads* above is the limit in force right now: the lab's"
        " NumPy runs pin it to 1 inside each task, the default arm below restores it."
    )

st.divider()
st.header("Oversubscription: Dask threads × BLAS threads")
st.markdown(
    "Dask's `threads` scheduler runs several matrix products at once, and each product may start BLAS threads"
    f" for every core. With 2 Dask threads × {default_blas or 'N'} BLAS threads on {info.usable_cores} cores the"
    " machine is asked for more threads than it has: they interrupt each other, fight over the caches and spin"
    " while waiting. Pinning BLAS to one thread per task (threadpoolctl, or `OPENBLAS_NUM_THREADS=1`) leaves"
    " the parallelism to Dask. Both arms below run the same `numpy-matmul` graph on Dask's threads."
)
c = st.columns(4)
side = c[0].slider("Matrix side", 200, 1500, 600, 100, key="blas-side", bind="query-params",
                   help="Each task multiplies two side × side float64 matrices (cost grows with side³).")
tasks = c[1].slider("Tasks", 1, 8, 4, key="blas-tasks", bind="query-params")
workers = c[2].slider("Dask threads", 1, 8, 2, key="blas-workers", bind="query-params")
repeats = c[3].slider("Repeats", 1, 5, 2, key="blas-repeats", bind="query-params")
st.caption(
    "Threads asked for: pinned "
    f"{workers} Dask × 1 BLAS = {workers}; default {workers} × {default_blas or '?'} ="
    f" {workers * (default_blas or 1)} on {info.usable_cores} usable cores. The two arms take turns, round after"
    " round, so both see the same machine."
)
panel(BlasSpec(side=side, tasks=tasks, workers=workers, repeats=repeats), key="blas", what="BLAS comparison")

st.divider()
st.header("Free-threaded CPython")
st.markdown(
    "CPython 3.13 and 3.14 come in a second, *free-threaded* build (`python3.13t`, `python3.14t`) that can run"
    " without the GIL (`PYTHON_GIL=0` or `-X gil=0` forces it off; importing an extension that is not marked"
    " thread-safe turns it back on). What would change in this lab:\n"
    "- **GIL trace**: python lanes would overlap like numpy's, and `parallel_fraction` would rise towards 1"
    " on two or more cores instead of staying near 0.\n"
    "- **CPU-bound (fib)**: the threads engine would speed up with the cores, like processes, without their"
    " start-up and pickling costs; single-thread code runs somewhat slower on those builds.\n"
    "- **NumPy, sleep, BLAS**: little changes — they already release the GIL.\n\n"
    + (f"This server: **{info.gil_label}** (Python {info.version}"
       f"{', free-threaded build' if info.free_threaded_build else ', standard build'})."
       + ("" if info.gil_enabled else " Python threads here can run bytecode in parallel: the trace and the"
          " CPU-bound page show it."))
)

st.divider()
st.header("Interpreters on this machine")
from core.interpreters import discover  # noqa: E402  (below: the other pages' imports stay as they were)

st.dataframe([{"tag": i.tag, "version": i.version, "build": i.build if i.ok else "",
               "GIL": ("on" if i.gil_enabled else "off") if i.ok else "",
               "subinterpreters": i.executor or ("no" if i.ok else ""), "path": i.path, "found in": i.source,
               "error": i.error} for i in st.cache_resource(discover, ttl=600, show_spinner=False)()],
             hide_index=True)
st.caption("The lab's own, `GIL_LAB_PYTHONS` (paths), `python3.X[t]` on PATH and pyenv's versions, each probed once"
           " with a tiny script. The **Beyond the GIL** page measures the ones with subinterpreters or no GIL;"
           " `python -m core interpreters` prints this table.")
