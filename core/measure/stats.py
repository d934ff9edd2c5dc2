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

**The verdict** answers the page's question, "does it help?", with the strength the data support. At
each look of adaptive rounds it reads two *one-sided* bounds of the speedup, ``L`` and ``U``, each at
the per-look level :func:`claim_level` (not the 95 % interval: see *error control* below), and
compares them with the margin ``m`` (:data:`MARGIN`) and the equivalence band ``b`` (±20 % by default,
about the run-to-run spread of a shared 2-core machine). The first row that holds is the verdict:

===============  ===============================  ============================================================
``faster``       ``L > m``, ``U ≤ s·L``             it helps: at least ``L``× (``bound = L``)
``slower``       ``U < 1/m``, ``U ≤ s·L``           it hurts: at least ``1/U``× slower (``bound = U``)
``same``         ``1/(1+b) ≤ L`` and ``U ≤ 1+b``  any difference is smaller than the band (``bound`` null)
``not-faster``   ``U < 1+b``                      it does not help by more than the band: at most ``U``×
``not-slower``   ``L > 1/(1+b)``                  it does not hurt by more than the band: at least ``L``×
``undecided``    otherwise                        the data support no claim (``bound`` null); also a bound
                                                  past the margin but inside the band, from bounds more than
                                                  ``s`` (:data:`SPREAD`) apart: too noisy for a claim
===============  ===============================  ============================================================

Why this precedence: a directional claim (``faster``/``slower``) is the strongest answer and a lesson
of its own, so it is said whenever it holds, even when the interval also lies inside the band (a
precise 1.1× is "faster: at least 1.06×", not "the same"); ``same`` says more than either half of it;
the two half-claims come last. ``faster`` and ``slower`` exclude each other (``L ≤ U``), and so do
``not-faster`` and ``not-slower`` once ``same`` has been tried (both holding is ``same``).

