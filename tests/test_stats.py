"""The statistics behind every verdict, on synthetic samples whose truth is known.

A verdict is only as good as its interval: these tests check that a known speedup is decided, that
identical samples are called the same, that noise is called undecided rather than guessed, that the
interval covers the truth about as often as it claims, and that pairing by round cancels a drift that
would fool a one-engine-after-the-other measurement.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.measure.rounds import order
from core.measure.stats import (
    DEFAULT_BAND,
    MIN_ROUNDS,
    classify,
    log_interval,
    paired_ratios,
    ratio_interval,
    undecided_reason,
)


def noisy(truth: float, n: int, spread: float, rng: random.Random) -> list[float]:
    """n per-round ratios around ``truth``, multiplicative noise of about ``spread`` (log-normal)."""
    return [truth * math.exp(rng.gauss(0.0, spread)) for _ in range(n)]


def test_a_known_speedup_is_decided_faster_and_its_interval_contains_it():
    rng = random.Random(1)
    interval = ratio_interval(noisy(2.0, 12, 0.05, rng))
    assert classify(interval) == "faster"
    assert interval.low < 2.0 < interval.high
    assert interval.low <= interval.estimate <= interval.high


def test_a_known_slowdown_is_decided_slower():
    rng = random.Random(2)
    assert classify(ratio_interval(noisy(0.5, 10, 0.05, rng))) == "slower"


def test_identical_samples_are_the_same():
    interval = ratio_interval(paired_ratios([0.1] * 8, [0.1] * 8))
    assert (interval.low, interval.estimate, interval.high) == (1.0, 1.0, 1.0)
    assert classify(interval) == "same"


def test_noisy_samples_are_undecided_and_say_why():
    rng = random.Random(3)
    interval = ratio_interval(noisy(1.0, 8, 0.6, rng))
    assert classify(interval) == "undecided"
    assert "too noisy" in undecided_reason(interval)


def test_a_speedup_at_the_band_edge_is_faster_by_what_the_data_support():
    """Once the band's edge, too close to call; now the claim is one-sided: faster, by at least its lower bound."""
    from core.measure.stats import MARGIN

    rng = random.Random(4)
    interval = ratio_interval(noisy(1 + DEFAULT_BAND, 30, 0.03, rng))
    assert interval.low < 1 + DEFAULT_BAND < interval.high
    assert classify(interval) == "faster" and MARGIN < interval.lower < 1 + DEFAULT_BAND


def test_fewer_rounds_than_an_interval_needs_decide_nothing():
    interval = ratio_interval([2.0, 2.0, 2.0, 2.0, 2.0])  # identical, but only 5
    assert not interval.exists and classify(interval) == "undecided"
    assert str(MIN_ROUNDS) in undecided_reason(interval)
    assert ratio_interval([2.0] * MIN_ROUNDS).exists


def test_the_six_round_interval_is_the_range_of_the_rounds():
    ratios = [1.1, 0.9, 1.3, 1.0, 1.2, 0.95]
    interval = ratio_interval(ratios)
    assert interval.low == pytest.approx(min(ratios)) and interval.high == pytest.approx(max(ratios))


def test_faster_must_clear_the_margin_not_just_one():
    """A 3 % speedup measured very precisely is 'the same', never 'faster': a claim must clear the margin."""
    interval = ratio_interval([1.03, 1.031, 1.029, 1.03, 1.032, 1.028, 1.03, 1.03])
    assert interval.lower > 1.0
    assert classify(interval) == "same"


def test_coverage_is_about_what_the_interval_claims():
    """Over many synthetic comparisons, the 95 % interval holds the true speedup at least ~93 % of the time."""
    rng = random.Random(5)
    trials, hits = 400, 0
    for _ in range(trials):
        n = rng.choice([6, 8, 12, 20])
        truth = rng.choice([0.8, 1.0, 1.7])
        interval = ratio_interval(noisy(truth, n, 0.2, rng))
        hits += interval.low <= truth <= interval.high
    assert hits / trials >= 0.93, hits / trials


