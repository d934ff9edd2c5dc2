"""The comparison's own charts: speed-ups with their intervals, and runtimes against the ideal."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.fmt import times as _fmt_x
from core.kinds.compare.verdicts import Verdict
from core.spec import SCHEDULER_LABELS

if TYPE_CHECKING:
    from core.kinds.compare.result import ComparisonResult


def has_external(result: ComparisonResult) -> bool:
    return any(a.engine == "external" for a in result.spec.arms)


def arm_colors(result: ComparisonResult) -> Any:
    import altair as alt

    from core.report.palette import ENGINE_COLORS, SPARE_COLORS

    spare = iter(SPARE_COLORS * 3)
    seen: set[str] = set()
    colors = []
    for arm in result.spec.arms:
        color = ENGINE_COLORS.get(SCHEDULER_LABELS[arm.engine])
        colors.append(color if color and arm.engine not in seen else next(spare))
        seen.add(arm.engine)
    return alt.Scale(domain=result.labels, range=colors)


def speedup_ci_chart(result: ComparisonResult, title: str | None = None) -> Any:
    """Each arm's speedup over the baseline with its 95 % interval, the ``same`` band and the verdict."""
    import altair as alt

    from core.report.palette import INK, engine_x

    # The pairs the page teaches come first (a's speed-up over b), then every arm against the baseline.
    pairs = [(f"{v.label} vs {v.against}", v) for v in result.pair_verdicts]
    rows = [{"engine": name, "speedup": v.speedup, "low": v.ci[0] if v.ci[0] > 0 else math.nan,
             "high": v.ci[1] if math.isfinite(v.ci[1]) else math.nan, "verdict": v.verdict,
             "label": chart_label(v), "rounds": v.rounds}
            for name, v in [*pairs, *((v.label, v) for v in result.verdicts)]]
    frame = pd.DataFrame(rows)
    order = [name for name, _ in pairs] + result.labels[1:]
    x = engine_x(order)
    # Short: a long title is cut at the chart's height; the x labels say what each speed-up is of ("a vs b").
    y_title = "Speed-up (×, log scale)" if pairs else f"Speed-up over {result.labels[0]} (×, log scale)"
    values = [x for x in [*frame["low"], *frame["high"], *frame["speedup"]] if math.isfinite(x) and x > 0]
    lo = min([1 / (1 + result.spec.band), *values]) / 1.15
    hi = max([1 + result.spec.band, *values]) * 1.15
    y_scale = alt.Scale(type="log", domain=[lo, hi])
    band = pd.DataFrame({"low": [1 / (1 + result.spec.band)], "high": [1 + result.spec.band],
                         "label": [f"same (±{result.spec.band:.0%})"]})
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("verdict:N", title="Verdict"),
               alt.Tooltip("speedup:Q", title="Speed-up", format=".3f"),
               alt.Tooltip("low:Q", title="95 % CI low", format=".3f"),
               alt.Tooltip("high:Q", title="95 % CI high", format=".3f"), alt.Tooltip("rounds:Q", title="Rounds")]
    shade = alt.Chart(band).mark_rect(color="#bab0ac", opacity=0.25).encode(
        y=alt.Y("low:Q", scale=y_scale, title=y_title), y2="high:Q",
        tooltip=[alt.Tooltip("label:N", title="Band")])
    one = alt.Chart(pd.DataFrame({"one": [1.0]})).mark_rule(strokeDash=[6, 4], color=INK).encode(
        y=alt.Y("one:Q", scale=y_scale, title=y_title))
    whiskers = alt.Chart(frame).mark_rule(strokeWidth=3, color=INK).encode(
        x=x, y=alt.Y("low:Q", scale=y_scale, title=y_title), y2="high:Q", tooltip=tooltip)
    colors = arm_colors(result)
    if pairs:  # a pair's point takes its first arm's colour
        arm_color = dict(zip(colors.domain, colors.range, strict=True))
        colors = alt.Scale(domain=[*[n for n, _ in pairs], *colors.domain],
                           range=[*[arm_color[v.label] for _, v in pairs], *colors.range])
    points = alt.Chart(frame).mark_point(filled=True, size=140, opacity=1).encode(
        x=x, y=alt.Y("speedup:Q", scale=y_scale, title=y_title),
        color=alt.Color("engine:N", scale=colors, legend=None), tooltip=tooltip)
    labels = alt.Chart(frame).mark_text(align="left", dx=12, fontWeight="bold", color=INK).encode(
        x=x, y=alt.Y("speedup:Q", scale=y_scale, title=y_title), text="label:N", tooltip=tooltip)
    chart = alt.layer(shade, one, whiskers, points, labels).properties(width="container", height=300)
    return chart.properties(title=title) if title else chart