**Error control over the looks.** Adaptive rounds look at the data at :data:`LOOKS
<core.measure.rounds.LOOKS>` and an arm retires at its first settled look, so every look is one more
chance for noise to line up into a wrong claim. Three things keep a false ``faster``/``slower`` of two
identical arms rare at every noise level: the margin ``m`` (low noise cannot push a bound past it);
a per-look level that pays for the looks (high noise, where the margin is a hair, meets the
signed-rank test's exact level instead), first reached at :data:`CLAIM_FIRST` rounds; and the spread
``s`` (heavy noise that lines up at the first looks gives bounds far apart). All are chosen by
simulation (``bench/false_claims.py``: paired rounds with log-normal noise of SD 0.02–0.6, bursts of
a half-core neighbour, slow drift, the order rotated), as the loosest settings whose false-claim rate stays at or below
:data:`FALSE_CLAIM_GOAL` under every noise model while a true 1.25× is still called ``faster`` within
the first looks. The signed-rank bounds are exact and distribution-free at every look; only their
level changes with the look.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

VerdictName = Literal["faster", "not-faster", "same", "not-slower", "slower", "undecided"]
VERDICTS: tuple[VerdictName, ...] = ("faster", "not-faster", "same", "not-slower", "slower", "undecided")
# Verdicts that answer the page's question ("does it help?") for good: adaptive rounds retire an arm at
# the first look that gives one. ``not-slower`` does not: it leaves open whether the arm helps, and a
# real speed-up often shows as "no slower" a look or two before its lower bound clears the margin.
SETTLED: frozenset[VerdictName] = frozenset({"faster", "not-faster", "same", "slower"})
# What bench/false_claims.py must show for every noise model: identical arms called faster or slower in
# at most this share of adaptive comparisons, all looks included.
FALSE_CLAIM_GOAL = 0.01

CONFIDENCE = 0.95
DEFAULT_BAND = 0.20
# The fewest rounds with which a 95 % signed-rank interval exists (2 / 2^6 = 3.1 % < 5 %).
MIN_ROUNDS = 6
# The claim rule (module docstring, "error control"), set from bench/false_claims.py: the loosest settings
# whose false faster/slower rate stays within FALSE_CLAIM_GOAL under every noise model simulated, with a
# real 1.25x still called faster at the first looks when the noise is moderate. Each one does a part:
# MARGIN keeps low noise from pushing a bound past 1; CLAIM_ALPHA at CLAIM_FIRST rounds is the signed-rank
# test's smallest level there (1/2^7: the smallest extreme of seven rounds), because at six rounds the
# smallest level, 1/64 a side, is the whole budget of wrong claims and more, whatever the margin, once
# the noise is large; SPREAD stops an interval wider than a factor of two, which is what heavy noise
# lining up makes at the first looks, from making a directional claim at all.
MARGIN = 1.05
CLAIM_ALPHA = 1 / 128
CLAIM_FIRST = 7
# Adaptive rounds run at least this many: a comparison stopped by its budget before a claim can be made
# would decide nothing for sure.
FEWEST_AUTO_ROUNDS = max(MIN_ROUNDS, CLAIM_FIRST)
CLAIM_DECAY = 1.0
SPREAD = 2.0
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
    return one_sided_rank(n, (1.0 - confidence) / 2.0)


def one_sided_rank(n: int, level: float) -> int:
    """The largest k with P(W+ ≤ k − 1) ≤ ``level``: the k-th smallest Walsh mean is a lower bound at that level.

    0 when no bound exists: with ``n`` values the smallest level there is is 1/2^n (1/64 at six rounds).
    """
    counts = _signed_rank_counts(n)
    total = 2**n
    cumulative, k = 0, 0
    for w, ways in enumerate(counts):
        cumulative += ways
        if cumulative / total <= level:
            k = w + 1
        else:
            break
    return k


def claim_level(n: int, alpha: float | None = None, decay: float | None = None) -> float:
    """The one-sided level of each bound a verdict reads after ``n`` rounds (see *error control* above).

    ``alpha`` (default :data:`CLAIM_ALPHA`) at :data:`CLAIM_FIRST` rounds, shrinking as
    ``(CLAIM_FIRST / n) ** decay`` (default :data:`CLAIM_DECAY`) later: the rounds of successive looks
    overlap, so a late look adds less new chance of a wrong claim than the first, yet it still adds
    some; a level that shrinks with the rounds keeps the sum of those chances bounded however long the
    rounds go on. Before :data:`CLAIM_FIRST` rounds the level is too small for any bound.
    """
    alpha = CLAIM_ALPHA if alpha is None else alpha
    decay = CLAIM_DECAY if decay is None else decay
    return alpha * (CLAIM_FIRST / max(n, 1)) ** decay


@dataclass(frozen=True)
class Interval:
    """A ratio's point estimate and confidence interval, from ``n`` values (rounds).

    ``low`` and ``high`` are the two-sided interval at ``confidence`` (what the pages show as "95 % CI");
    ``lower`` and ``upper`` the one-sided bounds at :func:`claim_level` that a verdict reads. ``low`` and
    ``lower`` are 0, ``high`` and ``upper`` infinite while there are too few rounds for them.
    """

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE
    lower: float = 0.0
    upper: float = math.inf

    @property
    def exists(self) -> bool:
        return self.low > 0 and math.isfinite(self.high)

    @property
    def bounded(self) -> bool:
        """Whether the claim bounds exist (enough rounds for :func:`claim_level`)."""
        return self.lower > 0 and math.isfinite(self.upper)

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


def log_bounds(logs: Sequence[float], level: float) -> tuple[float, float]:
    """One-sided signed-rank bounds ``(lower, upper)`` of a location, each at ``level``, on the values' scale.

    ``lower`` is the k-th smallest Walsh mean and ``upper`` the k-th largest (k from
    :func:`one_sided_rank`); ``(-inf, inf)`` when ``len(logs)`` is too small for ``level``.
    """
    n = len(logs)
    k = one_sided_rank(n, level) if n else 0
    if k == 0:
        return -math.inf, math.inf
    walsh = sorted((logs[i] + logs[j]) / 2.0 for i in range(n) for j in range(i, n))
    return walsh[k - 1], walsh[len(walsh) - k]


def ratio_interval(ratios: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The speedup estimate, its interval and its claim bounds from per-round ratios (see the module docstring)."""
    logs = [math.log(r) for r in ratios]
    estimate, low, high = log_interval(logs, confidence)
    lower, upper = log_bounds(logs, claim_level(len(logs)))
    return Interval(math.exp(estimate), math.exp(low), math.exp(high), len(ratios), confidence,
                    math.exp(lower), math.exp(upper))


def decide(lower: float, upper: float, band: float = DEFAULT_BAND, margin: float = MARGIN,
           spread: float = SPREAD) -> VerdictName:
    """The verdict two claim bounds support (the table and precedence of the module docstring).

    ``lower`` and ``upper`` are speedups (0 and infinity when there are no bounds yet). A bound past the
    margin from bounds further apart than ``spread``× is ``undecided`` (too noisy), not a weaker claim.
    """
    if not (lower > 0 and math.isfinite(upper)):
        return "undecided"
    top, bottom = 1.0 + band, 1.0 / (1.0 + band)
    if lower > margin or upper < 1.0 / margin:
        # Too wide for a claim whose bound lies inside the band; a bound past the band's edge needs no
        # spread check (noise that lines up rarely moves a bound that far).
        inside = lower <= top if lower > margin else upper >= bottom
        if inside and upper > lower * spread:
            return "undecided"
        return "faster" if lower > margin else "slower"
    if bottom <= lower and upper <= top:
        return "same"
    if upper < top:
        return "not-faster"
    if lower > bottom:
        return "not-slower"
    return "undecided"


def classify(interval: Interval, band: float = DEFAULT_BAND) -> VerdictName:
    """The verdict the interval's claim bounds support (see the module docstring)."""
    return decide(interval.lower, interval.upper, band)


def claim_bound(verdict: VerdictName, interval: Interval) -> float | None:
    """The bound a verdict states: ``faster``/``not-slower`` at least ``lower``×, ``slower``/``not-faster`` at most
    ``upper``×; None for ``same`` and ``undecided``, which state a band or nothing."""
    if verdict in ("faster", "not-slower"):
        return interval.lower
    if verdict in ("slower", "not-faster"):
        return interval.upper
    return None


def claim_words(verdict: VerdictName, bound: float | None) -> str:
    """The claim with its bound, in words: ``faster: at least 1.15×``, ``slower: at least 1.25× slower``,
    ``no faster: at most 0.98×``, ``no slower: at least 0.90×``, ``same``, ``undecided``."""
    def x(value: float) -> str:
        return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"

    if bound is None or not (bound > 0 and math.isfinite(bound)):
        return "about the same" if verdict == "same" else verdict
    return {
        "faster": f"faster: at least {x(bound)}",
        "slower": f"slower: at least {x(1 / bound)} slower",
        "not-faster": f"no faster: at most {x(bound)}",
        "not-slower": f"no slower: at least {x(bound)}",
    }.get(verdict, verdict)


def undecided_reason(interval: Interval, band: float = DEFAULT_BAND) -> str:
    """Why an interval decides nothing, and what would help: too few rounds, too noisy, or too close to call."""
    if not interval.exists:
        return f"only {interval.n} round(s): a 95 % interval needs at least {MIN_ROUNDS}"
    if not interval.bounded:
        return f"only {interval.n} round(s): a claim needs at least {CLAIM_FIRST} (the looks' error control)"
    edge = "1 + band" if interval.estimate >= 1 else "1 − band"
    if interval.log_half_width > math.log1p(band):
        return (f"too noisy: the interval spans ±{math.expm1(interval.log_half_width):.0%}, wider than the ±{band:.0%}"
                " band; run more rounds, use bigger tasks, or measure when the machine is quieter")
    return (f"too close to call: the speedup lies near the edge of the ±{band:.0%} band ({edge}); more rounds would"
            " narrow the interval, or the difference is simply about that size")
