"""Interleaved rounds: several arms measured as one unit, so that they saw the same machine.

Measuring one engine's repeats and then the next engine's puts minutes of a shared machine's drift
between them: a neighbour that starts in the middle slows only the second engine, and the comparison
teaches a lesson the code does not have. Here every arm is opened first (pools and clusters started,
their one-time start-up recorded apart), one unrecorded warm-up round runs every arm once (imports,
first-touch memory, a cluster's first task), then round ``r`` runs every arm once (every arm still
running: see *settled arms* below), with the order rotated by ``r`` so no arm always goes first or
last. Each arm's run in a round is one repeat of its :class:`~core.measure.run.ArmSession`, timed by
the one run path; between runs (never inside a stopwatch) :mod:`core.measure.noise` reads how much
CPU other programs took.

Rounds are fixed (``rounds=N``) or adaptive (``"auto"``): after
:data:`~core.measure.stats.FEWEST_AUTO_ROUNDS` rounds (the fewest with which a claim can be made), a round is
added while some arm is still unsettled and the next round still fits in ``budget_s``.

**Settled arms leave.** With ``settled``, adaptive rounds ask at every look which arms are decided
already; those stop running (their verdict is read from the rounds they ran, as it was at that look)
and the budget left goes to the arms still undecided. On a 2-core machine a *same* verdict needs two to
three times the rounds a *faster* one does: a process pool decided after six rounds no longer takes a
fifth of every later round from the thread pool whose verdict is still open. The baseline always
runs: every later round is still a paired comparison of the arms left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Literal

from core.engines import ClusterSource, Watch, park_idle_clusters
from core.measure import noise
from core.measure.results import ExperimentResult
from core.measure.run import ArmSession
from core.measure.stats import BUSY_BUDGET_FACTOR, FEWEST_AUTO_ROUNDS, MAX_ROUNDS
from core.spec import ExperimentSpec

Rounds = int | Literal["auto"]
StopReason = Literal["rounds", "decided", "budget", "max-rounds"]

# Adaptive rounds look at the data only at these round counts: every look is a chance for noise to
# cross a threshold, so looks thin out as the rounds grow (each is ~25-35 % later than the last). The first
# is the fewest rounds with which a claim can be made (core.measure.stats.FEWEST_AUTO_ROUNDS).
LOOKS = (7, 8, 10, 12, 14, 17, 20, 24, 28, 32, 36, 40)


@dataclass
class RoundsState:
    """What the rounds have measured so far (handed to ``settled`` and ``on_round`` after each round).

    Attributes
    ----------
    specs : list of ExperimentSpec
        The arms, in the order given (the first is the baseline of a comparison).
    sessions : list of ArmSession
        One per arm, holding its recorded repeats (one per round).
    times : list of list of float
        ``times[r][k]``: wall seconds of arm ``k`` in round ``r``.
    windows : list of list of noise.Window
        ``windows[r][k]``: the machine's CPU use while arm ``k`` ran in round ``r``.
    setup_s : list of float
        One-time start-up of each arm (a pool or cluster started for this comparison; 0 if reused).
    warmup_s : float
        Wall time of the unrecorded warm-up round.
    elapsed_s : float
        Wall time since the comparison began (start-up, warm-up and rounds).
    cores : int
        Usable cores.
    stop : StopReason or None
        Why the rounds ended (None while they go on).
    retired : dict of int to int
        Arms that stopped running because their verdict was settled: arm index → the rounds it ran
        (its entries in ``times`` after those are NaN).
    """

    specs: list[ExperimentSpec]
    sessions: list[ArmSession]
    cores: int
    times: list[list[float]] = field(default_factory=list)
    windows: list[list[noise.Window]] = field(default_factory=list)
    setup_s: list[float] = field(default_factory=list)
    warmup_s: float = 0.0
    elapsed_s: float = 0.0
    stop: StopReason | None = None
    retired: dict[int, int] = field(default_factory=dict)

    @property
    def rounds(self) -> int:
        return len(self.times)

    def rounds_of(self, k: int) -> int:
        """How many rounds arm ``k`` ran (fewer than :attr:`rounds` once it was retired)."""
        return self.retired.get(k, self.rounds)

    def column(self, k: int) -> list[float]:
        """Arm ``k``'s wall time in every round it ran."""
        return [row[k] for row in self.times[:self.rounds_of(k)]]

    def arm_noise(self, k: int) -> noise.Noise:
        """Other programs' CPU while arm ``k`` ran (its rounds only)."""
        return noise.summarize([row[k] for row in self.windows[:self.rounds_of(k)]], self.cores)

    def noise(self) -> noise.Noise:
        """Other programs' CPU over every measured run of every arm."""
        return noise.summarize([w for row in self.windows for w in row], self.cores)

    def results(self) -> list[ExperimentResult]:
        """One :class:`ExperimentResult` per arm, its rounds as repeats."""
        return [s.result() for s in self.sessions]


def order(arms: int, round_index: int) -> list[int]:
    """Arm indices in the order round ``round_index`` runs them: rotated by the round."""
    shift = round_index % arms
    return list(range(shift, arms)) + list(range(shift))


