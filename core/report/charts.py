"""Altair chart builders for GIL Lab's results.

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

from core.measure.spec import SCHEDULER_LABELS
from core.report.explain import fmt_duration

__all__ = [
    "ENGINE_COLORS",
    "break_even_chart",
    "cpu_share_chart",
    "gil_trace_chart",
    "median_repeat_tasks",
    "per_task_overhead_chart",
    "runtime_chart",
    "scaling_chart",
    "schematic_chart",
    "speedup_chart",
    "startup_chart",
    "timeline_chart",
    "transfer_chart",
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
"""Engine label (:data:`core.measure.spec.SCHEDULER_LABELS`) → hex colour, the same in every chart."""

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


def _fmt_speedup(speedup: float) -> str:
    """``2.0×``, ``12×``, ``0.45×``: one decimal from 1 up, two significant digits below."""
    if not math.isfinite(speedup):
        return "n/a"
    if speedup >= 10:
        return f"{speedup:.0f}×"
    if speedup >= 0.995:
        return f"{speedup:.1f}×"
    return f"{speedup:.2g}×"


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
        The best wall time this machine could manage (e.g. from :func:`core.report.explain.ideal_seconds`).
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


# --- the GIL trace ---------------------------------------------------------------------------------

_TRACE_COLUMNS = ["thread", "start_s", "end_s"]
_TRACE_COLORS = ["#f28e2b", "#4e79a7", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                 "#9c755f", "#bab0ac"]  # Tableau 10, orange first (threads sharing one GIL, as above)


def _merge_short_gaps(bars: pd.DataFrame, max_bars: int) -> tuple[pd.DataFrame, float]:
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
) -> alt.Chart:
    """One lane per thread, a bar wherever that thread made progress (:mod:`core.kinds.gil_trace`).

    Parameters
    ----------
    slices : pandas.DataFrame
        Run bars with ``thread`` (1…N), ``start_s`` and ``end_s`` (seconds from the threads' start),
        as in :attr:`core.kinds.gil_trace.GilTrace.slices`.
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
    _require(slices, _TRACE_COLUMNS, "slices")
    if isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < 1:
        raise ValueError(f"max_bars must be a positive integer (got {max_bars!r})")
    bars = slices[_TRACE_COLUMNS].astype({"thread": "int64", "start_s": "float64", "end_s": "float64"})
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
    bars, filled_s = _merge_short_gaps(bars, max_bars)
    bars["lane"] = "thread " + bars["thread"].astype(str)
    bars["start_ms"] = bars["start_s"] * 1000
    bars["end_ms"] = bars["end_s"] * 1000
    bars["length_ms"] = bars["end_ms"] - bars["start_ms"]
    lanes = [f"thread {t}" for t in threads]
    colors = [_TRACE_COLORS[i % len(_TRACE_COLORS)] for i in range(len(lanes))]
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


# --- scaling and data-transfer sweeps ---------------------------------------------------------------

_SCALING_COLUMNS = ["engine", "workers", "cores", "wall_s", "wall_min_s", "wall_max_s", "speedup", "efficiency",
                    "ideal_speedup", "amdahl_speedup", "serial_fraction"]
_TRANSFER_CHART_COLUMNS = ["engine", "mb", "tasks", "wall_s", "wall_min_s", "wall_max_s", "compute_s",
                           "throughput_mb_s"]
_LINE_STYLES = {"measured": [1, 0], "Amdahl fit": [2, 3], "ideal": [7, 4]}


def _line_dash() -> alt.StrokeDash:
    """Shared dash scale: solid = measured, dotted = Amdahl fit, dashed = ideal (one legend for both panels)."""
    return alt.StrokeDash("series:N", title="Line", scale=alt.Scale(domain=list(_LINE_STYLES),
                                                                     range=list(_LINE_STYLES.values())),
                          legend=alt.Legend(orient="bottom", symbolType="stroke", symbolStrokeColor=_INK,
                                            symbolStrokeWidth=2, symbolSize=300))


def scaling_chart(frame: pd.DataFrame, title: str | None = None, width: int = 330) -> alt.HConcatChart:
    """Speedup and parallel efficiency against workers, with the ideal line, the Amdahl fit and the core count.

    Parameters
    ----------
    frame : pandas.DataFrame
        The ``frame`` of :class:`core.kinds.sweep.ScalingResult` (one row per worker count; several engines
        may be stacked): ``engine``, ``workers``, ``cores``, ``wall_s``, ``wall_min_s``, ``wall_max_s``,
        ``speedup``, ``efficiency``, ``ideal_speedup``, ``amdahl_speedup`` and ``serial_fraction``
        (NaN where no fit); ``speedup_min`` / ``speedup_max`` add whiskers when present.
    title : str, optional
        Title over both panels; none by default.
    width : int, default 330
        Width of each panel's plot area in pixels (a concatenated chart cannot follow its container);
        both panels with their axes fit a 900-pixel column.

    Returns
    -------
    altair.HConcatChart
        Left, "Speed-up over 1 worker (×)": the ideal (dashed grey ``line``: linear up to the usable
        cores, flat after), a vertical dashed ``rule`` at the core count with the ``text`` "N cores"
        (the knee), the Amdahl curve S(p) = 1/(f + (1 − f)/p), p = min(workers, cores), drawn densely
        (dotted ``line`` per engine), and the measured medians (``line`` with points, coloured by engine,
        whiskers from the slowest to the fastest repeat). Right, "Parallel efficiency": speedup ÷
        workers with the ideal min(workers, cores) ÷ workers and the same core rule. The x axes tick
        at the measured worker counts; the line-style legend is shared.

    Raises
    ------
    ValueError
        If ``frame`` is empty or lacks a column.
    """
    _require(frame, _SCALING_COLUMNS, "scaling")
    data = frame.copy()
    data["engine"] = data["engine"].astype(str)
    data["series"] = "measured"
    order = _engine_order(data)
    cores = int(data["cores"].iloc[0])
    counts = sorted({int(w) for w in data["workers"]})
    top = max(counts)
    x_scale = alt.Scale(domain=[1, max(top, 2)], nice=False, padding=14)

    def x_axis(name: str = "workers") -> alt.X:
        return alt.X(f"{name}:Q", title="Workers", scale=x_scale,
                     axis=alt.Axis(values=counts, format="d", grid=False))

    color = alt.Color("engine:N", title="Engine", scale=_engine_scale(order),
                      legend=alt.Legend(orient="bottom", labelLimit=260))
    tooltip = [
        alt.Tooltip("engine:N", title="Engine"),
        alt.Tooltip("workers:Q", title="Workers"),
        alt.Tooltip("wall_s:Q", title="Median wall (s)", format=_SECONDS),
        alt.Tooltip("wall_min_s:Q", title="Fastest repeat (s)", format=_SECONDS),
        alt.Tooltip("wall_max_s:Q", title="Slowest repeat (s)", format=_SECONDS),
        alt.Tooltip("speedup:Q", title="Speed-up (×)", format=".2f"),
        alt.Tooltip("efficiency:Q", title="Efficiency", format=_PERCENT),
        alt.Tooltip("ideal_speedup:Q", title="Ideal speed-up (×)", format=".2f"),
        alt.Tooltip("amdahl_speedup:Q", title="Amdahl fit (×)", format=".2f"),
        alt.Tooltip("serial_fraction:Q", title="Fitted serial fraction f", format=".3f"),
    ]

    # The ideal is piecewise linear (bends once, at the core count): its corners are enough.
    corners = sorted({1, top, min(cores, top)})
    ideal = pd.DataFrame({"workers": corners, "speedup": [float(min(w, cores)) for w in corners]})
    ideal["efficiency"] = ideal["speedup"] / ideal["workers"]
    # The efficiency ideal is a hyperbola after the knee: draw it densely.
    span = max(top, 2) - 1
    dense = sorted({1 + span * i / 59 for i in range(60)} | {float(min(cores, top))})
    ideal_eff = pd.DataFrame({"workers": dense, "efficiency": [min(w, cores) / w for w in dense]})
    for extra in (ideal, ideal_eff):
        extra["series"] = "ideal"
        extra["label"] = f"ideal: linear up to {cores} core{'s' if cores != 1 else ''}, flat after"

    curves = []
    for engine, group in data.groupby("engine", sort=False):
        f = float(group["serial_fraction"].iloc[0])
        if math.isfinite(f):
            s = [1.0 / (f + (1.0 - f) / min(w, cores)) for w in dense]
            curves.append(pd.DataFrame({"engine": engine, "workers": dense, "speedup": s,
                                        "efficiency": [v / w for v, w in zip(s, dense, strict=True)],
                                        "serial_fraction": f}))
    amdahl_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=["engine", "workers", "speedup", "efficiency", "serial_fraction"])
    amdahl_frame["series"] = "Amdahl fit"

    knee = pd.DataFrame({"workers": [cores], "label": [f"{cores} cores" if cores != 1 else "1 core"]})
    show_knee = 1 <= cores <= top
    ideal_tip = [alt.Tooltip("label:N", title="Reference"), alt.Tooltip("workers:Q", title="Workers", format=".3~r")]
    knee_tip = [alt.Tooltip("label:N", title="Usable cores (the knee)")]
    amdahl_tip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("serial_fraction:Q", title="f", format=".3f"),
                  alt.Tooltip("workers:Q", title="Workers", format=".3~r")]

    def panel(field: str, y_title: str, ideal_data: pd.DataFrame, y_axis: alt.Axis, y_scale: alt.Scale,
              panel_title: str) -> alt.LayerChart:
        y = alt.Y(f"{field}:Q", title=y_title, axis=y_axis, scale=y_scale)
        layers: list[alt.Chart] = [
            alt.Chart(ideal_data).mark_line(color="#9d9d9d", strokeWidth=2).encode(
                x=x_axis(), y=y, strokeDash=_line_dash(), tooltip=ideal_tip),
        ]
        if show_knee:
            layers += [
                alt.Chart(knee).mark_rule(color=_INK, strokeDash=[3, 3], strokeWidth=1.2).encode(
                    x=x_axis(), tooltip=knee_tip),
                alt.Chart(knee).mark_text(align="left", baseline="top", dx=4, dy=4, color=_INK,
                                          fontWeight="bold").encode(x=x_axis(), y=alt.value(0), text="label:N",
                                                                    tooltip=knee_tip),
            ]
        if not amdahl_frame.empty:
            layers.append(alt.Chart(amdahl_frame).mark_line(strokeWidth=2, opacity=0.85).encode(
                x=x_axis(), y=y, color=color, strokeDash=_line_dash(), detail="engine:N", tooltip=amdahl_tip))
        if field == "speedup" and {"speedup_min", "speedup_max"} <= set(data.columns):
            layers.append(alt.Chart(data).mark_rule(strokeWidth=1.5).encode(
                x=x_axis(), y=alt.Y("speedup_min:Q", title=y_title), y2="speedup_max:Q", color=color,
                tooltip=tooltip))
        layers.append(alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=60, filled=True), strokeWidth=2.5)
                      .encode(x=x_axis(), y=y, color=color, strokeDash=_line_dash(), tooltip=tooltip))
        return alt.layer(*layers).properties(width=width, height=300, title=alt.TitleParams(
            panel_title, anchor="start", fontSize=13))

    top_speedup = max(float(data[["speedup", "ideal_speedup"]].max().max()),
                      float(data["speedup_max"].max()) if "speedup_max" in data else 0.0)
    speed = panel("speedup", "Speed-up over 1 worker (×)", ideal, alt.Axis(format=".1~f"),
                  alt.Scale(domain=[0, max(1.0, top_speedup) * 1.1], nice=False),
                  "Speed-up (median wall of 1 worker ÷ median wall)")
    top_eff = max(1.0, float(data["efficiency"].max()))
    eff = panel("efficiency", "Parallel efficiency (speed-up ÷ workers)", ideal_eff, alt.Axis(format="%"),
                alt.Scale(domain=[0, top_eff * 1.1], nice=False), "Efficiency (100% = every worker fully useful)")
    chart = alt.hconcat(speed, eff, spacing=36).resolve_scale(color="shared", strokeDash="shared")
    return chart.properties(title=title) if title else chart


