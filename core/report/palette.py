"""The charts' palette and the helpers every chart of the lab is built with.

:data:`ENGINE_COLORS` (an engine has one colour everywhere), the ink, the number formats, the engine axis
and scale, and the checks of a frame's columns: :mod:`core.report.charts` and the kinds' own charts
(:mod:`core.kinds.compare.charts`, the GIL trace's lanes, the sweeps) all draw with these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import altair as alt
import pandas as pd

from core.spec import SCHEDULER_LABELS

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
    # Beyond the GIL: a GIL per interpreter in one process, cool like the processes.
    SCHEDULER_LABELS["interpreters"]: "#8cd17d",  # light green (Tableau 20)
}
"""Engine label (:data:`core.spec.SCHEDULER_LABELS`) → hex colour, the same in every chart."""

# Further Tableau colours, none of them in ENGINE_COLORS, for other engine labels (cycled in order of appearance).
SPARE_COLORS = ["#9c755f", "#bab0ac", "#d37295", "#b6992d", "#86bcb6"]

INK = "#333333"  # error bars, repeat points, reference rules
SECONDS = ".3~r"  # d3 format: three significant digits, no exponent (0.0381, 12.3, 1230)
SECONDS_FINE = ".4~r"
PERCENT = ".0%"

# Long engine labels ("LocalCluster processes=False") break at their first space on the x axis.
_WRAP_AT_FIRST_SPACE = (
    "indexof(datum.label, ' ') > 0"
    " ? [slice(datum.label, 0, indexof(datum.label, ' ')), slice(datum.label, indexof(datum.label, ' ') + 1)]"
    " : datum.label"
)

RUNTIME_COLUMNS = ["engine", "repeat", "wall_s", "startup_s", "compute_s", "teardown_s"]
TIMELINE_COLUMNS = ["run_id", "engine", "repeat", "task", "start_s", "end_s", "wall_s", "cpu_s", "cpu_share",
                     "pid", "lane"]
CPU_SHARE_COLUMNS = ["engine", "repeat", "task", "wall_s", "cpu_s", "cpu_share", "lane"]


# --- helpers ---------------------------------------------------------------------------------------


def require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` if ``frame`` is empty or lacks any of ``columns``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the {what} frame is missing column(s): {', '.join(missing)}")
    if frame.empty:
        raise ValueError(f"the {what} frame is empty: there is nothing to chart")


def engine_order(frame: pd.DataFrame) -> list[str]:
    """Engine labels in order of first appearance."""
    return [str(e) for e in dict.fromkeys(frame["engine"])]


def by_engine(frame: pd.DataFrame, columns: Iterable[str], what: str) -> tuple[pd.DataFrame, list[str]]:
    """A checked copy of ``frame`` to draw (engine labels as text) and its engines in order of appearance."""
    require(frame, columns, what)
    data = frame.copy()
    data["engine"] = data["engine"].astype(str)
    return data, engine_order(data)


def engine_scale(engines: list[str]) -> alt.Scale:
    """Colour scale giving each engine its :data:`ENGINE_COLORS` colour (spares for unknown labels)."""
    spare = iter(SPARE_COLORS * (len(engines) // len(SPARE_COLORS) + 1))
    return alt.Scale(domain=engines, range=[ENGINE_COLORS.get(e) or next(spare) for e in engines])


def engine_color(order: list[str]) -> alt.Color:
    """The engine colour of a chart with its legend below it (long engine names, a sweep's lines)."""
    return alt.Color("engine:N", title="Engine", scale=engine_scale(order),
                     legend=alt.Legend(orient="bottom", labelLimit=260))


def wall_tooltips() -> list[alt.Tooltip]:
    """A point's median wall time and its fastest and slowest repeat, as every sweep's tooltip shows them."""
    return [alt.Tooltip("wall_s:Q", title="Median wall (s)", format=SECONDS),
            alt.Tooltip("wall_min_s:Q", title="Fastest repeat (s)", format=SECONDS),
            alt.Tooltip("wall_max_s:Q", title="Slowest repeat (s)", format=SECONDS)]


def engine_bars(summary: pd.DataFrame, x: alt.X, y: alt.Y, order: list[str],
                tips: list[tuple[str, str, str | None]]) -> alt.Chart:
    """One bar per engine in its colour; the tooltip names the engine, then ``tips`` (field, title, format)."""
    return alt.Chart(summary).mark_bar().encode(
        x=x, y=y, color=alt.Color("engine:N", scale=engine_scale(order), legend=None), tooltip=engine_tips(tips))


def engine_tips(tips: list[tuple[str, str, str | None]]) -> list[alt.Tooltip]:
    """A tooltip that names the engine, then shows ``tips``: ``(field:type, title, d3 format or None)``."""
    return [alt.Tooltip("engine:N", title="Engine"),
            *(alt.Tooltip(f, title=t, format=fmt) if fmt else alt.Tooltip(f, title=t) for f, t, fmt in tips)]


def engine_x(order: list[str]) -> alt.X:
    return alt.X(
        "engine:N",
        sort=order,
        title=None,
        scale=alt.Scale(paddingInner=0.3, paddingOuter=0.2),
        axis=alt.Axis(labelAngle=0, labelExpr=_WRAP_AT_FIRST_SPACE, labelLimit=220, labelPadding=6),
    )


def reference_line(
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
        base.mark_rule(strokeDash=[6, 4], color=INK, strokeWidth=1.5).encode(y=y, tooltip=tooltip),
        base.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round", opacity=0.85).encode(
            y=y, x=x, text="label:N", tooltip=tooltip),
        base.mark_text(**text, color=INK).encode(y=y, x=x, text="label:N", tooltip=tooltip),
    ]


def fmt_seconds(seconds: float) -> str:
    """Seconds with about three significant digits and no exponent for everyday values."""
    if seconds == 0:
        return "0"
    if abs(seconds) >= 100:
        return f"{seconds:.0f}"
    if abs(seconds) >= 1e-3:
        return f"{seconds:.3g}"
    return f"{seconds:.1e}"


def runtime_summary(runs: pd.DataFrame) -> pd.DataFrame:
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


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``process 2`` before ``process 10``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def pick_repeats(tasks: pd.DataFrame, chosen: dict[object, int]) -> pd.DataFrame:
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


