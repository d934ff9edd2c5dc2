"""Altair chart builders shared by GIL Lab's kinds of measurement: the palette, the axes, and the charts of runs.

A chart that belongs to one kind lives with its kind (the GIL trace's lanes in
:mod:`core.kinds.gil_trace`, the scaling curves in :mod:`core.kinds.scaling`, …); what is here serves
several: runtime, speed-up, timeline and CPU-share charts of :mod:`core.measure.results` frames, the
schematic of the start page, and the helpers (:data:`ENGINE_COLORS`, :func:`engine_x`,
:func:`reference_line`, …) the kinds' own charts are built with.

Every builder is a pure function: it takes the tidy frames of :mod:`core.measure.results` (``runs``: one row
per measured repeat per engine; ``tasks``: one row per task per repeat per engine, several engines
stacked with :func:`core.measure.results.combine`), never modifies them, and returns an Altair chart
specification. Nothing here draws, saves or imports Streamlit, so the same charts serve the app, a
notebook and the tests (which inspect ``chart.to_dict()``).

Conventions shared by all charts:

* Engines keep the order in which they first appear in the frame (the order the user ran them).
* An engine has the same colour everywhere (:data:`ENGINE_COLORS`, from Tableau 10): warm colours
  for engines whose threads share one GIL, cool colours for engines with a GIL per process.
* Times are in seconds and say so on their axes; every mark carries a tooltip.
* Summary statistics are medians over repeats (or over tasks), computed here with pandas, so the
  numbers in a chart's data are the same ones :class:`core.measure.results.ExperimentResult` reports.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from core.fmt import times_brief as _fmt_speedup
from core.report.palette import (
    CPU_SHARE_COLUMNS,
    ENGINE_COLORS,
    INK,
    PERCENT,
    RUNTIME_COLUMNS,
    SECONDS,
    SECONDS_FINE,
    TIMELINE_COLUMNS,
    engine_bars,
    engine_order,
    engine_scale,
    engine_tips,
    engine_x,
    fmt_seconds,
    natural_key,
    pick_repeats,
    reference_line,
    require,
    runtime_summary,
)
from core.report.schematic import schematic_chart

__all__ = [
    "ENGINE_COLORS",
    "cpu_share_chart",
    "median_repeat_tasks",
    "runtime_chart",
    "schematic_chart",
    "speedup_chart",
    "timeline_chart",
]


# --- public builders -------------------------------------------------------------------------------


def median_repeat_tasks(runs: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """The task rows of each run's median-wall repeat.

    For every ``run_id`` the repeats in ``runs`` are sorted by ``wall_s`` (ties by ``repeat``) and the
    middle one is kept; with an even number of repeats the lower middle one, exactly like
    :attr:`core.measure.results.ExperimentResult.median_repeat`. A timeline of that repeat is a typical
    picture rather than the luckiest or the unluckiest one.

    Parameters
    ----------
    runs : pandas.DataFrame
        Runs frame with at least ``run_id``, ``repeat`` and ``wall_s``.
    tasks : pandas.DataFrame
        Tasks frame with at least ``run_id`` and ``repeat``.

    Returns
    -------
    pandas.DataFrame
        A copy of the matching rows of ``tasks``, in their original order and with their original
        index. A run whose ``run_id`` is not in ``runs``, or whose median repeat is not among the rows
        of ``tasks``, keeps its lowest repeat instead.

    Raises
    ------
    ValueError
        If a frame is empty or lacks a required column.
    """
    require(runs, ["run_id", "repeat", "wall_s"], "runs")
    require(tasks, ["run_id", "repeat"], "tasks")
    chosen: dict[object, int] = {}
    for run_id, group in runs.groupby("run_id", sort=False):
        order = group.sort_values(["wall_s", "repeat"], kind="stable")["repeat"].tolist()
        chosen[run_id] = int(order[(len(order) - 1) // 2])
    return pick_repeats(tasks, chosen)


def runtime_chart(runs: pd.DataFrame, ideal_s: float | None = None, title: str | None = None) -> alt.LayerChart:
    """Wall time by engine: median bar, min–max error bar, every repeat as a point.

    Parameters
    ----------
    runs : pandas.DataFrame
        Runs frame (one row per repeat per engine) with ``engine``, ``repeat``, ``wall_s``,
        ``startup_s``, ``compute_s`` and ``teardown_s``.
    ideal_s : float, optional
        The best wall time this machine could manage (e.g. a comparison's ``ideal_s``).
        When given, a dashed horizontal rule labelled "ideal on this machine: X s" marks it.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Layers: ``bar`` (median ``wall_s`` per engine, coloured by engine; the tooltip adds the
        median start-up and compute phases and the number of repeats), ``errorbar`` (min..max over
        repeats), ``circle`` (each repeat), and, with ``ideal_s``, a dashed ``rule`` and its ``text``.
        Width follows the container.

    Raises
    ------
    ValueError
        If ``runs`` is empty or lacks a column, or ``ideal_s`` is negative or not finite.
    """
    require(runs, RUNTIME_COLUMNS, "runs")
    order = engine_order(runs)
    summary = runtime_summary(runs)
    y_title = "Wall time (s)"
    x = engine_x(order)

    bars = engine_bars(summary, x, alt.Y("wall_median_s:Q", title=y_title), order, [
        ("wall_median_s:Q", "Median wall (s)", SECONDS), ("startup_median_s:Q", "Median start-up (s)", SECONDS),
        ("compute_median_s:Q", "Median compute (s)", SECONDS), ("teardown_median_s:Q", "Median teardown (s)", SECONDS),
        ("repeats:Q", "Repeats", None)])
    spread = alt.Chart(summary).mark_errorbar(ticks=True, color=INK, thickness=1.5).encode(
        x=x,
        y=alt.Y("wall_min_s:Q", title=y_title),
        y2="wall_max_s:Q",
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("wall_min_s:Q", title="Fastest repeat (s)", format=SECONDS),
            alt.Tooltip("wall_max_s:Q", title="Slowest repeat (s)", format=SECONDS),
        ],
    )
    repeats = runs[RUNTIME_COLUMNS].assign(engine=runs["engine"].astype(str))
    points = alt.Chart(repeats).mark_circle(size=30, color=INK, opacity=0.75).encode(
        x=x,
        y=alt.Y("wall_s:Q", title=y_title),
        tooltip=engine_tips([("repeat:Q", "Repeat", None), ("wall_s:Q", "Wall (s)", SECONDS),
                             ("startup_s:Q", "Start-up (s)", SECONDS), ("compute_s:Q", "Compute (s)", SECONDS),
                             ("teardown_s:Q", "Teardown (s)", SECONDS)]),
    )
    layers: list[alt.Chart] = [bars, spread, points]

    if ideal_s is not None:
        if not math.isfinite(ideal_s) or ideal_s < 0:
            raise ValueError(f"ideal_s must be a finite number of seconds ≥ 0 (got {ideal_s!r})")
        ideal = pd.DataFrame({"ideal_s": [float(ideal_s)],
                              "label": [f"ideal on this machine: {fmt_seconds(ideal_s)} s"]})
        tooltip = [alt.Tooltip("label:N", title="Reference"),
                   alt.Tooltip("ideal_s:Q", title="Ideal wall (s)", format=SECONDS)]
        layers.extend(reference_line(ideal, "ideal_s", y_title, tooltip))

    chart = alt.layer(*layers).properties(width="container", height=320)
    return chart.properties(title=title) if title else chart


def speedup_chart(runs: pd.DataFrame, baseline: str = "sync", title: str | None = None) -> alt.LayerChart:
    """Speed-up of each engine over a baseline: median wall of the baseline ÷ median wall of the engine.

    Parameters
    ----------
    runs : pandas.DataFrame
        Runs frame with ``scheduler``, ``engine`` and ``wall_s``.
    baseline : str, default "sync"
        The scheduler (``"sync"``, ``"threads"``, …) or engine label to compare against. Its median
        wall is taken over all of its rows.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Layers: ``bar`` (``speedup`` per engine, coloured by engine), ``text`` labels such as
        ``2.0×`` above the bars, a dashed ``rule`` at 1.0 and its ``text`` "same as <baseline>".
        Tooltips give both medians. Width follows the container.

    Raises
    ------
    ValueError
        If ``runs`` is empty or lacks a column, or has no row for ``baseline``.
    """
    require(runs, ["scheduler", "engine", "repeat", "wall_s", "startup_s", "compute_s", "teardown_s"], "runs")
    is_base = (runs["scheduler"] == baseline) | (runs["engine"] == baseline)
    if not is_base.any():
        present = ", ".join(str(s) for s in dict.fromkeys(runs["scheduler"]))
        raise ValueError(
            f"no {baseline!r} runs to compare against (schedulers present: {present}); "
            f"run {baseline!r} too, or pick another baseline"
        )
    base_wall = float(runs.loc[is_base, "wall_s"].median())
    order = engine_order(runs)
    summary = runtime_summary(runs)
    summary["baseline_median_s"] = base_wall
    summary["speedup"] = (base_wall / summary["wall_median_s"]).where(summary["wall_median_s"] > 0)
    summary["label"] = summary["speedup"].map(_fmt_speedup)
    x = engine_x(order)
    y_title = f"Speed-up over {baseline} (×)"
    tooltip = [
        alt.Tooltip("engine:N", title="Engine"),
        alt.Tooltip("label:N", title="Speed-up"),
        alt.Tooltip("wall_median_s:Q", title="Median wall (s)", format=SECONDS),
        alt.Tooltip("baseline_median_s:Q", title=f"Median wall of {baseline} (s)", format=SECONDS),
        alt.Tooltip("repeats:Q", title="Repeats"),
    ]
    base = alt.Chart(summary)
    bars = base.mark_bar().encode(
        x=x,
        y=alt.Y("speedup:Q", title=y_title),
        color=alt.Color("engine:N", scale=engine_scale(order), legend=None),
        tooltip=tooltip,
    )
    labels = base.mark_text(baseline="bottom", dy=-4, fontWeight="bold", color=INK).encode(
        x=x, y=alt.Y("speedup:Q", title=y_title), text="label:N", tooltip=tooltip)
    one = pd.DataFrame({"speedup": [1.0], "label": [f"same as {baseline}"]})
    one_tooltip = [alt.Tooltip("label:N", title="Reference"), alt.Tooltip("speedup:Q", title="Speed-up", format=".1f")]
    reference = reference_line(one, "speedup", y_title, one_tooltip, align="right")
    chart = alt.layer(bars, labels, *reference).properties(width="container", height=320)
    return chart.properties(title=title) if title else chart


def cpu_share_chart(tasks: pd.DataFrame, title: str | None = None) -> alt.LayerChart:
    """How much of its run time each task spent on a CPU, per engine.

    A pure-Python task on ``threads`` holds the GIL only part of the time, so its CPU share is about
    1 ÷ threads; the same task in its own process runs the whole time (≈ 100 %). Sleeping tasks and
    tasks waiting on I/O are near 0 % on every engine.

    Parameters
    ----------
    tasks : pandas.DataFrame
        Tasks frame with ``engine``, ``repeat``, ``task``, ``wall_s``, ``cpu_s``, ``cpu_share`` (``cpu_s``
        ÷ ``wall_s``, NaN for tasks too short to time) and ``lane``. All rows are used.

    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Layers: ``bar`` (median ``cpu_share`` of the engine's tasks, NaN skipped, coloured by engine),
        ``circle`` (each task with a share, spread across the bar), a dashed ``rule`` at 100 % and its
        ``text`` "running the whole time". The y axis is a percentage. Width follows the container.

    Raises
    ------
    ValueError
        If ``tasks`` is empty or lacks a column.
    """
    require(tasks, CPU_SHARE_COLUMNS, "tasks")
    order = engine_order(tasks)
    y_title = "CPU share of task time (%)"
    summary = (
        tasks.groupby("engine", sort=False)
        .agg(median_share=("cpu_share", "median"), timed_tasks=("cpu_share", "count"),
             median_cpu_s=("cpu_s", "median"), median_wall_s=("wall_s", "median"))
        .reset_index()
    )
    summary["engine"] = summary["engine"].astype(str)
    points = tasks.loc[tasks["cpu_share"].notna(), CPU_SHARE_COLUMNS].copy()
    points["engine"] = points["engine"].astype(str)
    # Spread each engine's points evenly over the middle of its bar so that equal shares stay visible.
    rank = points.groupby("engine", sort=False).cumcount()
    count = points.groupby("engine", sort=False)["task"].transform("size")
    points["spread"] = 0.2 + 0.6 * (rank + 0.5) / count
    x = engine_x(order)
    y = alt.Y("median_share:Q", title=y_title, axis=alt.Axis(format="%"), scale=alt.Scale(domainMin=0))

    bars = engine_bars(summary, x, y, order, [
        ("median_share:Q", "Median CPU share", PERCENT), ("median_cpu_s:Q", "Median task CPU (s)", SECONDS),
        ("median_wall_s:Q", "Median task wall (s)", SECONDS), ("timed_tasks:Q", "Tasks", None)])
    dots = alt.Chart(points).mark_circle(size=26, color=INK, opacity=0.7).encode(
        x=x,
        xOffset=alt.XOffset("spread:Q", scale=alt.Scale(domain=[0, 1], zero=False, nice=False), title=None),
        y=alt.Y("cpu_share:Q", title=y_title),
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("task:Q", title="Task"),
            alt.Tooltip("repeat:Q", title="Repeat"),
            alt.Tooltip("lane:N", title="Ran on"),
            alt.Tooltip("cpu_share:Q", title="CPU share", format=PERCENT),
            alt.Tooltip("cpu_s:Q", title="CPU (s)", format=SECONDS),
            alt.Tooltip("wall_s:Q", title="Wall (s)", format=SECONDS),
        ],
    )
    full = pd.DataFrame({"share": [1.0], "label": ["running the whole time"]})
    full_tooltip = [alt.Tooltip("label:N", title="Reference"),
                    alt.Tooltip("share:Q", title="CPU share", format=PERCENT)]
    # An independent xOffset scale keeps the bars band-wide (a shared one would shrink them).
    chart = alt.layer(bars, dots, *reference_line(full, "share", y_title, full_tooltip)).resolve_scale(
        xOffset="independent").properties(width="container", height=320)
    return chart.properties(title=title) if title else chart


def timeline_chart(
    tasks: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    title: str | None = None,
    width: int = 520,
) -> alt.FacetChart:
    """Per-task Gantt chart: when each task ran, and on which thread or process, one row per engine.

    Parameters
    ----------
    tasks : pandas.DataFrame
        Tasks frame with ``run_id``, ``engine``, ``repeat``, ``task``, ``start_s``, ``end_s``,
        ``wall_s``, ``cpu_s``, ``cpu_share``, ``pid`` and ``lane``.
    runs : pandas.DataFrame, optional
        Runs frame of the same runs. When given, each run shows its median-wall repeat
        (:func:`median_repeat_tasks`); otherwise its lowest repeat present (repeat 0 normally).
    title : str, optional
        Chart title; none by default.
    width : int, default 520
        Width of the plot area in pixels (the lane labels add about 150); a faceted chart cannot
        follow its container's width.

    Returns
    -------
    altair.FacetChart
        ``bar`` marks from ``start_s`` (x) to ``end_s`` (x2) on ``lane`` (y, one row per worker thread
        or process, naturally sorted), coloured by ``task``; the bar's opacity is the task's CPU share
        (domain 0..1 → opacity 0.35..1), so a task that mostly waited for the GIL looks pale. Faceted
        in rows by ``engine`` with an independent y scale, so each engine lists only its own lanes;
        the x scale is shared so durations compare across engines.

    Raises
    ------
    ValueError
        If a frame is empty or lacks a required column.
    """
    require(tasks, TIMELINE_COLUMNS, "tasks")
    shown = median_repeat_tasks(runs, tasks) if runs is not None else pick_repeats(tasks, {})
    shown = shown[TIMELINE_COLUMNS].copy()
    shown["engine"] = shown["engine"].astype(str)
    shown["lane"] = shown["lane"].astype(str)
    order = engine_order(shown)
    lanes = sorted(set(shown["lane"]), key=natural_key)
    shown["lane_order"] = shown["lane"].map({lane: k for k, lane in enumerate(lanes)})
    # Tasks too short to time have no share: draw them solid rather than as if they had waited.
    shown["cpu_share_shown"] = shown["cpu_share"].clip(0, 1).fillna(1.0)

    bars = alt.Chart(shown).mark_bar(stroke="white", strokeWidth=0.75, cornerRadius=2).encode(
        x=alt.X("start_s:Q", title="Seconds since compute started", scale=alt.Scale(domainMin=0)),
        x2="end_s:Q",
        y=alt.Y("lane:N", title=None, sort=alt.EncodingSortField("lane_order", op="min"),
                axis=alt.Axis(labelLimit=220)),
        color=alt.Color("task:N", scale=alt.Scale(scheme="dark2"),
                        legend=alt.Legend(title="Task", symbolLimit=24, orient="bottom", columns=12)),
        opacity=alt.Opacity("cpu_share_shown:Q", scale=alt.Scale(domain=[0, 1], range=[0.35, 1]),
                            legend=alt.Legend(title="CPU share of task time", format="%", orient="bottom",
                                              titleLimit=300)),
        tooltip=engine_tips([("task:Q", "Task", None), ("lane:N", "Ran on", None),
                             ("start_s:Q", "Start (s)", SECONDS_FINE), ("end_s:Q", "End (s)", SECONDS_FINE),
                             ("wall_s:Q", "Wall (s)", SECONDS), ("cpu_s:Q", "CPU (s)", SECONDS),
                             ("cpu_share:Q", "CPU share", PERCENT), ("pid:Q", "Process id", None),
                             ("repeat:Q", "Repeat", None)]),
    ).properties(width=width, height=alt.Step(24))
    chart = bars.facet(
        row=alt.Row("engine:N", sort=order, title=None,
                    header=alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start", labelAlign="left",
                                      labelFontWeight="bold", labelFontSize=12, labelPadding=4)),
        spacing=12,
    ).resolve_scale(y="independent")
    return chart.properties(title=title) if title else chart