def _decades(values: pd.DataFrame) -> list[float]:
    """Powers of ten spanning ``values`` (ticks for a log axis: one gridline per decade, not nine)."""
    finite = values.to_numpy(dtype=float).ravel()
    finite = finite[(finite > 0) & (finite < float("inf"))]
    if finite.size == 0:
        return [1.0]
    lo, hi = math.floor(math.log10(finite.min())), math.ceil(math.log10(finite.max()))
    return [10.0 ** k for k in range(lo, hi + 1)]


def transfer_chart(frame: pd.DataFrame, title: str | None = None, width: int = 330) -> alt.HConcatChart:
    """Seconds and implied MB/s against payload size, one line per engine, both axes logarithmic.

    Log–log because the sizes span two orders of magnitude and the engines three: on threads a run
    takes milliseconds whatever the size; under processes it grows with MB × tasks.

    Parameters
    ----------
    frame : pandas.DataFrame
        The ``frame`` of :class:`core.kinds.sweep.TransferResult` (one row per engine and size): ``engine``,
        ``mb``, ``tasks``, ``wall_s``, ``wall_min_s``, ``wall_max_s``, ``compute_s`` and
        ``throughput_mb_s`` (= mb × tasks ÷ compute_s).
    title : str, optional
        Title over both panels; none by default.
    width : int, default 330
        Width of each panel's plot area in pixels.

    Returns
    -------
    altair.HConcatChart
        Left, "Wall time (s)" vs "Payload (MB)": ``line`` with points per engine (coloured by engine)
        and whiskers from the fastest to the slowest repeat. Right, "Implied MB/s": ``line`` with points
        of ``throughput_mb_s`` per engine. The x axes tick at the measured sizes.

    Raises
    ------
    ValueError
        If ``frame`` is empty or lacks a column.
    """
    _require(frame, _TRANSFER_CHART_COLUMNS, "transfer")
    data = frame.copy()
    data["engine"] = data["engine"].astype(str)
    # A log scale cannot show 0: a run too fast for the clock is drawn at a microsecond, not dropped.
    for col in ("wall_s", "wall_min_s", "wall_max_s", "compute_s"):
        data[col] = data[col].clip(lower=1e-6)
    order = _engine_order(data)
    sizes = sorted({int(v) for v in data["mb"]})
    x = alt.X("mb:Q", title="Payload per task (MB)", scale=alt.Scale(type="log", nice=False, padding=14),
              axis=alt.Axis(values=sizes, format="d", grid=False))
    color = alt.Color("engine:N", title="Engine", scale=_engine_scale(order),
                      legend=alt.Legend(orient="bottom", labelLimit=260))
    tooltip = [
        alt.Tooltip("engine:N", title="Engine"),
        alt.Tooltip("mb:Q", title="Payload (MB)"),
        alt.Tooltip("tasks:Q", title="Tasks (each gets the payload)"),
        alt.Tooltip("wall_s:Q", title="Median wall (s)", format=_SECONDS),
        alt.Tooltip("wall_min_s:Q", title="Fastest repeat (s)", format=_SECONDS),
        alt.Tooltip("wall_max_s:Q", title="Slowest repeat (s)", format=_SECONDS),
        alt.Tooltip("compute_s:Q", title="Median compute (s)", format=_SECONDS),
        alt.Tooltip("throughput_mb_s:Q", title="Implied MB/s", format=",.0f"),
    ]
    point = alt.OverlayMarkDef(size=60, filled=True)
    seconds = alt.layer(
        alt.Chart(data).mark_rule(strokeWidth=1.5).encode(
            x=x, y=alt.Y("wall_min_s:Q", title="Wall time (s)"), y2="wall_max_s:Q", color=color, tooltip=tooltip),
        alt.Chart(data).mark_line(point=point, strokeWidth=2.5).encode(
            x=x, y=alt.Y("wall_s:Q", title="Wall time (s)", scale=alt.Scale(type="log"),
                         axis=alt.Axis(values=_decades(data[["wall_min_s", "wall_max_s"]]), format="~g")),
            color=color, tooltip=tooltip),
    ).properties(width=width, height=300, title=alt.TitleParams("Time per run (median, whiskers: min–max)",
                                                                anchor="start", fontSize=13))
    rate = alt.Chart(data).mark_line(point=point, strokeWidth=2.5).encode(
        x=x, y=alt.Y("throughput_mb_s:Q", title="Implied MB/s (MB × tasks ÷ compute s)",
                     scale=alt.Scale(type="log"), axis=alt.Axis(values=_decades(data[["throughput_mb_s"]]),
                                                                format="~s")),
        color=color, tooltip=tooltip,
    ).properties(width=width, height=300, title=alt.TitleParams("Implied throughput", anchor="start", fontSize=13))
    chart = alt.hconcat(seconds, rate, spacing=36).resolve_scale(color="shared")
    return chart.properties(title=title) if title else chart


