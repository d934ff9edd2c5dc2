"""Any result on screen: where it was measured, its metrics, its sentences, charts, data and downloads."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.measure.results import with_machine


def show(result: Any, *, key: str, charts: list[tuple[str, Any]] | None = None) -> None:
    """A result of any kind: where it was measured, its metrics, its sentences, charts and downloads.

    ``charts`` replaces ``result.charts()`` (a page's view of the same result, e.g. a zoomed window).
    """
    m = result.machine
    noise = getattr(result, "noise", None)
    st.caption(
        f"Run `{result.run_id}` — measured {result.started_at} on {m.usable_cores} usable cores, Python"
        f" {m.python_version} (GIL {m.gil_label}), dask {m.dask_version}"
        + (f" · {noise.describe()}" if noise is not None else "")
    )
    for warning in result.warnings() if hasattr(result, "warnings") else []:
        st.warning(warning, icon=":material/warning:")
    if noise is not None and noise.busy:
        verdicts = (" Verdicts a busy machine could have produced are shown as undecided;"
                    if hasattr(result, "verdicts") else " Its numbers may show the machine more than the code;")
        st.warning(f"Measured on a busy machine: {noise.describe()}.{verdicts} press **Measure again** when it is"
                   " quieter.", icon=":material/speed:")
    metrics = result.metrics() if hasattr(result, "metrics") else []
    if metrics:
        cols = st.columns(len(metrics))
        for col, (label, value, note, help_text) in zip(cols, metrics, strict=True):
            col.metric(label, value, help=help_text)
            if note:
                col.caption(note)
    if metrics and any("CPU used" in note for _, _, note, _ in metrics):
        with st.expander("What “CPU used” means, and what it does not"):
            st.markdown(CPU_USED)
    sentences = result.explain()
    if sentences:
        st.markdown("\n".join(f"- {s}" for s in sentences))
    charts = result.charts() if charts is None else charts
    captions = {**CHART_CAPTIONS, **(result.captions() if hasattr(result, "captions") else {})}
    frames = result.frames()
    tabs = st.tabs([title for title, _ in charts] + ["Data"])
    for tab, (title, chart) in zip(tabs, charts, strict=False):
        with tab:
            # A concatenated chart has panels of fixed width: it cannot follow the column's.
            st.altair_chart(chart, width="content" if isinstance(chart, alt.ConcatChart | alt.HConcatChart)
                            else "stretch")
            caption = captions.get(title)
            if caption:
                st.caption(caption)
    with tabs[-1]:
        downloads(result, frames, key=key)


CPU_USED = (
    "*CPU used* = the CPU time all tasks' threads got ÷ (compute time × lanes), where a lane is one worker thread"
    " or process. 100 %: every lane computed the whole time. Under threads, fib's lanes were busy on paper but"
    " mostly **waiting for the GIL**; under processes each lane has its own interpreter and gets close to a full"
    " core (up to cores ÷ lanes when there are more lanes than cores); sleeping tasks show ~0 %: they wait, they"
    " don't compute.\n\nIt cannot say *why* a lane waited — the GIL, a sleep, I/O or another program on the same"
    " cores all look the same. The **GIL trace** page shows the GIL itself handing the interpreter from thread to"
    " thread."
)

CHART_CAPTIONS = {
    "Speed-up": "Dots: each engine's speed-up over the baseline, or for “a vs b” of a over b (the median of the"
                " per-round ratios); bars: its 95 %"
                " interval; grey band: the range that counts as “about the same”. A verdict is shown only where the"
                " whole interval says it.",
    "Runtime": "Bars: median wall time per round; dots: every round; whiskers: 95 % interval of a typical round."
               " Dashed line: the best this machine can do, from the shortest task any engine measured.",
    "Timeline": "One row per worker thread or process, one bar per task (each engine's median round). Pale bars spent"
                " most of their time waiting — for the GIL, or for their sleep to end.",
    "CPU share": "CPU time of each task's thread ÷ its wall time. ~100 %: it ran the whole time; ≪ 100 %: it waited.",
}


def downloads(result: Any, frames: dict[str, pd.DataFrame], *, key: str) -> None:
    """The result's frames as tables and CSVs (each row with the machine's columns), and its JSON."""
    m = result.machine
    names = [name for name, frame in frames.items() if isinstance(frame, pd.DataFrame) and not frame.empty]
    for name in names[:1]:
        st.dataframe(frames[name], hide_index=True)
    cols = st.columns(len(names) + 1)
    for col, name in zip(cols, names, strict=False):
        col.download_button(f"{name} (CSV)", with_machine(frames[name], m).to_csv(index=False),
                            file_name=f"gil-lab-{key}-{name}.csv", mime="text/csv", key=f"{key}-dl-{name}")
    cols[-1].download_button("everything (JSON)", result.to_json(indent=1), file_name=f"gil-lab-{key}.json",
                             mime="application/json", key=f"{key}-dl-json")
    if getattr(result, "kind", None) == "compare":  # the experiment itself, to run at home without the lab
        try:
            files = _take_home(result.run_id, result.rounds, f"gil-lab-{key}", result)
        except ValueError as exc:  # an engine with no example code
            st.caption(f"This comparison cannot be exported: {exc}.")
            return
        for col, f in zip(st.columns(len(files)), files, strict=True):
            col.download_button(f.label, f.data, file_name=f.file_name, mime=f.mime, key=f"{key}-dl-{f.file_name}",
                                icon=":material/download:")
        st.caption("The notebook and the script run this comparison on your own machine with plain Dask, nothing of"
                   " GIL Lab needed, and quote what this server measured for you to compare.")


@st.cache_data(max_entries=64, show_spinner=False)
def _take_home(run_id: str, rounds: int, stem: str, _result: Any) -> list[Any]:
    """The notebook and script of one measured comparison, built once (≈ 17 ms), not on every rerun of its page.

    A result never changes once measured: its run id and round count name it (``_result`` is not hashed).
    """
    from core.export import take_home

    return take_home(_result, stem)
