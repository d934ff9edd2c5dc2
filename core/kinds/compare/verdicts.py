"""From rounds to verdicts: each arm against the baseline, the page's pairs, and the physics guards.

A verdict says only what the paired rounds support (:mod:`core.measure.stats`), and two guards keep a
wrong lesson out: a busy machine turns a ``same``/``not-faster``/``slower`` of a parallel arm into
``undecided`` (:func:`arm_verdict`), and a ``faster`` the machine cannot produce is a measurement problem
(:func:`implausible_why`). The honest ideal behind the efficiencies is built from :func:`task_floor`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from core.fmt import times as _fmt_x
from core.kinds.compare.spec import Arm, CompareSpec
from core.measure.machine import machine_info
from core.measure.noise import BUSY_CORES
from core.measure.stats import (
    Interval,
    VerdictName,
    claim_bound,
    claim_words,
    classify,
    paired_ratios,
    ratio_interval,
    undecided_reason,
)
from core.spec import ONE_GIL_SCHEDULERS
from core.workloads import FUNCTION, workload_info

EFFICIENCY_TOLERANCE = 1.05  # an efficiency above this is a measurement problem, not a success


@dataclass(frozen=True)
class Verdict:
    """What the rounds say about one arm against the baseline (or, in a pair, against ``against``).

    ``speedup`` is the Hodges–Lehmann estimate of the per-round ratios baseline ÷ arm (> 1: the arm was
    faster), ``ci`` its 95 % interval, ``verdict`` the claim its one-sided bounds support and ``bound``
    the bound that claim states (``faster``/``not-slower``: at least ``bound``×; ``slower``/``not-faster``:
    at most ``bound``×; None for ``same`` and ``undecided``), ``reason`` why an ``undecided`` one
    decides nothing (and what would help). ``against`` is empty for a verdict against the baseline.
    ``busy`` says other programs took at least :data:`core.measure.noise.BUSY_CORES` cores while this arm
    ran; ``cores_used`` is the CPU its tasks really got (task CPU ÷ compute time), ``efficiency`` its wall
    against the honest ideal.
    """

    label: str
    scheduler: str
    spec: dict[str, Any]
    lanes: int
    verdict: VerdictName
    speedup: float
    ci: tuple[float, float]
    rounds: int
    reason: str
    busy: bool
    other_cores: float
    cores_used: float
    efficiency: float
    bound: float | None = None
    against: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = [self.ci[0], self.ci[1]]
        return out

    @property
    def claim(self) -> str:
        """The verdict with its bound: ``faster: at least 1.62×``, ``no faster: at most 0.98×``, ``about the same``."""
        return claim_words(self.verdict, self.bound)

    @property
    def helps(self) -> bool:
        """Whether the verdict says the arm is faster (the only claim that it helps)."""
        return self.verdict == "faster"

    @property
    def no_help(self) -> bool:
        """Whether the verdict says the arm does not help: ``not-faster``, ``same`` or ``slower``."""
        return self.verdict in ("not-faster", "same", "slower")

    def describe(self) -> str:
        """``faster: at least 1.62× (1.76×, 95 % CI 1.70–1.83)``."""
        lo, hi = self.ci
        interval = f"95 % CI {_fmt_x(lo)}–{_fmt_x(hi)}" if math.isfinite(hi) and lo > 0 else "no interval yet"
        return f"{self.claim} ({_fmt_x(self.speedup)}, {interval})"


def arm_cores(scheduler: str, lanes: int, cores: int) -> int:
    """The cores an arm's tasks can use: this machine's, or an external cluster's threads (its lanes)."""
    return lanes if scheduler == "external" else cores


def ideal_wall(spec: CompareSpec, lanes: int, cores: int, floor_s: float) -> float:
    wl = workload_info(spec.workload)
    if not math.isfinite(floor_s) or lanes < 1:
        return math.nan
    parallel = max(1, lanes if not wl.cpu_bound else min(lanes, cores))
    return math.ceil(spec.tasks / parallel) * floor_s


def verdicts_from(spec: CompareSpec, state: Any) -> tuple[Verdict, ...]:
    """One :class:`Verdict` per arm after the baseline, from a :class:`core.measure.rounds.RoundsState`.

    Works on the raw rounds (no frames are built), so adaptive rounds can ask after every round.
    """
    floor_all = task_floor(spec, state)  # once: it sorts every task of every arm, and this runs after every round
    return tuple(arm_verdict(spec, state, k, 0, floor_all) for k in range(1, len(spec.arms)))


def pair_verdicts_from(spec: CompareSpec, state: Any) -> tuple[Verdict, ...]:
    """One :class:`Verdict` per pair of ``spec.pairs`` (a's speedup over b), from the rounds both arms ran."""
    if not spec.pairs:
        return ()
    floor_all = task_floor(spec, state)
    return tuple(arm_verdict(spec, state, a, b, floor_all) for a, b in spec.pair_indices())


