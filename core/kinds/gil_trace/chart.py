"""The GIL trace's chart: one lane per thread, a bar while it ran."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


# --- the chart -----------------------------------------------------------------------------------------

TRACE_COLUMNS = ["thread", "start_s", "end_s"]
TRACE_COLORS = ["#f28e2b", "#4e79a7", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f", "#bab0ac"]  # Tableau 10, orange first (threads sharing one GIL, as in every chart)


def merge_short_gaps(bars: pd.DataFrame, max_bars: int) -> tuple[pd.DataFrame, float]:
    """Fill in each lane's shortest gaps until at most ``max_bars`` bars remain.

    Returns the bars and the longest gap filled in (0 if none): thousands of sub-pixel bars would make
    the chart slow and no more readable, and the caption says what was filled in.
    """
    bars = bars.sort_values(["thread", "start_s"], kind="stable").reset_index(drop=True)
    if len(bars) <= max_bars:
        return bars, 0.0
    same_lane = bars["thread"].eq(bars["thread"].shift())
    gaps = (bars["start_s"] - bars["end_s"].shift()).where(same_lane)
    n_merge = len(bars) - max_bars
    known = gaps.dropna().sort_values(kind="stable")
    if known.empty:
        return bars, 0.0
    cut = float(known.iloc[min(n_merge, len(known)) - 1])
    new_bar = ~(same_lane & (gaps <= cut))
    merged = bars.groupby(new_bar.cumsum(), sort=False).agg(
        thread=("thread", "first"), start_s=("start_s", "min"), end_s=("end_s", "max"))
    return merged.reset_index(drop=True), cut


def gil_trace_chart(
    slices: pd.DataFrame,
    window_s: tuple[float, float] | None = None,
    max_bars: int = 3000,
    title: str | None = None,
) -> Any:
    """One lane per thread, a bar wherever that thread made progress.

    Parameters
    ----------
    slices : pandas.DataFrame
        Run bars with ``thread`` (1…N), ``start_s`` and ``end_s`` (seconds from the threads' start),
        as in :attr:`GilTrace.slices`.
    window_s : (float, float), optional
        Show only this time window (seconds); bars crossing its edges are cut at them. A 20–50 ms
        window shows individual GIL hand-overs of a 5 ms switch interval.
    max_bars : int, default 3000
        Above this many bars, each lane's shortest gaps are filled in (the subtitle says up to which
        length), so the chart stays fast; narrow the window to see every gap.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.Chart
        ``bar`` marks from ``start_ms`` (x) to ``end_ms`` (x2) on ``lane`` (y, ``thread 1`` …),
        coloured by lane, with a tooltip; the x axis zooms and pans with the mouse (a scale-bound
        interval selection).

    Raises
    ------
    ValueError
        If ``slices`` is empty or lacks a column, the window is not an increasing pair, or nothing
        falls inside it.
    """
    import altair as alt

    from core.report.palette import require

    require(slices, TRACE_COLUMNS, "slices")
    if isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < 1:
        raise ValueError(f"max_bars must be a positive integer (got {max_bars!r})")
    bars = slices[TRACE_COLUMNS].astype({"thread": "int64", "start_s": "float64", "end_s": "float64"})
    domain = None
    if window_s is not None:
        lo, hi = (float(v) for v in window_s)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"window_s must be two increasing finite times in seconds (got {window_s!r})")
        bars = bars[(bars["end_s"] > lo) & (bars["start_s"] < hi)].copy()
        if bars.empty:
            raise ValueError(f"no bars between {lo:g} s and {hi:g} s: there is nothing to chart")
        bars["start_s"] = bars["start_s"].clip(lower=lo)
        bars["end_s"] = bars["end_s"].clip(upper=hi)
        domain = [lo * 1000, hi * 1000]
    threads = sorted(int(t) for t in slices["thread"].unique())  # every lane, even one idle in the window
    bars, filled_s = merge_short_gaps(bars, max_bars)
    bars["lane"] = "thread " + bars["thread"].astype(str)
    bars["start_ms"] = bars["start_s"] * 1000
    bars["end_ms"] = bars["end_s"] * 1000
    bars["length_ms"] = bars["end_ms"] - bars["start_ms"]
    lanes = [f"thread {t}" for t in threads]
    colors = [TRACE_COLORS[i % len(TRACE_COLORS)] for i in range(len(lanes))]
    subtitle = (f"{len(bars)} bars; gaps up to {filled_s * 1000:.3g} ms filled in to keep the chart readable"
                " (narrow the window to see them)" if filled_s > 0 else
                "Bars: the thread made progress. Gaps: it waited. Scroll to zoom, drag to pan.")
    chart = alt.Chart(bars).mark_bar(cornerRadius=1).encode(
        x=alt.X("start_ms:Q", title="Time since the threads started (ms)",
                scale=alt.Scale(domain=domain, nice=False) if domain else alt.Scale(domainMin=0, nice=False)),
        x2="end_ms:Q",
        y=alt.Y("lane:N", sort=lanes, title=None, scale=alt.Scale(domain=lanes, paddingInner=0.25),
                axis=alt.Axis(labelLimit=120)),
        color=alt.Color("lane:N", scale=alt.Scale(domain=lanes, range=colors), legend=None),
        tooltip=[
            alt.Tooltip("lane:N", title="Thread"),
            alt.Tooltip("start_ms:Q", title="From (ms)", format=".2f"),
            alt.Tooltip("end_ms:Q", title="To (ms)", format=".2f"),
            alt.Tooltip("length_ms:Q", title="Ran for (ms)", format=".3~r"),
        ],
    ).properties(
        width="container", height=alt.Step(30),
        # Vega drops a subtitle whose title is empty, so there is always a title.
        title=alt.TitleParams(title or "When each thread made progress", subtitle=subtitle, anchor="start",
                              fontSize=13, subtitleColor="#555555"),
    )
    # A named selection (not ``.interactive()``, whose name is random): the same spec on every rerun.
    zoom = alt.selection_interval(bind="scales", encodings=["x"], name="gil_trace_zoom")
    return chart.add_params(zoom)

