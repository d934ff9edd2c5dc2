"""Altair chart builders shared by GIL Lab's kinds of measurement: the palette, the axes, and the charts of runs.

A chart that belongs to one kind lives with its kind (the GIL trace's lanes in
:mod:`core.kinds.gil_trace`, the scaling curves in :mod:`core.kinds.scaling`, …); what is here serves
several: runtime, speed-up, timeline and CPU-share charts of :mod:`core.measure.results` frames, the
schematic of the start page, and the helpers (:data:`ENGINE_COLORS`, :func:`_engine_x`,
:func:`_reference_line`, …) the kinds' own charts are built with.

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
import re
from collections.abc import Iterable

import altair as alt
import pandas as pd

from core.fmt import times_brief as _fmt_speedup
from core.spec import SCHEDULER_LABELS

__all__ = [
    "ENGINE_COLORS",
    "cpu_share_chart",
    "median_repeat_tasks",
    "runtime_chart",
    "schematic_chart",
    "speedup_chart",
    "timeline_chart",
]

ENGINE_COLORS: dict[str, str] = {
    SCHEDULER_LABELS["sync"]: "#79706e",  # grey: the baseline
    SCHEDULER_LABELS["threads"]: "#f28e2b",  # orange: threads sharing one GIL
    SCHEDULER_LABELS["processes"]: "#4e79a7",  # blue: one GIL per process
    SCHEDULER_LABELS["cluster-threads"]: "#e15759",  # red: worker threads in one process
    SCHEDULER_LABELS["cluster-processes"]: "#76b7b2",  # teal: worker processes
    SCHEDULER_LABELS["external"]: "#b07aa1",  # purple: someone else's cluster
    # Beyond Dask, in the same code: warm for threads of one process, cool for a GIL per process.
    SCHEDULER_LABELS["futures-threads"]: "#edc948",  # yellow
    SCHEDULER_LABELS["joblib-threads"]: "#ff9da7",  # pink
    SCHEDULER_LABELS["futures-processes"]: "#59a14f",  # green
    SCHEDULER_LABELS["multiprocessing"]: "#a0cbe8",  # light blue (Tableau 20)
    SCHEDULER_LABELS["joblib-loky"]: "#499894",  # dark teal (Tableau 20)
}
"""Engine label (:data:`core.spec.SCHEDULER_LABELS`) → hex colour, the same in every chart."""

# Further Tableau colours, none of them in ENGINE_COLORS, for other engine labels (cycled in order of appearance).
_SPARE_COLORS = ["#9c755f", "#bab0ac", "#d37295", "#b6992d", "#8cd17d"]

_INK = "#333333"  # error bars, repeat points, reference rules
_SECONDS = ".3~r"  # d3 format: three significant digits, no exponent (0.0381, 12.3, 1230)
_SECONDS_FINE = ".4~r"
_PERCENT = ".0%"

# Long engine labels ("LocalCluster processes=False") break at their first space on the x axis.
_WRAP_AT_FIRST_SPACE = (
    "indexof(datum.label, ' ') > 0"
    " ? [slice(datum.label, 0, indexof(datum.label, ' ')), slice(datum.label, indexof(datum.label, ' ') + 1)]"
    " : datum.label"
)

_RUNTIME_COLUMNS = ["engine", "repeat", "wall_s", "startup_s", "compute_s", "teardown_s"]
_TIMELINE_COLUMNS = ["run_id", "engine", "repeat", "task", "start_s", "end_s", "wall_s", "cpu_s", "cpu_share",
                     "pid", "lane"]
_CPU_SHARE_COLUMNS = ["engine", "repeat", "task", "wall_s", "cpu_s", "cpu_share", "lane"]


# --- helpers ---------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` if ``frame`` is empty or lacks any of ``columns``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the {what} frame is missing column(s): {', '.join(missing)}")
    if frame.empty:
        raise ValueError(f"the {what} frame is empty: there is nothing to chart")


def _engine_order(frame: pd.DataFrame) -> list[str]:
    """Engine labels in order of first appearance."""
    return [str(e) for e in dict.fromkeys(frame["engine"])]


def _by_engine(frame: pd.DataFrame, columns: Iterable[str], what: str) -> tuple[pd.DataFrame, list[str]]:
    """A checked copy of ``frame`` to draw (engine labels as text) and its engines in order of appearance."""
    _require(frame, columns, what)
    data = frame.copy()
    data["engine"] = data["engine"].astype(str)
    return data, _engine_order(data)


def _engine_scale(engines: list[str]) -> alt.Scale:
    """Colour scale giving each engine its :data:`ENGINE_COLORS` colour (spares for unknown labels)."""
    spare = iter(_SPARE_COLORS * (len(engines) // len(_SPARE_COLORS) + 1))
    return alt.Scale(domain=engines, range=[ENGINE_COLORS.get(e) or next(spare) for e in engines])


def _engine_x(order: list[str]) -> alt.X:
    return alt.X(
        "engine:N",
        sort=order,
        title=None,
        scale=alt.Scale(paddingInner=0.3, paddingOuter=0.2),
        axis=alt.Axis(labelAngle=0, labelExpr=_WRAP_AT_FIRST_SPACE, labelLimit=220, labelPadding=6),
    )


def _reference_line(
    frame: pd.DataFrame, field: str, y_title: str, tooltip: list[alt.Tooltip], align: str = "left"
) -> list[alt.Chart]:
    """A dashed horizontal rule at ``frame[field]`` with ``frame["label"]`` written above it.

    The label is drawn twice, first with a thick white outline, so it stays readable over a bar.
    """
    base = alt.Chart(frame)
    y = alt.Y(f"{field}:Q", title=y_title)
    x = alt.value(0) if align == "left" else alt.value("width")
    dx = 4 if align == "left" else -4
    text = {"align": align, "baseline": "bottom", "dx": dx, "dy": -3}
    return [
        base.mark_rule(strokeDash=[6, 4], color=_INK, strokeWidth=1.5).encode(y=y, tooltip=tooltip),
        base.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round", opacity=0.85).encode(
            y=y, x=x, text="label:N", tooltip=tooltip),
        base.mark_text(**text, color=_INK).encode(y=y, x=x, text="label:N", tooltip=tooltip),
    ]


def _fmt_seconds(seconds: float) -> str:
    """Seconds with about three significant digits and no exponent for everyday values."""
    if seconds == 0:
        return "0"
    if abs(seconds) >= 100:
        return f"{seconds:.0f}"
    if abs(seconds) >= 1e-3:
        return f"{seconds:.3g}"
    return f"{seconds:.1e}"


def _runtime_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per engine (in order of appearance): median/min/max wall, median phases, repeats."""
    grouped = runs.groupby("engine", sort=False)
    summary = grouped.agg(
        wall_median_s=("wall_s", "median"),
        wall_min_s=("wall_s", "min"),
        wall_max_s=("wall_s", "max"),
        startup_median_s=("startup_s", "median"),
        compute_median_s=("compute_s", "median"),
        teardown_median_s=("teardown_s", "median"),
        repeats=("wall_s", "count"),
    ).reset_index()
    summary["engine"] = summary["engine"].astype(str)
    return summary


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``process 2`` before ``process 10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _pick_repeats(tasks: pd.DataFrame, chosen: dict[object, int]) -> pd.DataFrame:
    """Rows of ``tasks`` whose repeat is ``chosen[run_id]``; the lowest present repeat otherwise.

    The fallback also applies when the chosen repeat is not among the rows of ``tasks`` (the caller
    already passed a single, different repeat), so an engine never silently disappears.
    """
    keep = pd.Series(False, index=tasks.index)
    for run_id, group in tasks.groupby("run_id", sort=False):
        present = set(group["repeat"].tolist())
        repeat = chosen.get(run_id)
        if repeat is None or repeat not in present:
            repeat = min(present)
        keep.loc[group.index[group["repeat"] == repeat]] = True
    return tasks.loc[keep].copy()


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
    _require(runs, ["run_id", "repeat", "wall_s"], "runs")
    _require(tasks, ["run_id", "repeat"], "tasks")
    chosen: dict[object, int] = {}
    for run_id, group in runs.groupby("run_id", sort=False):
        order = group.sort_values(["wall_s", "repeat"], kind="stable")["repeat"].tolist()
        chosen[run_id] = int(order[(len(order) - 1) // 2])
    return _pick_repeats(tasks, chosen)


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
    _require(runs, _RUNTIME_COLUMNS, "runs")
    order = _engine_order(runs)
    summary = _runtime_summary(runs)
    y_title = "Wall time (s)"
    x = _engine_x(order)

    bars = alt.Chart(summary).mark_bar().encode(
        x=x,
        y=alt.Y("wall_median_s:Q", title=y_title),
        color=alt.Color("engine:N", scale=_engine_scale(order), legend=None),
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("wall_median_s:Q", title="Median wall (s)", format=_SECONDS),
            alt.Tooltip("startup_median_s:Q", title="Median start-up (s)", format=_SECONDS),
            alt.Tooltip("compute_median_s:Q", title="Median compute (s)", format=_SECONDS),
            alt.Tooltip("teardown_median_s:Q", title="Median teardown (s)", format=_SECONDS),
            alt.Tooltip("repeats:Q", title="Repeats"),
        ],
    )
    spread = alt.Chart(summary).mark_errorbar(ticks=True, color=_INK, thickness=1.5).encode(
        x=x,
        y=alt.Y("wall_min_s:Q", title=y_title),
        y2="wall_max_s:Q",
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("wall_min_s:Q", title="Fastest repeat (s)", format=_SECONDS),
            alt.Tooltip("wall_max_s:Q", title="Slowest repeat (s)", format=_SECONDS),
        ],
    )
    repeats = runs[_RUNTIME_COLUMNS].assign(engine=runs["engine"].astype(str))
    points = alt.Chart(repeats).mark_circle(size=30, color=_INK, opacity=0.75).encode(
        x=x,
        y=alt.Y("wall_s:Q", title=y_title),
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("repeat:Q", title="Repeat"),
            alt.Tooltip("wall_s:Q", title="Wall (s)", format=_SECONDS),
            alt.Tooltip("startup_s:Q", title="Start-up (s)", format=_SECONDS),
            alt.Tooltip("compute_s:Q", title="Compute (s)", format=_SECONDS),
            alt.Tooltip("teardown_s:Q", title="Teardown (s)", format=_SECONDS),
        ],
    )
    layers: list[alt.Chart] = [bars, spread, points]

    if ideal_s is not None:
        if not math.isfinite(ideal_s) or ideal_s < 0:
            raise ValueError(f"ideal_s must be a finite number of seconds ≥ 0 (got {ideal_s!r})")
        ideal = pd.DataFrame({"ideal_s": [float(ideal_s)],
                              "label": [f"ideal on this machine: {_fmt_seconds(ideal_s)} s"]})
        tooltip = [alt.Tooltip("label:N", title="Reference"),
                   alt.Tooltip("ideal_s:Q", title="Ideal wall (s)", format=_SECONDS)]
        layers.extend(_reference_line(ideal, "ideal_s", y_title, tooltip))

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
    _require(runs, ["scheduler", "engine", "repeat", "wall_s", "startup_s", "compute_s", "teardown_s"], "runs")
    is_base = (runs["scheduler"] == baseline) | (runs["engine"] == baseline)
    if not is_base.any():
        present = ", ".join(str(s) for s in dict.fromkeys(runs["scheduler"]))
        raise ValueError(
            f"no {baseline!r} runs to compare against (schedulers present: {present}); "
            f"run {baseline!r} too, or pick another baseline"
        )
    base_wall = float(runs.loc[is_base, "wall_s"].median())
    order = _engine_order(runs)
    summary = _runtime_summary(runs)
    summary["baseline_median_s"] = base_wall
    summary["speedup"] = (base_wall / summary["wall_median_s"]).where(summary["wall_median_s"] > 0)
    summary["label"] = summary["speedup"].map(_fmt_speedup)
    x = _engine_x(order)
    y_title = f"Speed-up over {baseline} (×)"
    tooltip = [
        alt.Tooltip("engine:N", title="Engine"),
        alt.Tooltip("label:N", title="Speed-up"),
        alt.Tooltip("wall_median_s:Q", title="Median wall (s)", format=_SECONDS),
        alt.Tooltip("baseline_median_s:Q", title=f"Median wall of {baseline} (s)", format=_SECONDS),
        alt.Tooltip("repeats:Q", title="Repeats"),
    ]
    base = alt.Chart(summary)
    bars = base.mark_bar().encode(
        x=x,
        y=alt.Y("speedup:Q", title=y_title),
        color=alt.Color("engine:N", scale=_engine_scale(order), legend=None),
        tooltip=tooltip,
    )
    labels = base.mark_text(baseline="bottom", dy=-4, fontWeight="bold", color=_INK).encode(
        x=x, y=alt.Y("speedup:Q", title=y_title), text="label:N", tooltip=tooltip)
    one = pd.DataFrame({"speedup": [1.0], "label": [f"same as {baseline}"]})
    one_tooltip = [alt.Tooltip("label:N", title="Reference"), alt.Tooltip("speedup:Q", title="Speed-up", format=".1f")]
    reference = _reference_line(one, "speedup", y_title, one_tooltip, align="right")
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
    _require(tasks, _CPU_SHARE_COLUMNS, "tasks")
    order = _engine_order(tasks)
    y_title = "CPU share of task time (%)"
    summary = (
        tasks.groupby("engine", sort=False)
        .agg(median_share=("cpu_share", "median"), timed_tasks=("cpu_share", "count"),
             median_cpu_s=("cpu_s", "median"), median_wall_s=("wall_s", "median"))
        .reset_index()
    )
    summary["engine"] = summary["engine"].astype(str)
    points = tasks.loc[tasks["cpu_share"].notna(), _CPU_SHARE_COLUMNS].copy()
    points["engine"] = points["engine"].astype(str)
    # Spread each engine's points evenly over the middle of its bar so that equal shares stay visible.
    rank = points.groupby("engine", sort=False).cumcount()
    count = points.groupby("engine", sort=False)["task"].transform("size")
    points["spread"] = 0.2 + 0.6 * (rank + 0.5) / count
    x = _engine_x(order)
    y = alt.Y("median_share:Q", title=y_title, axis=alt.Axis(format="%"), scale=alt.Scale(domainMin=0))

    bars = alt.Chart(summary).mark_bar().encode(
        x=x,
        y=y,
        color=alt.Color("engine:N", scale=_engine_scale(order), legend=None),
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("median_share:Q", title="Median CPU share", format=_PERCENT),
            alt.Tooltip("median_cpu_s:Q", title="Median task CPU (s)", format=_SECONDS),
            alt.Tooltip("median_wall_s:Q", title="Median task wall (s)", format=_SECONDS),
            alt.Tooltip("timed_tasks:Q", title="Tasks"),
        ],
    )
    dots = alt.Chart(points).mark_circle(size=26, color=_INK, opacity=0.7).encode(
        x=x,
        xOffset=alt.XOffset("spread:Q", scale=alt.Scale(domain=[0, 1], zero=False, nice=False), title=None),
        y=alt.Y("cpu_share:Q", title=y_title),
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("task:Q", title="Task"),
            alt.Tooltip("repeat:Q", title="Repeat"),
            alt.Tooltip("lane:N", title="Ran on"),
            alt.Tooltip("cpu_share:Q", title="CPU share", format=_PERCENT),
            alt.Tooltip("cpu_s:Q", title="CPU (s)", format=_SECONDS),
            alt.Tooltip("wall_s:Q", title="Wall (s)", format=_SECONDS),
        ],
    )
    full = pd.DataFrame({"share": [1.0], "label": ["running the whole time"]})
    full_tooltip = [alt.Tooltip("label:N", title="Reference"),
                    alt.Tooltip("share:Q", title="CPU share", format=_PERCENT)]
    # An independent xOffset scale keeps the bars band-wide (a shared one would shrink them).
    chart = alt.layer(bars, dots, *_reference_line(full, "share", y_title, full_tooltip)).resolve_scale(
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
    _require(tasks, _TIMELINE_COLUMNS, "tasks")
    shown = median_repeat_tasks(runs, tasks) if runs is not None else _pick_repeats(tasks, {})
    shown = shown[_TIMELINE_COLUMNS].copy()
    shown["engine"] = shown["engine"].astype(str)
    shown["lane"] = shown["lane"].astype(str)
    order = _engine_order(shown)
    lanes = sorted(set(shown["lane"]), key=_natural_key)
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
        tooltip=[
            alt.Tooltip("engine:N", title="Engine"),
            alt.Tooltip("task:Q", title="Task"),
            alt.Tooltip("lane:N", title="Ran on"),
            alt.Tooltip("start_s:Q", title="Start (s)", format=_SECONDS_FINE),
            alt.Tooltip("end_s:Q", title="End (s)", format=_SECONDS_FINE),
            alt.Tooltip("wall_s:Q", title="Wall (s)", format=_SECONDS),
            alt.Tooltip("cpu_s:Q", title="CPU (s)", format=_SECONDS),
            alt.Tooltip("cpu_share:Q", title="CPU share", format=_PERCENT),
            alt.Tooltip("pid:Q", title="Process id"),
            alt.Tooltip("repeat:Q", title="Repeat"),
        ],
    ).properties(width=width, height=alt.Step(24))
    chart = bars.facet(
        row=alt.Row("engine:N", sort=order, title=None,
                    header=alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start", labelAlign="left",
                                      labelFontWeight="bold", labelFontSize=12, labelPadding=4)),
        spacing=12,
    ).resolve_scale(y="independent")
    return chart.properties(title=title) if title else chart