def arm_verdict(spec: CompareSpec, state: Any, k: int, j: int, floor_all: float) -> Verdict:
    """Arm ``k`` against arm ``j`` (0: the baseline) over the rounds both ran, with the physics guards."""
    cores = state.cores
    times = state.times
    retired = getattr(state, "retired", {})
    arm_spec, session = spec.arms[k], state.sessions[k]
    # A retired arm (settled at a look) is read from the rounds it ran, exactly as at that look; a pair from the
    # rounds both ran (the baseline runs every round).
    n = min(retired.get(k, len(times)), retired.get(j, len(times)))
    floor_s = task_floor(spec, state, rounds=n) if n < len(times) else floor_all
    interval: Interval = ratio_interval(paired_ratios([row[j] for row in times[:n]], [row[k] for row in times[:n]]))
    verdict = classify(interval, spec.band)
    reason = "" if verdict != "undecided" else undecided_reason(interval, spec.band)
    nz = state.arm_noise(k)
    used, lanes = session.cores_used, session.lanes
    free = cores - (nz.other_cores if math.isfinite(nz.other_cores) else 0.0)
    starved = math.isfinite(used) and used >= free - BUSY_CORES
    if (verdict in ("same", "not-faster", "slower") and nz.other_cores >= BUSY_CORES and lanes > 1
            and (starved or not one_core_at_most(spec, arm_spec))):
        # Other programs took CPU this arm could have used: a busy machine, not the code, may have held it
        # back. Say so rather than teach "it does not help". Only an arm that can use one core at most
        # whatever the machine does (pure-Python work on threads sharing one GIL) keeps its "same" or "not
        # faster", and only while it did not use all the CPU left to it. The CPU it used alone does not tell:
        # the neighbour's bursts come and go within a round, so a starved process pool's CPU ÷ wall can come
        # as low as a GIL-bound thread pool's (README, Performance: bench/verdicts.py on a noisy machine).
        verdict = "undecided"
        took = (f"it used all the CPU left ({used:.1f} cores)" if starved
                else "they took CPU its parallel lanes could have used")
        reason = (f"the machine was busy: other programs used {nz.other_cores:.1f} of {cores} cores while it ran,"
                  f" and {took}; measure again when the machine is quieter")
    ideal = ideal_wall(spec, lanes, arm_cores(arm_spec.engine, lanes, cores), floor_s)
    walls = sorted(row[k] for row in times[:n])
    wall = (walls[(len(walls) - 1) // 2] + walls[len(walls) // 2]) / 2 if walls else math.nan
    efficiency = ideal / wall if math.isfinite(ideal) and wall > 0 else math.nan
    if verdict == "faster":
        implausible = implausible_why(spec, arm_spec, efficiency)
        if implausible:
            verdict, reason = "undecided", implausible
    return Verdict(
        label=arm_spec.label, scheduler=arm_spec.engine, spec=session.spec.to_dict(), lanes=lanes,
        verdict=verdict, speedup=interval.estimate, ci=(interval.low, interval.high), rounds=interval.n,
        reason=reason, busy=bool(nz.busy), other_cores=nz.other_cores, cores_used=used,
        efficiency=efficiency, bound=claim_bound(verdict, interval), against="" if j == 0 else spec.arms[j].label,
    )


def implausible_why(spec: CompareSpec, arm: Arm, efficiency: float) -> str:
    """Why a ``faster`` the interval supports is still not a lesson to teach, or ``""`` when it is plausible.

    Two results the machine itself cannot produce are measurement problems, like an efficiency above 1:
    an arm faster than the ideal (the shortest task anyone measured, on every core), and pure-Python
    work more than the band faster on an engine whose threads share one GIL, on an interpreter that
    has one. Both happen when other programs change the machine's speed under the rounds (a baseline
    round slowed by a burst looks like a speedup of everything else); the cure is to measure again.
    """
    if math.isfinite(efficiency) and efficiency > EFFICIENCY_TOLERANCE:
        return (f"it ran at {efficiency:.2f}× the ideal this machine allows, which no engine can: the machine's speed"
                " changed during the comparison; measure again")
    if one_core_at_most(spec, arm):
        return ("its threads share one GIL, and this pure-Python work cannot run in parallel on them: the speed-up"
                " came from the machine's load changing between rounds, not from the threads; measure again when"
                " the machine is quieter")
    return ""


def one_core_at_most(spec: CompareSpec, arm: Arm) -> bool:
    """Whether the arm's tasks can use one core at most, whatever the machine: GIL-holding work on threads of one
    process, on an interpreter with a GIL. Your own function's GIL behaviour is ``unknown``: no rule applies."""
    wl = workload_info(spec.workload)
    if not (arm.engine in ONE_GIL_SCHEDULERS and wl.cpu_bound and wl.gil == "holds"):
        return False
    if arm.python:  # threads on another interpreter: that one's GIL (a free-threaded build has none)
        from core.interpreters import gil_enabled_on

        return gil_enabled_on(arm.python)
    return machine_info().gil_enabled


def task_floor(spec: CompareSpec, state: Any, rounds: int | None = None) -> float:
    """How long one task takes at best on this machine: the bound behind the ideal and the efficiencies.

    A sleep lasts its own length. For CPU-bound work it is the CPU time of a typical task on the arm
    whose tasks ran fastest (the lowest of the arms' median per-task CPU time): not the baseline's
    wall time, which the parent process measures with everything it has imported and started
    slowing it (a fresh worker process runs the same task faster), and not a wall time, which waits
    inflate. A median, not the single luckiest task: on a shared core a few tasks always run in a
    quiet moment, and an ideal built from those no typical run can approach. ``transfer`` is about
    moving data, not computing, and your own function may wait as well as compute: they have no floor.
    ``rounds`` limits it to the tasks of the first rounds (a retired arm's verdict, as it was decided).
    """
    wl = workload_info(spec.workload)
    if spec.workload in ("transfer", FUNCTION):
        return math.nan
    if not wl.cpu_bound:
        return float(spec.size) if spec.workload == "sleep" else math.nan
    medians = []
    for session in state.sessions:
        cpu = sorted(r["cpu_s"] for r in session.records
                     if r["cpu_s"] > 0 and (rounds is None or r["repeat"] < rounds))
        if cpu:
            medians.append((cpu[(len(cpu) - 1) // 2] + cpu[len(cpu) // 2]) / 2)
    return min(medians) if medians else math.nan

