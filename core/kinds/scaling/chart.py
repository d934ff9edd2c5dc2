"""The sweep's chart: speed-up and efficiency against workers, beside the ideal and the Amdahl fit."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

# --- the chart -----------------------------------------------------------------------------------------

_CHART_COLUMNS = ["engine", "workers", "cores", "wall_s", "wall_min_s", "wall_max_s", "speedup", "efficiency",
                  "ideal_speedup", "amdahl_speedup", "serial_fraction"]
LINE_STYLES = {"measured": [1, 0], "Amdahl fit": [2, 3], "ideal": [7, 4]}


def line_dash() -> Any:
    """Shared dash scale: solid = measured, dotted = Amdahl fit, dashed = ideal (one legend for both panels)."""
    import altair as alt

    from core.report.palette import INK

    return alt.StrokeDash("series:N", title="Line", scale=alt.Scale(domain=list(LINE_STYLES),
                                                                     range=list(LINE_STYLES.values())),
                          legend=alt.Legend(orient="bottom", symbolType="stroke", symbolStrokeColor=INK,
                                            symbolStrokeWidth=2, symbolSize=300))


def scaling_chart(frame: pd.DataFrame, title: str | None = None, width: int = 330) -> Any:
    """Speedup and parallel efficiency against workers, with the ideal line, the Amdahl fit and the core count.

    Parameters
    ----------
    frame : pandas.DataFrame
        The ``frame`` of :class:`ScalingResult` (one row per worker count; several engines may be
        stacked): ``engine``, ``workers``, ``cores``, ``wall_s``, ``wall_min_s``, ``wall_max_s``,
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
    import altair as alt

    from core.report.palette import INK, PERCENT, by_engine, engine_color, wall_tooltips

    data, order = by_engine(frame, _CHART_COLUMNS, "scaling")
    data["series"] = "measured"
    cores = int(data["cores"].iloc[0])
    counts = sorted({int(w) for w in data["workers"]})
    top = max(counts)
    x_scale = alt.Scale(domain=[1, max(top, 2)], nice=False, padding=14)

    def x_axis(name: str = "workers") -> alt.X:
        return alt.X(f"{name}:Q", title="Workers", scale=x_scale,
                     axis=alt.Axis(values=counts, format="d", grid=False))

    color = engine_color(order)
    tooltip = [
        alt.Tooltip("engine:N", title="Engine"),
        alt.Tooltip("workers:Q", title="Workers"),
        *wall_tooltips(),
        alt.Tooltip("speedup:Q", title="Speed-up (×)", format=".2f"),
        alt.Tooltip("efficiency:Q", title="Efficiency", format=PERCENT),
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
                x=x_axis(), y=y, strokeDash=line_dash(), tooltip=ideal_tip),
        ]
        if show_knee:
            layers += [
                alt.Chart(knee).mark_rule(color=INK, strokeDash=[3, 3], strokeWidth=1.2).encode(
                    x=x_axis(), tooltip=knee_tip),
                alt.Chart(knee).mark_text(align="left", baseline="top", dx=4, dy=4, color=INK,
                                          fontWeight="bold").encode(x=x_axis(), y=alt.value(0), text="label:N",
                                                                    tooltip=knee_tip),
            ]
        if not amdahl_frame.empty:
            layers.append(alt.Chart(amdahl_frame).mark_line(strokeWidth=2, opacity=0.85).encode(
                x=x_axis(), y=y, color=color, strokeDash=line_dash(), detail="engine:N", tooltip=amdahl_tip))
        if field == "speedup" and {"speedup_min", "speedup_max"} <= set(data.columns):
            layers.append(alt.Chart(data).mark_rule(strokeWidth=1.5).encode(
                x=x_axis(), y=alt.Y("speedup_min:Q", title=y_title), y2="speedup_max:Q", color=color,
                tooltip=tooltip))
        layers.append(alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=60, filled=True), strokeWidth=2.5)
                      .encode(x=x_axis(), y=y, color=color, strokeDash=line_dash(), tooltip=tooltip))
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


