"""core.fmt writes each number as the reports always have (the page, CLI and JSON tests read these strings)."""

from __future__ import annotations

import math

from core import fmt


def test_speedups() -> None:
    assert [fmt.times(v) for v in (1.954, 12.4, math.inf, math.nan)] == ["1.95×", "12×", "∞", "n/a"]
    assert [fmt.ratio(v) for v in (1.954, 12.4, math.nan)] == ["1.95×", "12.40×", "n/a"]
    assert [fmt.times_brief(v) for v in (2.04, 12.4, 0.454, math.nan)] == ["2.0×", "12×", "0.45×", "n/a"]
    assert fmt.times_range(1.8, 2.1) == "1.80×–2.10×"


def test_durations() -> None:
    assert [fmt.ms(v) for v in (0.25, 1.5)] == ["250 ms", "1.50 s"]
    assert [fmt.duration(v) for v in (12e-6, 3.4e-3, 1.314, math.nan)] == ["12 µs", "3.4 ms", "1.31 s", "n/a"]