def test_heavy_bursts_make_it_undecided_not_wrong():
    """A shared core slowed 1.5× at random: the rounds disagree, and the verdict never claims 'faster'."""
    rng = random.Random(6)
    wrong = 0
    for _ in range(300):
        base = [0.1 * (1.5 if rng.random() < 0.4 else 1.0) for _ in range(10)]
        arm = [0.1 * (1.5 if rng.random() < 0.4 else 1.0) for _ in range(10)]  # the same work: truth 1.0
        wrong += classify(ratio_interval(paired_ratios(base, arm))) in ("faster", "slower")
    assert wrong == 0


def test_pairing_by_round_cancels_a_drift_injected_mid_run():
    """The machine slows to half speed halfway through: measured in rounds, the 2× speedup stays 2×.

    Measured one engine after the other (all baseline repeats, then all arm repeats), the same drift
    would make the arm look no faster at all.
    """
    rounds = 12
    drift = [1.0 if r < rounds // 2 else 2.0 for r in range(rounds)]
    base = [0.2 * d for d in drift]
    arm = [0.1 * d for d in drift]
    interval = ratio_interval(paired_ratios(base, arm))
    assert interval.estimate == pytest.approx(2.0) and classify(interval) == "faster"
    sequential = [0.2] * (rounds // 2) + [0.1 * 2.0] * (rounds // 2)  # baseline first (quiet), arm later (slow)
    assert sequential[0] / sequential[-1] == pytest.approx(1.0)  # what a one-after-the-other stopwatch sees


def test_rounds_rotate_the_order_so_no_arm_is_always_first():
    orders = [order(3, r) for r in range(6)]
    assert orders[0] == [0, 1, 2] and orders[1] == [1, 2, 0] and orders[2] == [2, 0, 1]
    firsts = {o[0] for o in orders}
    assert firsts == {0, 1, 2}
    assert all(sorted(o) == [0, 1, 2] for o in orders)


def test_paired_ratios_refuse_mismatched_or_impossible_times():
    with pytest.raises(ValueError, match="one value per round"):
        paired_ratios([1.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="positive and finite"):
        paired_ratios([1.0], [0.0])
    with pytest.raises(ValueError, match="positive and finite"):
        paired_ratios([math.nan], [1.0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.05, max_value=20.0), min_size=1, max_size=40))
def test_the_interval_always_contains_its_point_estimate(ratios):
    interval = ratio_interval(ratios)
    assert interval.low <= interval.estimate * (1 + 1e-12)
    assert interval.estimate <= interval.high * (1 + 1e-12)
    logs = [math.log(r) for r in ratios]
    est, low, high = log_interval(logs)
    assert min(logs) - 1e-12 <= est <= max(logs) + 1e-12


# --- one-sided claims over the looks of adaptive rounds ---------------------------------------------------


def _looks(ratios: list[float]) -> tuple[str, int, float | None]:
    """An arm's verdict as adaptive rounds settle it: the first settled look, else the last (all of LOOKS)."""
    from core.measure.rounds import LOOKS
    from core.measure.stats import SETTLED, claim_bound

    for n in LOOKS:
        interval = ratio_interval(ratios[:n])
        verdict = classify(interval)
        if verdict in SETTLED:
            break
    return verdict, n, claim_bound(verdict, interval)


def test_identical_arms_are_rarely_called_faster_or_slower_over_every_look():
    """Seeded simulated comparisons of two identical arms under heavy noise and bursts, every look taken: a false
    faster/slower stays within the goal (bench/false_claims.py runs the full table)."""
    import numpy as np

    from bench.false_claims import NOISE, paired_log_ratios, simulate
    from core.measure.stats import FALSE_CLAIM_GOAL

    rng = np.random.default_rng(7)
    for name in ("sd=0.3", "bursts 50 %", "worst"):
        outcome = simulate(paired_log_ratios(NOISE[name], 1.0, 1500, rng))
        assert outcome.share(("faster", "slower")) <= FALSE_CLAIM_GOAL + 0.005, name  # 1500 trials: ±0.25 % sd


def test_the_simulation_decides_as_the_lab_does():
    """bench/false_claims.py's vectorised looks give the verdict classify gives on the same rounds."""
    import numpy as np

    from bench.false_claims import NOISE, paired_log_ratios, simulate

    logs = paired_log_ratios(NOISE["sd=0.2"], 1.1, 60, np.random.default_rng(8))
    outcome = simulate(logs)
    for row, verdict, n in zip(logs, outcome.verdicts, outcome.rounds, strict=True):
        assert _looks([math.exp(x) for x in row])[:2] == (verdict, n)


def test_a_real_quarter_faster_is_faster_with_a_bound_above_one_at_the_first_looks():
    rng = random.Random(9)
    verdict, rounds, bound = _looks(noisy(1.25, 40, 0.05, rng))
    assert verdict == "faster" and bound is not None and 1.0 < bound < 1.25 and rounds <= 8


def test_gil_bound_threads_are_no_faster_at_the_first_looks():
    rng = random.Random(10)
    verdict, rounds, bound = _looks(noisy(0.97, 40, 0.05, rng))
    assert verdict == "same" and bound is None and rounds <= 8  # precise: inside the band both ways
    verdict, rounds, bound = _looks(noisy(0.97, 40, 0.12, rng))
    assert verdict == "not-faster" and bound is not None and 0.97 < bound < 1 + DEFAULT_BAND and rounds <= 8
    for _ in range(20):  # the cost of taking turns: any answer but "it helps", at the first looks
        verdict, rounds, bound = _looks(noisy(0.9, 40, 0.05, rng))
        assert verdict in ("same", "not-faster", "slower") and rounds <= 8, (verdict, rounds)
        assert verdict == "same" or bound is not None and bound < 1 + DEFAULT_BAND


def test_a_real_slowdown_is_slower_and_a_small_one_no_slower_but_open():
    from core.measure.stats import SETTLED, claim_bound, claim_words

    interval = ratio_interval(noisy(0.8, 10, 0.03, random.Random(11)))
    assert classify(interval) == "slower"
    assert claim_words("slower", claim_bound("slower", interval)).startswith("slower: at least 1.")
    interval = ratio_interval([1.1, 1.2, 1.35, 1.0, 1.25, 1.15, 1.3])  # above 1/1.2, reaching beyond 1.2
    assert classify(interval) == "not-slower" and claim_bound("not-slower", interval) == pytest.approx(1.0)
    assert "not-slower" not in SETTLED  # it leaves open whether the arm helps: the rounds go on


def test_the_precedence_of_claims():
    from core.measure.stats import MARGIN, SPREAD, decide

    top, bottom = 1 + DEFAULT_BAND, 1 / (1 + DEFAULT_BAND)
    assert decide(MARGIN * 1.01, 1.15) == "faster"  # also inside the band: the directional claim comes first
    assert decide(0.9, 1 / MARGIN / 1.01) == "slower"
    assert decide(bottom, top) == "same"  # both halves hold: the band, not either half
    assert decide(0.7, 1.1) == "not-faster" and decide(0.9, 1.6) == "not-slower"
    assert decide(0.7, 1.6) == "undecided" and decide(0.0, math.inf) == "undecided"
    assert decide(1.1, 1.1 * SPREAD * 1.01) == "undecided"  # past the margin, but too wide to claim anything


def test_with_six_rounds_no_bound_exists_and_with_seven_it_is_the_extreme():
    from core.measure.stats import claim_level, one_sided_rank

    assert one_sided_rank(6, claim_level(6)) == 0 and one_sided_rank(7, claim_level(7)) == 1
    interval = ratio_interval([1.3, 1.4, 1.35, 1.32, 1.38, 1.31, 1.36])
    assert interval.lower == pytest.approx(1.3) and interval.upper == pytest.approx(1.4)
