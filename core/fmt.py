"""How the lab writes its numbers: speed-ups (×), durations in ms or s, and intervals.

One module for every report (the comparison's table and sentences, the advice, the charts, the pages)
so the same number reads the same everywhere. It imports nothing from the lab: every layer may use it.
Each function takes a number (seconds, or a ratio baseline ÷ arm) and returns the words.
"""

from __future__ import annotations

import math


def times(value: float) -> str:
    """A speed-up: ``1.95×`` under ten, ``12×`` from ten on, ``∞`` or ``n/a`` when not finite."""
    if not math.isfinite(value):
        return "∞" if value > 0 else "n/a"
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def ratio(value: float) -> str:
    """A ratio with two decimals whatever its size (``12.34×``), ``n/a`` when not finite."""
    return f"{value:.2f}×" if math.isfinite(value) else "n/a"


def ms(seconds: float) -> str:
    """A wall time: whole milliseconds under a second (``250 ms``), seconds with two decimals above."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def times_range(low: float, high: float) -> str:
    """An interval of speed-ups, ``1.80×–2.10×`` (the bounds as :func:`times` writes them)."""
    return f"{times(low)}–{times(high)}"


def times_brief(value: float) -> str:
    """A speed-up on a chart's label: ``2.0×``, ``12×``, ``0.45×`` (one decimal from 1 up, two digits below)."""
    if not math.isfinite(value):
        return "n/a"
    if value >= 10:
        return f"{value:.0f}×"
    if value >= 0.995:
        return f"{value:.1f}×"
    return f"{value:.2g}×"


def duration(seconds: float) -> str:
    """``12 µs``, ``3.4 ms``, ``1.31 s``: a duration in the unit that reads best (``n/a`` if not finite)."""
    if not math.isfinite(seconds):
        return "n/a"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"