# --- the schematic ---------------------------------------------------------------------------------

_SCHEMATIC_KINDS = ["process", "thread", "GIL"]
_SCHEMATIC_FILL = ["#dce6f1", "#f28e2b", "#e15759"]
_SCHEMATIC_STROKE = ["#4e79a7", "#b85f12", "#a2282f"]
_SCHEMATIC_ABOUT = {
    "process": "An interpreter with its own memory and its own GIL",
    "thread": "Runs Python bytecode only while it holds its process's GIL",
    "GIL": "Global interpreter lock: one thread of this process runs Python at a time",
}
_PANEL_W = 330
_MARGIN = 8
_GAP = 8


def _box(panel: str, kind: str, x: float, y: float, w: float, h: float, label: str,
         label_y: float | None = None) -> dict[str, object]:
    return {"panel": panel, "kind": kind, "x": x, "x2": x + w, "y": y, "y2": y + h, "label": label,
            "label_x": x + w / 2, "label_y": y + h / 2 if label_y is None else label_y,
            "about": _SCHEMATIC_ABOUT.get(kind, "")}


def _schematic_frame(n: int) -> tuple[pd.DataFrame, float, list[str]]:
    """Boxes (and captions, kind ``note``) of both panels, in pixels from the top-left corner."""
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    inner = _PANEL_W - 2 * _MARGIN
    left, right = "left", "right"
    boxes: list[dict[str, object]] = []

    # Left: one process box holding n threads and a single shared GIL.
    pad, head, thread_h, gil_w, gil_h = 14, 28, 32, 96, 28
    thread_w = min((inner - 2 * pad - (cols - 1) * _GAP) / cols, 96)
    thread_x0 = _PANEL_W / 2 - (cols * thread_w + (cols - 1) * _GAP) / 2  # centre the grid
    threads_h = rows * thread_h + (rows - 1) * _GAP
    process_h = head + threads_h + 18 + gil_h + 14
    boxes.append(_box(left, "process", _MARGIN, _MARGIN, inner, process_h, "process", label_y=_MARGIN + 15))
    for k in range(n):
        r, c = divmod(k, cols)
        boxes.append(_box(left, "thread", thread_x0 + c * (thread_w + _GAP), _MARGIN + head + r * (thread_h + _GAP),
                          thread_w, thread_h, f"thread {k + 1}"))
    gil_y = _MARGIN + head + threads_h + 18
    boxes.append(_box(left, "GIL", _PANEL_W / 2 - gil_w / 2, gil_y, gil_w, gil_h, "GIL (shared)"))
    left_bottom = _MARGIN + process_h

    # Right: n process boxes, each with one thread and its own GIL.
    cell_w = min((inner - (cols - 1) * _GAP) / cols, 96)
    cell_x0 = _PANEL_W / 2 - (cols * cell_w + (cols - 1) * _GAP) / 2
    cell_head, cell_thread_h, cell_gil_h, cell_pad = 24, 28, 24, 6
    cell_h = cell_head + cell_thread_h + 6 + cell_gil_h + cell_pad
    for k in range(n):
        r, c = divmod(k, cols)
        x = cell_x0 + c * (cell_w + _GAP)
        y = _MARGIN + r * (cell_h + _GAP)
        boxes.append(_box(right, "process", x, y, cell_w, cell_h, f"process {k + 1}", label_y=y + 13))
        boxes.append(_box(right, "thread", x + cell_pad, y + cell_head, cell_w - 2 * cell_pad, cell_thread_h, "thread"))
        boxes.append(_box(right, "GIL", x + cell_pad, y + cell_head + cell_thread_h + 6, cell_w - 2 * cell_pad,
                          cell_gil_h, "GIL"))
    right_bottom = _MARGIN + rows * cell_h + (rows - 1) * _GAP

    caption_y = max(left_bottom, right_bottom) + 18
    captions = {left: "one thread at a time runs Python",
                right: "all of them run Python at once" if n > 1 else "it runs Python on its own"}
    for panel, text in captions.items():
        boxes.append({"panel": panel, "kind": "note", "x": None, "x2": None, "y": None, "y2": None, "label": text,
                      "label_x": _PANEL_W / 2, "label_y": caption_y, "about": text})
    height = caption_y + 12
    titles = [
        f"One process, {n} thread{'s' if n != 1 else ''} (one GIL shared)",
        f"{n} process{'es' if n != 1 else ''}, one thread each (a GIL each)",
    ]
    return pd.DataFrame(boxes), height, titles


