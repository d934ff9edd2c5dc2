"""Deciding a comparison: paired speedups per round, a confidence interval, and a verdict.

A comparison is measured in rounds; round ``r`` runs every arm once, one after the other, so the
baseline and an arm of the same round saw nearly the same machine. The per-round ratio
``baseline_r / arm_r`` is a *paired* measurement: a slow drift (a neighbour starting up) moves both
sides alike and cancels out of it.

**The interval.** The speedup is estimated by the Hodges–Lehmann estimator of the per-round ratios on
a log scale (a speedup is a ratio: 2× faster and 2× slower are equally far from 1), with the exact
95 % interval of the Wilcoxon signed-rank test: the median and two order statistics of the n(n+1)/2
pairwise means of the log ratios. Why this one, on the machines the lab runs on: a shared core is
slowed in bursts, so a few rounds come out 1.5× off in either direction. A Student-t interval is
pulled and widened by them; a percentile bootstrap over the 6–20 rounds of a quick comparison stays
inside the range of the data and covers the truth less often than it claims. The signed-rank interval
is distribution-free (it assumes only that noise is as likely to favour either side, which rotating
the order of the arms every round arranges) and its coverage is exact at any number of rounds. It
needs 6 rounds before any 95 % interval exists (with 6, it is the range of the data).

**The verdict** compares that interval with an equivalence band ``b`` (a region of practical
equivalence; ±20 % by default, about the run-to-run spread of a shared 2-core machine):

==============  ==========================================================================
``same``        the whole interval lies inside 1/(1+b) … 1+b: any difference is smaller than b
``faster``      the whole interval lies above 1+b
``slower``      the whole interval lies below 1/(1+b)
``undecided``   the interval reaches across a band edge: the data do not support a claim
==============  ==========================================================================

A claim must clear the band, not just 1: noise that happens to line up, or the repeated looks of
adaptive rounds, then have to move an interval by the band's width, not by a hair, to make a wrong
lesson.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

VerdictName = Literal["faster", "same", "slower", "undecided"]
VERDICTS: tuple[VerdictName, ...] = ("faster", "same", "slower", "undecided")

CONFIDENCE = 0.95
DEFAULT_BAND = 0.20
# The fewest rounds with which a 95 % signed-rank interval exists (2 / 2^6 = 3.1 % < 5 %).
MIN_ROUNDS = 6
MAX_ROUNDS = 40
# On a busy machine (other programs took at least noise.BUSY_CORES so far) adaptive rounds may run this
# many times the budget: more rounds are the only cure for noise, and a verdict is worth the wait.
BUSY_BUDGET_FACTOR = 2.0


@cache
def _signed_rank_counts(n: int) -> tuple[int, ...]:
    """How many of the 2^n sign patterns give each signed-rank sum W+ = 0 … n(n+1)/2 (exact null distribution)."""
    counts = [1]
    for rank in range(1, n + 1):
        grown = [0] * (len(counts) + rank)
        for total, ways in enumerate(counts):
            grown[total] += ways
            grown[total + rank] += ways
        counts = grown
    return tuple(counts)


def _critical_rank(n: int, confidence: float) -> int:
    """The largest k with P(W+ ≤ k − 1) ≤ (1 − confidence)/2; 0 when no interval exists at this n."""
    counts = _signed_rank_counts(n)
    total = 2**n
    tail = (1.0 - confidence) / 2.0
    cumulative, k = 0, 0
    for w, ways in enumerate(counts):
        cumulative += ways
        if cumulative / total <= tail:
            k = w + 1
        else:
            break
    return k


@dataclass(frozen=True)
class Interval:
    """A ratio's point estimate and confidence interval, from ``n`` values (rounds).

    ``low`` is 0 and ``high`` infinite while there are too few rounds for an interval.
    """

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE

    @property
    def exists(self) -> bool:
        return self.low > 0 and math.isfinite(self.high)

    @property
    def log_half_width(self) -> float:
        """Half the interval's width on the log scale (0.1 ≈ ±10 %); infinite without an interval."""
        if not self.exists:
            return math.inf
        return (math.log(self.high) - math.log(self.low)) / 2.0


def log_interval(logs: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Hodges–Lehmann estimate and signed-rank interval of a location, on the values' own scale.

    Returns ``(estimate, low, high)``: the median of the pairwise (Walsh) means and two of their
    order statistics; ``low = -inf, high = inf`` when ``len(logs)`` is too small for ``confidence``.
    """
    n = len(logs)
    if n == 0:
        raise ValueError("an interval needs at least one value")
    walsh = sorted((logs[i] + logs[j]) / 2.0 for i in range(n) for j in range(i, n))
    m = len(walsh)
    estimate = (walsh[(m - 1) // 2] + walsh[m // 2]) / 2.0
    k = _critical_rank(n, confidence)
    if k == 0:
        return estimate, -math.inf, math.inf
    return estimate, walsh[k - 1], walsh[m - k]


def paired_ratios(baseline: Sequence[float], arm: Sequence[float]) -> list[float]:
    """``baseline[r] / arm[r]`` for every round (speedups: > 1 means the arm was faster)."""
    if len(baseline) != len(arm):
        raise ValueError(f"paired samples need one value per round on both sides ({len(baseline)} vs {len(arm)})")
    out = []
    for b, a in zip(baseline, arm, strict=True):
        if not (b > 0 and a > 0 and math.isfinite(b) and math.isfinite(a)):
            raise ValueError(f"times must be positive and finite (got {b!r} and {a!r})")
        out.append(b / a)
    return out


def ratio_interval(ratios: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The speedup estimate and its interval from per-round ratios (see the module docstring)."""
    estimate, low, high = log_interval([math.log(r) for r in ratios], confidence)
    return Interval(math.exp(estimate), math.exp(low), math.exp(high), len(ratios), confidence)


def classify(interval: Interval, band: float = DEFAULT_BAND) -> VerdictName:
    """The verdict the interval supports (see the module docstring)."""
    if not interval.exists:
        return "undecided"
    upper, lower = 1.0 + band, 1.0 / (1.0 + band)
    if lower <= interval.low and interval.high <= upper:
        return "same"
    if interval.low > upper:
        return "faster"
    if interval.high < lower:
        return "slower"
    return "undecided"


def undecided_reason(interval: Interval, band: float = DEFAULT_BAND) -> str:
    """Why an interval decides nothing, and what would help: too few rounds, too noisy, or too close to call."""
    if not interval.exists:
        return f"only {interval.n} round(s): a 95 % interval needs at least {MIN_ROUNDS}"
    edge = "1 + band" if interval.estimate >= 1 else "1 − band"
    if interval.log_half_width > math.log1p(band):
        return (f"too noisy: the interval spans ±{math.expm1(interval.log_half_width):.0%}, wider than the ±{band:.0%}"
                " band; run more rounds, use bigger tasks, or measure when the machine is quieter")
    return (f"too close to call: the speedup lies near the edge of the ±{band:.0%} band ({edge}); more rounds would"
            " narrow the interval, or the difference is simply about that size")