def chart_label(v: Verdict) -> str:
    """``faster ≥1.62×``, ``no faster ≤0.98×``, ``slower ≥1.30× slower``, ``same 1.02×``, ``undecided 1.10×``."""
    if v.bound is not None and v.bound > 0:
        return {"faster": f"faster ≥{_fmt_x(v.bound)}", "not-faster": f"no faster ≤{_fmt_x(v.bound)}",
                "not-slower": f"no slower ≥{_fmt_x(v.bound)}",
                "slower": f"slower ≥{_fmt_x(1 / v.bound)} slower"}.get(v.verdict, v.verdict)
    return f"{v.verdict} {_fmt_x(v.speedup)}"


def runtime_ci_chart(result: ComparisonResult, title: str | None = None) -> Any:
    """Wall time by arm: median bar, each round as a point, the 95 % interval of the typical round, the ideal."""
    import altair as alt

    from core.measure.stats import log_interval
    from core.report.palette import INK, SECONDS, engine_x

    rows = []
    for label, arm in zip(result.labels, result.arms, strict=True):
        logs = [math.log(float(w)) for w in arm.runs["wall_s"] if w > 0]
        typical, low, high = log_interval(logs)
        rows.append({"engine": label, "median_s": float(arm.runs["wall_s"].median()), "typical_s": math.exp(typical),
                     "low_s": math.exp(low) if math.isfinite(low) else math.nan,
                     "high_s": math.exp(high) if math.isfinite(high) else math.nan, "rounds": len(logs)})
    summary = pd.DataFrame(rows)
    points = pd.concat([a.runs.assign(engine=label)[["engine", "repeat", "wall_s", "compute_s", "startup_s"]]
                        for label, a in zip(result.labels, result.arms, strict=True)], ignore_index=True)
    x = engine_x(result.labels)
    y_title = "Wall time per round (s)"
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("median_s:Q", title="Median (s)", format=SECONDS),
               alt.Tooltip("low_s:Q", title="95 % CI low (s)", format=SECONDS),
               alt.Tooltip("high_s:Q", title="95 % CI high (s)", format=SECONDS),
               alt.Tooltip("rounds:Q", title="Rounds")]
    bars = alt.Chart(summary).mark_bar(opacity=0.85).encode(
        x=x, y=alt.Y("median_s:Q", title=y_title),
        color=alt.Color("engine:N", scale=arm_colors(result), legend=None), tooltip=tooltip)
    ci = alt.Chart(summary).mark_errorbar(ticks=True, color=INK, thickness=2).encode(
        x=x, y=alt.Y("low_s:Q", title=y_title), y2="high_s:Q", tooltip=tooltip)
    dots = alt.Chart(points).mark_circle(size=24, color=INK, opacity=0.6).encode(
        x=x, y=alt.Y("wall_s:Q", title=y_title),
        tooltip=[alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("repeat:Q", title="Round"),
                 alt.Tooltip("wall_s:Q", title="Wall (s)", format=SECONDS),
                 alt.Tooltip("compute_s:Q", title="Compute (s)", format=SECONDS),
                 alt.Tooltip("startup_s:Q", title="Start-up (s)", format=SECONDS)])
    layers = [bars, ci, dots]
    if math.isfinite(result.ideal_s):
        from core.report.palette import reference_line

        ideal = pd.DataFrame({"ideal_s": [result.ideal_s],
                              "label": [f"ideal{'' if has_external(result) else ' on this machine'}:"
                                        f" {result.ideal_s:.3g} s"]})
        layers.extend(reference_line(ideal, "ideal_s", y_title,
                                      [alt.Tooltip("label:N", title="Reference"),
                                       alt.Tooltip("ideal_s:Q", title="Ideal (s)", format=SECONDS)]))
    chart = alt.layer(*layers).properties(width="container", height=300)
    return chart.properties(title=title) if title else chart