# --- overhead anatomy (core.kinds.overhead) --------------------------------------------------------------

_PER_TASK_COLUMNS = ["engine", "per_task_us", "per_task_min_us", "per_task_max_us"]
_STARTUP_COLUMNS = ["case", "label", "engine", "startup_s", "startup_min_s", "startup_max_s", "per_compute_s"]
_BREAK_EVEN_COLUMNS = ["engine", "n", "wall_s", "wall_min_s", "wall_max_s"]
_STARTUP_MEASURES = ["to start, from nothing", "again on every later compute"]


def _log_ticks(domain: list[float]) -> list[float]:
    """The powers of ten within a log axis' ``domain``: one gridline per decade, not nine."""
    low, high = (round(math.log10(v)) for v in domain)
    return [10.0**k for k in range(low, high + 1)]


def _log_domain(values: Iterable[float]) -> list[float]:
    """Whole powers of ten around the positive ``values``, so log-scale bars have a floor to start from."""
    positive = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not positive:
        return [1.0, 10.0]
    low = 10 ** math.floor(math.log10(min(positive) / 1.5))
    high = 10 ** math.ceil(math.log10(max(positive) * 1.5))
    return [low, high if high > low else low * 10]


def per_task_overhead_chart(
    summary: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    references: pd.DataFrame | None = None,
    title: str | None = None,
) -> alt.LayerChart:
    """Overhead per task by engine on a log scale, next to the figures Dask's documentation quotes.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per engine (:attr:`core.kinds.overhead.PerTaskResult.summary`): ``engine``, ``per_task_us``
        (median), ``per_task_min_us``, ``per_task_max_us``; ``fixed_s``, ``detail`` and ``repeats``
        join the tooltip when present.
    runs : pandas.DataFrame, optional
        One row per engine per repeat with ``engine``, ``repeat`` and ``per_task_us``: drawn as dots.
    references : pandas.DataFrame, optional
        Quoted figures with ``engine``, ``per_task_us``, ``label`` (e.g. "docs: 50 µs") and, optionally,
        ``claim`` and ``source`` (:func:`core.kinds.overhead.references_frame`). Rows for engines not in
        ``summary``, or without a figure, are skipped.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Layers: ``bar`` (median µs per task, from the log axis' floor, coloured by engine), ``text``
        (the median, e.g. "39 µs", in white at the foot of the bar), ``errorbar`` (min..max over repeats), ``circle``
        (each repeat, with ``runs``), and with ``references`` a black diamond ``point`` per quoted figure and
        its ``text`` label. The y axis is logarithmic, labelled in µs and ms. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column, or a frame given lacks its columns.
    """
    _require(summary, _PER_TASK_COLUMNS, "per-task summary")
    order = _engine_order(summary)
    data = summary.copy()
    data["engine"] = data["engine"].astype(str)
    data["label"] = (data["per_task_us"] / 1e6).map(fmt_duration)
    refs = pd.DataFrame(columns=["engine", "per_task_us", "label"])
    if references is not None:
        _require(references, ["engine", "per_task_us", "label"], "references")
        refs = references[references["engine"].astype(str).isin(order) & references["per_task_us"].notna()].copy()
        refs["engine"] = refs["engine"].astype(str)
        for column in ("claim", "source"):
            if column not in refs:
                refs[column] = ""
    values = [*data["per_task_us"], *data["per_task_min_us"], *refs["per_task_us"]]
    domain = _log_domain(values)
    data["floor_us"] = domain[0]
    y_title = "Overhead per task (log scale)"
    y_scale = alt.Scale(type="log", domain=domain, nice=False)
    y_axis = alt.Axis(values=_log_ticks(domain), labelExpr=(
        "datum.value >= 1000 ? format(datum.value / 1000, '~g') + ' ms' : format(datum.value, '~g') + ' µs'"))
    x = _engine_x(order)
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("label:N", title="Per task (median)"),
               alt.Tooltip("per_task_min_us:Q", title="Fastest repeat (µs)", format=".3~r"),
               alt.Tooltip("per_task_max_us:Q", title="Slowest repeat (µs)", format=".3~r")]
    for column, label, fmt in (("fixed_s", "Fixed cost per compute (s)", _SECONDS), ("detail", "Engine", None),
                               ("repeats", "Repeats", None)):
        if column in data:
            tooltip.append(alt.Tooltip(f"{column}:{'Q' if fmt or column == 'repeats' else 'N'}", title=label,
                                       **({"format": fmt} if fmt else {})))
    base = alt.Chart(data)
    bars = base.mark_bar().encode(
        x=x,
        y=alt.Y("per_task_us:Q", title=y_title, scale=y_scale, axis=y_axis),
        y2="floor_us:Q",
        color=alt.Color("engine:N", scale=_engine_scale(order), legend=None),
        tooltip=tooltip,
    )
    # The median is written inside the bar, at its foot: the top is where whiskers and Dask's figures sit.
    labels = base.mark_text(baseline="bottom", dy=-6, fontWeight="bold", color="white").encode(
        x=x, y=alt.Y("floor_us:Q", title=y_title, scale=y_scale), text="label:N", tooltip=tooltip)
    spread = base.mark_errorbar(ticks=True, color=_INK, thickness=1.5).encode(
        x=x, y=alt.Y("per_task_min_us:Q", title=y_title, scale=y_scale), y2="per_task_max_us:Q", tooltip=tooltip)
    layers: list[alt.Chart] = [bars, spread, labels]
    if runs is not None:
        _require(runs, ["engine", "repeat", "per_task_us"], "per-task runs")
        dots = runs[["engine", "repeat", "per_task_us"]].assign(engine=runs["engine"].astype(str))
        layers.append(alt.Chart(dots).mark_circle(size=28, color=_INK, opacity=0.7).encode(
            x=x, y=alt.Y("per_task_us:Q", title=y_title, scale=y_scale),
            tooltip=[alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("repeat:Q", title="Repeat"),
                     alt.Tooltip("per_task_us:Q", title="Per task (µs)", format=".3~r")]))
    if not refs.empty:
        ref_tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("label:N", title="Dask's docs"),
                       alt.Tooltip("claim:N", title="They say"), alt.Tooltip("source:N", title="Where")]
        ref = alt.Chart(refs)
        y_ref = alt.Y("per_task_us:Q", title=y_title, scale=y_scale)
        text = {"align": "left", "baseline": "middle", "dx": 9, "fontStyle": "italic"}
        layers += [
            ref.mark_point(shape="diamond", filled=True, size=110, color=_INK, stroke="white", strokeWidth=1,
                           opacity=1).encode(x=x, y=y_ref, tooltip=ref_tooltip),
            ref.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round", opacity=0.85).encode(
                x=x, y=y_ref, text="label:N", tooltip=ref_tooltip),
            ref.mark_text(**text, color=_INK).encode(x=x, y=y_ref, text="label:N", tooltip=ref_tooltip),
        ]
    chart = alt.layer(*layers).properties(width="container", height=340)
    return chart.properties(title=title) if title else chart


