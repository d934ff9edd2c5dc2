"""GIL trace: watch threads take turns on the GIL, measured live in a fresh Python process."""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.kinds.gil_trace import (
    TRACE_LIMITS,
    TRACE_WORKLOAD_LABELS,
    TRACE_WORKLOADS,
    GilTrace,
    GilTraceSpec,
    TraceError,
    explain_trace,
    run_gil_trace,
)
from core.kinds.interpreter import InterpreterInfo, interpreter_info
from core.report import charts
from core.serve.slot import SlotBusy, SlotStatus
from core.serve.store import ResultStore
from pages.common import session_gone, settings, slot_waiter


@st.cache_resource(show_spinner=False)
def _interpreter() -> InterpreterInfo:
    return interpreter_info()


@st.cache_resource(show_spinner=False)
def _traces() -> ResultStore:
    """Traces shared by every visitor; the one store answers both "is it cached?" and "give it to me"."""
    return ResultStore(max_entries=100)


def trace(spec: GilTraceSpec, nonce: int, on_wait: Callable[[SlotStatus], None] | None = None) -> GilTrace:
    """The stored trace for (spec, nonce), or a fresh one; ``nonce`` changes only on "Measure again"."""
    found = _traces().get(spec, nonce)
    if found is None:
        found = run_gil_trace(spec, max_wait_s=settings().max_wait_seconds, on_wait=on_wait)
        _traces().put(spec, nonce, found)
    return found


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

nonce = st.session_state.get("trace-nonce", 0)
cols = st.columns([1.2, 1.2, 4], vertical_alignment="center")
run = cols[0].button("Run trace", type="primary", key="trace-run")
again = cols[1].button("Measure again", key="trace-again",
                       help="Ignore cached traces for these settings and take a fresh one.")
cached = _traces().has_all(specs, nonce)
cols[2].caption(
    f"≈ {len(specs) * (seconds + 0.5):.0f} s: each workload runs in a fresh Python process"
    + (" · these settings are cached: instant" if cached else "")
)
if again:
    nonce = time.time_ns()
    st.session_state["trace-nonce"] = nonce
    cached = False

traces: list[GilTrace] = []
if not (run or again or cached):
    st.info("Set the sliders, then press **Run trace** to watch the threads on this machine.")
else:
    waiting = st.empty()
    on_wait = slot_waiter(waiting, session_gone())
    try:
        with st.spinner(f"Tracing {', '.join(workloads)}…"):
            traces = [trace(s, nonce, on_wait) for s in specs]
        waiting.empty()
    except SlotBusy as exc:
        st.warning(f"The lab is busy: {exc}. Your settings are kept; press Run again later.")
    except (TraceError, ValueError) as exc:
        st.error(f"The trace could not run: {exc}")

if traces:
    total_ms = max(t.wall_s for t in traces) * 1000
    window = st.slider(
        "Show (ms)", 0.0, round(total_ms, 1), (0.0, round(total_ms, 1)), key=f"window-{round(total_ms, 1)}",
        help="Narrow the window to see single hand-overs (try 40 ms). You can also scroll on a chart to zoom.",
    )
    window_s = (window[0] / 1000, window[1] / 1000) if window[1] > window[0] else None
    if len(traces) > 1:
        st.dataframe(
            pd.DataFrame({
                "workload": [t.workload for t in traces],
                "parallel_fraction": [t.parallel_fraction for t in traces],
                "hand-overs": [t.handoffs for t in traces],
                "mean turn (ms)": [t.mean_turn_ms for t in traces],
                "mean bar (ms)": [t.mean_slice_ms for t in traces],
                "busy": [t.busy_fraction for t in traces],
            }),
            hide_index=True,
            column_config={"parallel_fraction": st.column_config.NumberColumn(format="percent"),
                           "busy": st.column_config.NumberColumn(format="percent"),
                           "mean turn (ms)": st.column_config.NumberColumn(format="%.2f"),
                           "mean bar (ms)": st.column_config.NumberColumn(format="%.2f")},
        )
    for tr in traces:
        st.subheader(TRACE_WORKLOAD_LABELS[tr.workload])
        m = st.columns(4)
        m[0].metric("parallel_fraction", f"{tr.parallel_fraction:.0%}",
                    help="Share of the wall time during which two or more threads made progress at once.")
        if tr.workload == "python":
            m[1].metric("Mean turn", f"{tr.mean_turn_ms:.1f} ms",
                        help="How long a thread stayed in front before another thread's bar started. For pure"
                        f" Python this follows the switch interval ({tr.switch_interval_s * 1000:g} ms).")
            m[2].metric("Hand-overs", f"{tr.handoffs}", help="Times progress passed from one thread to another.")
        else:  # lanes run side by side: turns and hand-overs mean little, bar lengths do
            m[1].metric("Mean bar", f"{tr.mean_slice_ms:.1f} ms",
                        help="How long a thread made progress without a break, on average.")
            m[2].metric("Waits", f"{int(tr.threads['waits'].sum())}",
                        help="Gaps in all lanes together: times a thread had to wait (for the GIL or a core).")
        m[3].metric("Busy", f"{tr.busy_fraction:.0%}",
                    help="Share of the wall time during which at least one thread made progress.")
        st.markdown("\n".join(f"- {s}" for s in explain_trace(tr)))
        try:
            st.altair_chart(charts.gil_trace_chart(tr.slices, window_s=window_s), width="stretch",
                            key=f"chart-{tr.workload}")
        except ValueError as exc:  # e.g. a window in which this trace has no bars
            st.caption(f"Nothing to draw: {exc}.")
        with st.expander(f"Per-thread figures ({tr.workload})"):
            st.dataframe(tr.threads, hide_index=True)
            st.caption(
                f"Work unit ≈ {tr.unit_us:.0f} µs; a gap over {tr.gap_threshold_us:.0f} µs between two stamps counts"
                " as a wait. *slices*: run bars; *turns*: a thread's bars until another thread's bar starts (the"
                " operating system also cuts bars, without moving the GIL). Trace taken"
                f" {tr.started_at}, Python {tr.machine.python_version}, {tr.machine.usable_cores} usable cores."
            )
            st.download_button("Download trace (JSON)", tr.to_json(), file_name=f"gil-trace-{tr.workload}.json",
                               mime="application/json", key=f"dl-{tr.workload}")

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
