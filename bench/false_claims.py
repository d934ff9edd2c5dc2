"""How often the verdict rule claims what is not there: simulated adaptive comparisons, no engines.

    python -m bench.false_claims [--trials 4000] [--seed 1] [--margin M] [--alpha A] [--decay D]

Each simulated comparison is one baseline and one arm measured in paired rounds, as
:mod:`core.measure.rounds` measures them: every round runs both once, in an order rotated by the
round, so a run's moment in time (and the drift and neighbour bursts of that moment) depends on its
place in the round. The verdict is read at every look of :data:`core.measure.rounds.LOOKS`, with the
real :func:`core.measure.stats.decide` and signed-rank bounds, and the arm retires at its first
settled look (:data:`core.measure.stats.SETTLED`), its verdict then final; an arm never settled keeps
the verdict of the last look (40 rounds: the budget usually stops earlier, which only removes looks).

Noise models (the log of a per-round ratio has SD ``sd``; each run's own noise is log-normal):

* ``sd=…``: log-normal run-to-run noise only, from a quiet core (0.02) to a badly shared one (0.6);
* ``bursts …``: a neighbour using about half a core slows individual runs 1.3–2× at random (each run
  hit with probability 0.25 or 0.5), on top of sd 0.05;
* ``episodes``: the neighbour comes and goes in episodes of a few runs (duty 0.5), slowing the runs
  inside one 1.3–2×: the baseline and the arm of a round are often hit together, sometimes not;
* ``drift``: the machine slows steadily (up to 1.5× over 40 rounds) and wanders (a random walk), so
  whichever side runs later in a round is slower; the rotation alternates who that is;
* ``worst``: sd 0.3, bursts at 0.5, episodes and drift together.

Truths: identical arms (1.0: any ``faster`` or ``slower`` is a false claim), a real 1.25× (how soon it
is called ``faster`` with its bound above 1), and GIL-bound threads (0.92: how soon they are called
``not-faster`` or ``same``). The table is what README quotes; ``tests/test_stats.py`` checks the same
rates on fewer trials.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.measure.rounds import LOOKS
from core.measure.stats import (
    CLAIM_ALPHA,
    CLAIM_DECAY,
    CLAIM_FIRST,
    DEFAULT_BAND,
    FALSE_CLAIM_GOAL,
    MARGIN,
    SETTLED,
    SPREAD,
    claim_level,
    decide,
    one_sided_rank,
)

ROUNDS = LOOKS[-1]
Noise = Callable[[np.random.Generator, int, int], np.ndarray]


def _lognormal(sd: float) -> Noise:
    """Run-to-run noise only: each run's log time has SD ``sd / √2``, so a ratio's log has SD ``sd``."""
    def make(rng: np.random.Generator, trials: int, runs: int) -> np.ndarray:
        return np.exp(rng.normal(0.0, sd / np.sqrt(2.0), (trials, runs)))
    return make


def _bursts(p: float, sd: float = 0.05) -> Noise:
    """Each run slowed 1.3–2× with probability ``p`` (a neighbour's burst lands on it), on top of ``sd``."""
    def make(rng: np.random.Generator, trials: int, runs: int) -> np.ndarray:
        hit = rng.random((trials, runs)) < p
        return _lognormal(sd)(rng, trials, runs) * np.where(hit, rng.uniform(1.3, 2.0, (trials, runs)), 1.0)
    return make


def _episodes(duty: float = 0.5, mean_runs: float = 3.0, sd: float = 0.05) -> Noise:
    """A neighbour on and off in episodes of about ``mean_runs`` runs; runs inside one are slowed 1.3–2×."""
    def make(rng: np.random.Generator, trials: int, runs: int) -> np.ndarray:
        switch_off, switch_on = 1.0 / mean_runs, duty / (1.0 - duty) / mean_runs
        on = np.zeros((trials, runs), dtype=bool)
        state = rng.random(trials) < duty
        flips = rng.random((trials, runs))
        for t in range(runs):
            on[:, t] = state
            state = np.where(state, flips[:, t] >= switch_off, flips[:, t] < switch_on)
        slow = np.where(on, rng.uniform(1.3, 2.0, (trials, 1)), 1.0)  # one neighbour: one strength per comparison
        return _lognormal(sd)(rng, trials, runs) * slow
    return make


def _drift(sd: float = 0.05, ramp: float = 0.5, walk: float = 0.02) -> Noise:
    """The machine slows steadily (``1 + ramp`` at the end) and wanders (a random walk of log step ``walk``)."""
    def make(rng: np.random.Generator, trials: int, runs: int) -> np.ndarray:
        t = np.arange(runs) / max(runs - 1, 1)
        wander = np.cumsum(rng.normal(0.0, walk, (trials, runs)), axis=1)
        return _lognormal(sd)(rng, trials, runs) * (1.0 + ramp * t) * np.exp(wander)
    return make


def _worst() -> Noise:
    def make(rng: np.random.Generator, trials: int, runs: int) -> np.ndarray:
        return (_bursts(0.5, 0.3)(rng, trials, runs) * _episodes(sd=0.0)(rng, trials, runs)
                * _drift(sd=0.0)(rng, trials, runs))
    return make


NOISE: dict[str, Noise] = {
    "sd=0.02": _lognormal(0.02), "sd=0.05": _lognormal(0.05), "sd=0.1": _lognormal(0.1),
    "sd=0.2": _lognormal(0.2), "sd=0.3": _lognormal(0.3), "sd=0.6": _lognormal(0.6),
    "bursts 25 %": _bursts(0.25), "bursts 50 %": _bursts(0.5), "episodes": _episodes(), "drift": _drift(),
    "worst": _worst(),
}


def paired_log_ratios(noise: Noise, truth: float, trials: int, rng: np.random.Generator,
                      rounds: int = ROUNDS) -> np.ndarray:
    """``log(baseline / arm)`` of every round of ``trials`` comparisons, the arm ``truth``× faster.

    Round ``r`` runs the two sides in the order :func:`core.measure.rounds.order` gives them (rotated),
    so the baseline is the round's first run in one round and its second in the next.
    """
    factor = noise(rng, trials, 2 * rounds)  # the machine's slow-down of every run, in time order
    first_is_base = (np.arange(rounds) + 1) % 2 == 0  # order(2, r + 1): [0, 1] when r + 1 is even
    at_first, at_second = factor[:, 0::2], factor[:, 1::2]
    base = np.where(first_is_base, at_first, at_second)
    arm = np.where(first_is_base, at_second, at_first) / truth
    return np.log(base) - np.log(arm)


@dataclass(frozen=True)
class Outcome:
    """Every simulated comparison's final verdict, its bound and the rounds it took."""

    verdicts: np.ndarray
    bounds: np.ndarray
    rounds: np.ndarray

    def share(self, names: tuple[str, ...], within: int = ROUNDS) -> float:
        return float(np.mean(np.isin(self.verdicts, names) & (self.rounds <= within)))


_decide = np.frompyfunc(lambda lo, hi, band, margin, spread: decide(lo, hi, band, margin, spread), 5, 1)


def simulate(logs: np.ndarray, *, margin: float = MARGIN, alpha: float = CLAIM_ALPHA, decay: float = CLAIM_DECAY,
             spread: float = SPREAD, band: float = DEFAULT_BAND) -> Outcome:
    """Adaptive rounds on ``logs`` (trials × rounds): the verdict at every look, each arm retired when settled."""
    trials = logs.shape[0]
    verdicts = np.full(trials, "undecided", dtype=object)
    bounds = np.full(trials, np.nan)
    rounds = np.full(trials, ROUNDS)
    open_ = np.ones(trials, dtype=bool)
    for n in LOOKS:
        k = one_sided_rank(n, claim_level(n, alpha, decay))
        if k == 0:
            continue
        i, j = np.triu_indices(n)
        walsh = np.sort((logs[:, i] + logs[:, j]) / 2.0, axis=1)
        lower, upper = np.exp(walsh[:, k - 1]), np.exp(walsh[:, walsh.shape[1] - k])
        now = _decide(lower, upper, band, margin, spread).astype(object)
        here = open_.copy()
        verdicts[here] = now[here]
        bounds[here] = np.where(np.isin(now, ("faster", "not-slower")), lower,
                                np.where(np.isin(now, ("slower", "not-faster")), upper, np.nan))[here]
        rounds[here] = n
        open_ &= ~np.isin(now, tuple(SETTLED))
    return Outcome(verdicts, bounds, rounds)


def rates(trials: int = 4000, seed: int = 1, **rule: float) -> list[dict[str, float | str]]:
    """One row per noise model: the false-claim rate, and how soon a 1.25× and GIL-bound threads are decided."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, float | str]] = []
    for name, noise in NOISE.items():
        same = simulate(paired_log_ratios(noise, 1.0, trials, rng), **rule)
        real = simulate(paired_log_ratios(noise, 1.25, trials, rng), **rule)
        gil = simulate(paired_log_ratios(noise, 0.92, trials, rng), **rule)
        faster = real.verdicts == "faster"
        rows.append({
            "noise": name,
            "false claim": same.share(("faster", "slower")),
            "1.25× faster ≤ 8": real.share(("faster",), 8),
            "1.25× faster": float(np.mean(faster)),
            "1.25× median rounds": float(np.median(real.rounds[faster])) if faster.any() else float("nan"),
            "1.25× wrong": real.share(("not-faster", "same", "slower")),
            "0.92× no faster ≤ 8": gil.share(("not-faster", "same", "slower"), 8),
            "0.92× no faster": gil.share(("not-faster", "same", "slower")),
            "0.92× faster": gil.share(("faster",)),
        })
    return rows


def table(rows: list[dict[str, float | str]]) -> str:
    head = list(rows[0])
    cells = [[r[h] if isinstance(r[h], str) else (f"{r[h]:.0f}" if "rounds" in h else f"{r[h]:.1%}") for h in head]
             for r in rows]
    width = [max(len(str(c)) for c in [h, *(row[k] for row in cells)]) for k, h in enumerate(head)]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(row, width, strict=True)) for row in [head, *cells]]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--trials", type=int, default=4000, help="simulated comparisons per noise model and truth")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--margin", type=float, default=MARGIN)
    p.add_argument("--alpha", type=float, default=CLAIM_ALPHA, help="one-sided level of each bound at 6 rounds")
    p.add_argument("--decay", type=float, default=CLAIM_DECAY, help="the level shrinks as (6 / rounds) ** decay")
    args = p.parse_args()
    rows = rates(args.trials, args.seed, margin=args.margin, alpha=args.alpha, decay=args.decay)
    print(f"margin {args.margin:g}, level {args.alpha:.4f} × ({CLAIM_FIRST}/n)^{args.decay:g} per side and look, spread"
          f" {SPREAD:g},"
          f" band ±{DEFAULT_BAND:.0%}, looks {', '.join(map(str, LOOKS))}; {args.trials} comparisons per cell\n")
    print(table(rows))
    worst = max(float(r["false claim"]) for r in rows)
    print(f"\nworst false-claim rate {worst:.2%} (goal ≤ {FALSE_CLAIM_GOAL:.0%}):"
          f" {'met' if worst <= FALSE_CLAIM_GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