def startup_chart(summary: pd.DataFrame, title: str | None = None) -> alt.LayerChart:
    """Start-up by engine: what it takes to start from nothing, and what every later compute pays again.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per case (:attr:`core.kinds.overhead.StartupResult.summary`): ``case``, ``label`` (the row
        name shown), ``engine`` (colour), ``startup_s`` (median) with ``startup_min_s`` /
        ``startup_max_s``, and ``per_compute_s``; ``paid`` and ``teardown_s`` join the tooltip.
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        Horizontal ``bar`` pairs per case (``yOffset`` by measure: solid "to start, from nothing",
        pale "again on every later compute"), coloured by engine, and a ``text`` label with the median
        in µs, ms or s at each bar's end (a microsecond bar is too thin to see); the fastest and slowest
        start are in the tooltip. Linear seconds on x. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column.
    """
    _require(summary, _STARTUP_COLUMNS, "start-up summary")
    data = summary.copy()
    data["label"] = data["label"].astype(str)
    data["engine"] = data["engine"].astype(str)
    cases = list(dict.fromkeys(data["label"]))
    engines = _engine_order(data)
    extra = [c for c in ("paid", "teardown_s") if c in data]
    long = pd.concat([
        data[["case", "label", "engine", *extra]].assign(
            measure=_STARTUP_MEASURES[0], seconds=data["startup_s"], low_s=data["startup_min_s"],
            high_s=data["startup_max_s"]),
        data[["case", "label", "engine", *extra]].assign(
            measure=_STARTUP_MEASURES[1], seconds=data["per_compute_s"], low_s=data["per_compute_s"],
            high_s=data["per_compute_s"]),
    ], ignore_index=True)
    long["text"] = long["seconds"].map(fmt_duration)
    y = alt.Y("label:N", sort=cases, title=None, axis=alt.Axis(labelLimit=260))
    y_offset = alt.YOffset("measure:N", sort=_STARTUP_MEASURES, scale=alt.Scale(paddingInner=0.1))
    x = alt.X("seconds:Q", title="Seconds", scale=alt.Scale(domainMin=0))
    tooltip = [alt.Tooltip("label:N", title="Engine"), alt.Tooltip("measure:N", title="Measure"),
               alt.Tooltip("text:N", title="Median"),
               alt.Tooltip("low_s:Q", title="Fastest (s)", format=".3~g"),
               alt.Tooltip("high_s:Q", title="Slowest (s)", format=".3~g")]
    if "paid" in data:
        tooltip.append(alt.Tooltip("paid:N", title="Start-up is paid"))
    if "teardown_s" in data:
        tooltip.append(alt.Tooltip("teardown_s:Q", title="Shutdown (s)", format=".3~g"))
    base = alt.Chart(long)
    bars = base.mark_bar().encode(
        y=y, yOffset=y_offset, x=x,
        color=alt.Color("engine:N", scale=_engine_scale(engines), legend=None),
        opacity=alt.Opacity("measure:N", sort=_STARTUP_MEASURES, scale=alt.Scale(range=[1.0, 0.4]),
                            legend=alt.Legend(title=None, orient="bottom", labelLimit=320)),
        tooltip=tooltip,
    )
    # The spread is in the tooltip, not drawn: a whisker past the bar's label made the label look like the max.
    labels = base.mark_text(align="left", baseline="middle", dx=5, color=_INK, fontSize=11).encode(
        y=y, yOffset=y_offset, x=x, text="text:N", tooltip=tooltip)
    chart = alt.layer(bars, labels).properties(width="container", height=alt.Step(15))
    return chart.properties(title=title) if title else chart


