"""GIL trace: watch threads take turns on the GIL, measured live in a fresh Python process."""

from __future__ import annotations

import streamlit as st

from core.kinds.gil_trace import TRACE_LIMITS, TRACE_WORKLOADS, GilTraceSpec, compare_traces
from core.kinds.interpreter import InterpreterInfo, interpreter_info
from pages.shell.panel import panel
from pages.shell.results import show


@st.cache_resource(show_spinner=False)
def _interpreter() -> InterpreterInfo:
    return interpreter_info()


info = _interpreter()
st.title("GIL trace: threads taking turns")
st.markdown(
    "Each thread below runs tiny units of work and notes the time after every unit. A **bar** means the"
    " thread was making progress; a **gap** means it was waiting — for the GIL, or, on a busy machine, for a"
    " core. Pure-Python threads hand the interpreter to each other every *switch interval*"
    f" (`sys.getswitchinterval()`, {info.switch_interval_s * 1000:g} ms here); NumPy's kernels and sleeps"
    " release the GIL, so their lanes run side by side."
)
if not info.gil_enabled:
    st.info(
        f"This server runs a free-threaded CPython {info.version} with the GIL **disabled**: expect the python"
        " lanes to overlap like numpy's. The descriptions below are about standard CPython; the trace shows"
        " this interpreter.",
        icon=":material/info:",
    )

c = st.columns(3)
threads = c[0].slider("Threads", 1, int(TRACE_LIMITS["threads"][1]), 2, key="trace-threads", bind="query-params",
                      help="Threads started together behind a barrier.")
seconds = c[1].slider("Seconds", 0.05, TRACE_LIMITS["seconds"][1], 0.5, 0.05, key="trace-seconds", bind="query-params",
                      help="How long every thread keeps working.")
interval_ms = c[2].slider(
    "Switch interval (ms)", TRACE_LIMITS["switch_interval_ms"][0], 50.0, 5.0, 0.5, key="trace-interval",
    bind="query-params",
    help="How long a thread waiting for the GIL waits before it asks the holder to drop it. CPython's default"
    " is 5 ms. It is set in the trace's own process: this server's setting never changes.",
)
chosen = st.pills("Workloads", list(TRACE_WORKLOADS), selection_mode="multi", default=["python", "numpy"],
                  key="trace-workloads", bind="query-params",
                  help="python holds the GIL; numpy (np.dot, BLAS pinned to 1 thread) and sleep release it.")
workloads = [w for w in TRACE_WORKLOADS if w in (chosen or [])] or ["python", "numpy"]
if not chosen:
    st.caption("No workload selected: tracing python and numpy.")
specs = [GilTraceSpec(threads=threads, seconds=seconds, workload=w, switch_interval_ms=interval_ms)
         for w in workloads]

st.caption("Each workload is traced in a fresh Python process, one after the other.")
traces = panel(specs, key="trace", what="GIL trace", show_result=False)
if traces:
    total_ms = round(max(t.wall_s for t in traces) * 1000, 1)
    window = st.slider(
        "Show (ms)", 0.0, total_ms, (0.0, total_ms), key=f"window-{total_ms}",
        help="Narrow the window to see single hand-overs (try 40 ms). You can also scroll on a chart to zoom.",
    )
    window_s = (window[0] / 1000, window[1] / 1000) if window[1] > window[0] and window != (0.0, total_ms) else None
    if len(traces) > 1:
        st.dataframe(
            compare_traces(traces), hide_index=True,
            column_config={"parallel_fraction": st.column_config.NumberColumn(format="percent"),
                           "busy": st.column_config.NumberColumn(format="percent"),
                           "mean turn (ms)": st.column_config.NumberColumn(format="%.2f"),
                           "mean bar (ms)": st.column_config.NumberColumn(format="%.2f")},
        )
    for tr in traces:
        st.subheader(tr.title)
        drawn = tr.charts(window_s=window_s)
        if not drawn:
            st.caption("Nothing to draw in this window: this trace has no bars there.")
        show(tr, key=f"trace-{tr.workload}", charts=drawn)

st.divider()
st.subheader("How to read a trace")
st.markdown(
    "- **A gap in a lane** is time that thread could not move forward. For pure Python on standard CPython it"
    " is the GIL: another thread holds it.\n"
    "- **python**: a waiting thread waits one switch interval, then asks the holder to drop the GIL at its next"
    " bytecode boundary. So bars alternate roughly every switch interval and `parallel_fraction` stays near 0 —"
    " however many cores the machine has. Raise the switch interval and the bars stretch.\n"
    "- **numpy**: `np.dot` releases the GIL while it multiplies, so lanes overlap — up to one lane per core"
    f" ({info.usable_cores} usable here). More threads than cores: the extra gaps are waits for a core.\n"
    "- **sleep**: a sleeping thread releases the GIL and needs no core, so every lane is solid, side by side.\n"
    "- **Free-threaded CPython** (3.13t / 3.14t, GIL disabled): python lanes would overlap too, like numpy's."
    " This interpreter: " + (f"GIL **{'enabled' if info.gil_enabled else 'disabled'}**"
                             f"{' (free-threaded build)' if info.free_threaded_build else ''}.")
)
st.caption(
    "Every trace runs in a fresh `python -m core.kinds.gil_trace` process, so this server's own threads do not"
    " disturb it and its switch interval never changes. The same trace from a terminal:"
    " `python -m core gil-trace --threads 2 --seconds 0.5 --workload python`."
)