def schematic_chart(n: int = 4) -> alt.HConcatChart:
    """Threads versus processes as a diagram: who has to share a GIL.

    Left panel, "One process, N threads (one GIL shared)": a process box holding ``n`` thread boxes
    and a single GIL. Right panel, "N processes, one thread each (a GIL each)": ``n`` process boxes,
    each holding one thread and its own GIL. Boxes are labelled directly and coloured by kind
    (process pale blue, thread orange, GIL red); there are no axes, grid or view outline.

    Parameters
    ----------
    n : int, default 4
        Threads on the left, processes on the right (1 to 16; laid out four to a row).

    Returns
    -------
    altair.HConcatChart
        Two panels of ``rect`` (``x``/``x2``/``y``/``y2``, colour by ``kind``) and ``text`` layers over
        one shared data set with columns ``panel`` (``left``/``right``), ``kind`` (``process``,
        ``thread``, ``GIL`` or ``note`` for the caption), box corners in pixels and ``label``.
        About 700 px wide.

    Raises
    ------
    ValueError
        If ``n`` is not an integer from 1 to 16.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 16:
        raise ValueError(f"n must be an integer from 1 to 16 (got {n!r})")
    frame, height, titles = _schematic_frame(n)
    x_scale = alt.Scale(domain=[0, _PANEL_W], nice=False, zero=False)
    y_scale = alt.Scale(domain=[0, height], nice=False, zero=False, reverse=True)
    tooltip = [alt.Tooltip("label:N", title="Box"), alt.Tooltip("about:N", title="What it is")]

    def panel(name: str, panel_title: str) -> alt.LayerChart:
        rects = alt.Chart().transform_filter(
            (alt.datum.panel == name) & (alt.datum.kind != "note")
        ).mark_rect(strokeWidth=1.5, cornerRadius=4).encode(
            x=alt.X("x:Q", scale=x_scale, axis=None),
            x2="x2:Q",
            y=alt.Y("y:Q", scale=y_scale, axis=None),
            y2="y2:Q",
            color=alt.Color("kind:N", scale=alt.Scale(domain=_SCHEMATIC_KINDS, range=_SCHEMATIC_FILL), legend=None),
            stroke=alt.Stroke("kind:N", scale=alt.Scale(domain=_SCHEMATIC_KINDS, range=_SCHEMATIC_STROKE),
                              legend=None),
            tooltip=tooltip,
        )
        def labels(kind: str, **mark: object) -> alt.Chart:
            return alt.Chart().transform_filter(
                (alt.datum.panel == name) & (alt.datum.kind == kind)
            ).mark_text(fontSize=11, **mark).encode(
                x=alt.X("label_x:Q", scale=x_scale, axis=None),
                y=alt.Y("label_y:Q", scale=y_scale, axis=None),
                text="label:N",
                tooltip=tooltip,
            )

        texts = [
            labels("process", fontWeight="bold", color="#1f3b5c"),
            labels("thread", color="#222222"),
            labels("GIL", fontWeight="bold", color="white"),
            labels("note", fontStyle="italic", color="#555555"),
        ]
        return alt.layer(rects, *texts).properties(
            width=_PANEL_W, height=height, title=alt.TitleParams(panel_title, fontSize=13, anchor="middle"))

    chart = alt.hconcat(panel("left", titles[0]), panel("right", titles[1]), data=frame, spacing=24)
    return chart.resolve_scale(color="shared", stroke="shared").configure_view(strokeWidth=0)