def break_even_chart(
    summary: pd.DataFrame, crossings: pd.DataFrame | None = None, title: str | None = None
) -> alt.LayerChart:
    """Wall time against task size (fib n) for sync and the parallel engines, with where each starts to win.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per engine and n (:attr:`core.kinds.overhead.BreakEvenResult.summary`): ``engine``, ``n``,
        ``wall_s`` (median), ``wall_min_s``, ``wall_max_s``; ``speedup`` joins the tooltip.
    crossings : pandas.DataFrame, optional
        ``engine`` and ``break_even_n`` (null: not within range): a dashed vertical ``rule`` in the
        engine's colour marks each measured crossing, labelled "<engine> wins from n = N".
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        ``line`` + ``point`` per engine (median wall, log y), a ``rule`` from min to max per point, and
        the crossing rules and their ``text``. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column.
    """
    _require(summary, _BREAK_EVEN_COLUMNS, "break-even summary")
    data = summary.copy()
    data["engine"] = data["engine"].astype(str)
    order = _engine_order(data)
    data["text"] = data["wall_s"].map(fmt_duration)
    domain = _log_domain([*data["wall_min_s"], *data["wall_max_s"]])
    y_title = "Median wall time (log scale)"
    y_scale = alt.Scale(type="log", domain=domain, nice=False)
    y_axis = alt.Axis(values=_log_ticks(domain), labelExpr=(
        "datum.value >= 1 ? format(datum.value, '~g') + ' s' : format(datum.value * 1000, '~g') + ' ms'"))
    n_values = sorted(int(n) for n in data["n"].unique())
    x = alt.X("n:Q", title="fib n of each task (work grows ~1.6× per step)",
              scale=alt.Scale(domain=[n_values[0] - 0.5, n_values[-1] + 0.5], nice=False, zero=False),
              axis=alt.Axis(values=n_values, format="d"))
    color = alt.Color("engine:N", scale=_engine_scale(order),
                      legend=alt.Legend(title=None, orient="bottom", labelLimit=320))
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("n:Q", title="fib n"),
               alt.Tooltip("text:N", title="Median wall"),
               alt.Tooltip("wall_min_s:Q", title="Fastest (s)", format=".3~g"),
               alt.Tooltip("wall_max_s:Q", title="Slowest (s)", format=".3~g")]
    if "speedup" in data:
        tooltip.append(alt.Tooltip("speedup:Q", title="Speed-up over sync (×)", format=".2~f"))
    base = alt.Chart(data)
    y = alt.Y("wall_s:Q", title=y_title, scale=y_scale, axis=y_axis)
    layers: list[alt.Chart] = [
        base.mark_line(strokeWidth=2).encode(x=x, y=y, color=color, detail="engine:N"),
        base.mark_rule(strokeWidth=1.5).encode(x=x, y=alt.Y("wall_min_s:Q", title=y_title, scale=y_scale),
                                               y2="wall_max_s:Q", color=color, tooltip=tooltip),
        base.mark_point(filled=True, size=60).encode(x=x, y=y, color=color, tooltip=tooltip),
    ]
    if crossings is not None:
        _require(crossings, ["engine", "break_even_n"], "crossings")
        marks = crossings.dropna(subset=["break_even_n"])[["engine", "break_even_n"]].copy()
        marks["engine"] = marks["engine"].astype(str)
        marks = marks[marks["engine"].isin(order)]
        if not marks.empty:
            marks["n"] = marks["break_even_n"].astype(float)
            marks["label"] = marks["engine"] + " wins from n = " + marks["break_even_n"].astype(int).astype(str)
            # Labels stack down from the top of the plot, one line each, so crossings at one n stay readable.
            marks["label_y"] = [domain[1] / 1.9 ** row for row in range(len(marks))]
            mark_tooltip = [alt.Tooltip("label:N", title="Break-even")]
            ref = alt.Chart(marks)
            text = {"align": "right", "baseline": "top", "dx": -4, "dy": 2, "fontWeight": "bold"}
            y_text = alt.Y("label_y:Q", title=y_title, scale=y_scale)
            layers += [
                ref.mark_rule(strokeDash=[6, 4], strokeWidth=2).encode(x=x, color=color, tooltip=mark_tooltip),
                ref.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round").encode(
                    x=x, y=y_text, text="label:N", tooltip=mark_tooltip),
                ref.mark_text(**text).encode(x=x, y=y_text, text="label:N", color=color, tooltip=mark_tooltip),
            ]
    chart = alt.layer(*layers).properties(width="container", height=340)
    return chart.properties(title=title) if title else chart