def run_rounds(
    specs: Sequence[ExperimentSpec],
    *,
    rounds: Rounds,
    cores: int,
    budget_s: float | None = None,
    settled: Callable[[RoundsState], Collection[int]] | None = None,
    on_round: Callable[[RoundsState], None] | None = None,
    clusters: ClusterSource | None = None,
    watch: Watch | None = None,
) -> RoundsState:
    """Measure ``specs`` in interleaved rounds (see the module docstring); return the final state.

    Parameters
    ----------
    specs : sequence of ExperimentSpec
        The arms; their ``repeats`` and ``warmup`` are ignored (one repeat per round).
    rounds : int or "auto"
        A fixed number of measured rounds, or adaptive rounds.
    cores : int
        Usable cores (for the noise readings).
    budget_s : float, optional
        Adaptive rounds only: no round is started that would end more than this many seconds after the
        warm-up round began (the engines' one-time start-up is not counted: a LocalCluster is started
        once and reused); on a busy machine, :data:`BUSY_BUDGET_FACTOR` times that.
        :data:`~core.measure.stats.FEWEST_AUTO_ROUNDS` rounds always run.
    settled : callable, optional
        Adaptive rounds only: at the rounds in :data:`LOOKS`, the indices of arms (never 0, the baseline) whose
        verdict is settled; they stop running (:attr:`RoundsState.retired`). The rounds stop as decided
        when every arm but the baseline has settled.
    on_round : callable, optional
        Called after the warm-up (with no rounds yet) and after every round, for live results.
    clusters, watch
        Where cluster engines get their LocalClusters; progress, stop requests and deadline.
    """
    if rounds != "auto" and (isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS):
        raise ValueError(f"rounds must be 'auto' or a whole number from 1 to {MAX_ROUNDS} (got {rounds!r})")
    watch = watch or Watch()
    t0 = time.monotonic()
    with ExitStack() as stack:
        sessions = [stack.enter_context(ArmSession(spec, clusters, watch)) for spec in specs]
        state = RoundsState(list(specs), sessions, cores)
        # Kept LocalClusters no arm uses are stopped first: idle, they still take ~0.1 core that the noise
        # monitor counts as the lab's own (core.engines.cluster.park_idle_clusters).
        park_idle_clusters(session.cluster for session in sessions)
        for k, session in enumerate(sessions):
            watch.check()  # a cluster's start cannot be interrupted: do not begin one for nothing
            watch.notify(f"Starting {specs[k].scheduler}", 0.0)
            state.setup_s.append(session.open())
        watch.start()
        planned = MAX_ROUNDS if rounds == "auto" else rounds
        total = planned + 1
        t_warm = time.monotonic()
        for k in order(len(sessions), 0):
            watch.stage(f"warm-up: {specs[k].scheduler}", 0, total)
            watch.check()
            sessions[k].measure(record=False)
        state.warmup_s = time.monotonic() - t_warm
        state.elapsed_s = time.monotonic() - t0
        if on_round is not None:
            on_round(state)
        last_round_s = state.warmup_s
        slowest_s = state.warmup_s  # a round is hung only against the rounds this comparison really took
        while True:
            r = state.rounds
            if rounds != "auto" and r >= rounds:
                state.stop = "rounds"
                break
            if rounds == "auto" and r >= FEWEST_AUTO_ROUNDS:
                if r in LOOKS and settled is not None:
                    for k in settled(state):
                        if 0 < k < len(sessions):
                            state.retired.setdefault(k, r)
                    if len(state.retired) == len(sessions) - 1:
                        state.stop = "decided"
                        break
                if r >= MAX_ROUNDS:
                    state.stop = "max-rounds"
                    break
                allowed = budget_s * (BUSY_BUDGET_FACTOR if state.noise().busy else 1.0) if budget_s else None
                if allowed is not None and time.monotonic() - t_warm + 1.1 * last_round_s > allowed:
                    state.stop = "budget"
                    break
            t_round = time.monotonic()
            watch.step(slowest_s)
            times = [math.nan] * len(sessions)
            windows: list[noise.Window] = [noise.Window(0.0, math.nan, math.nan)] * len(sessions)
            # Rotated among the arms still running: with one arm settled, the others still take turns going
            # first (skipping it in the full rotation would put the same arm first in two rounds of three).
            active = [k for k in range(len(sessions)) if k not in state.retired]
            for k in (active[i] for i in order(len(active), r + 1)):
                label = f"round {r + 1}" + (f" of {rounds}" if rounds != "auto" else "")
                watch.stage(f"{label}: {specs[k].scheduler}", r + 1, total)
                watch.check()
                watch.notify(f"{label}: {specs[k].scheduler}", (r + 1) / total)
                before = noise.sample()
                row = sessions[k].measure(record=True)
                windows[k] = noise.window(before, noise.sample())
                times[k] = row["wall_s"]
            state.times.append(times)
            state.windows.append(windows)
            last_round_s = time.monotonic() - t_round
            slowest_s = max(slowest_s, last_round_s)
            state.elapsed_s = time.monotonic() - t0
            if on_round is not None:
                on_round(state)
        # Engine info (a cluster's workers) is read while the engines are still open.
        for session in sessions:
            session.info()
    watch.notify("Done", 1.0)
    return state
