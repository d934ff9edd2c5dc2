"""Points of a sweep, measured together in interleaved rounds: what the evidence kinds that sweep share.

A sweep asks one question at several points: worker counts (:mod:`core.kinds.scaling`), payload
sizes (:mod:`core.kinds.transfer`), fib n (the break-even part of :mod:`core.kinds.overhead`), a
chunksize, a BLAS setting (:mod:`core.kinds.blas`). Measured point after point, minutes of a shared
machine's drift sit between the first point and the last: a neighbour that starts half-way slows
only the later points, and the curve bends where the code does not.

So every point here is one arm of :func:`core.measure.rounds.run_rounds`, as the engines of a
comparison are: every engine is opened first (its one-time start-up recorded apart, as ``setup_s``),
one unrecorded warm-up round runs every point once, then each of ``repeats`` rounds runs every point
once, in an order rotated round by round. A point's repeats are its rounds: a burst of load lands on
every point alike, which makes the sweep robust to drift. Between runs (never inside a stopwatch)
other programs' CPU is read, and the result carries it as ``noise``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from core.measure.estimate import PROCESS_WORKER_BYTES, Cost, estimate, memory_bytes
from core.measure.machine import machine_info
from core.measure.stats import MAX_ROUNDS
from core.spec import ExperimentSpec
from core.workloads import WORKLOADS

if TYPE_CHECKING:
    import pandas as pd

    from core.kinds.base import RunContext
    from core.measure.noise import Noise
    from core.measure.results import ExperimentResult

LOCAL = ("sync", "threads", "processes")
MAX_REPEATS = MAX_ROUNDS  # rounds of a sweep: each round runs every point once


@dataclass(frozen=True)
class Points:
    """What :func:`measure_points` measured.

    Attributes
    ----------
    results : tuple of ExperimentResult
        One per point, in the order given; its repeats are the rounds (repeat ``r`` ran in round ``r``).
    rounds : DataFrame
        One row per round and point: ``round``, ``point`` (its label), ``order`` (its place in that
        round), ``start_s`` (when its first task started, seconds after the first measured round
        began), ``wall_s`` and ``other_cores`` (other programs' CPU while it ran).
    noise : Noise
        Other programs' CPU over every measured run.
    wall_s, warmup_s : float
        The whole measurement (start-ups, warm-up, rounds), and its warm-up round.
    """

    results: tuple[ExperimentResult, ...] = field(repr=False)
    rounds: pd.DataFrame = field(repr=False)
    noise: Noise
    wall_s: float
    warmup_s: float


def measure_points(specs: Sequence[ExperimentSpec], repeats: int, ctx: RunContext, *,
                   labels: Sequence[str] | None = None, clusters: Any = None) -> Points:
    """Measure ``specs`` as the points of one sweep: a warm-up round, then ``repeats`` interleaved rounds.

    ``labels`` name the points in the ``rounds`` frame (default: their index); ``clusters`` (default
    ``ctx.clusters``) is where cluster engines get their LocalClusters and process engines their warm
    pools. The caller holds the run slot (:func:`core.kinds.base.measure` does).
    """
    import pandas as pd

    from core.measure.rounds import order, run_rounds

    state = run_rounds(list(specs), rounds=repeats, cores=machine_info().usable_cores,
                       clusters=ctx.clusters if clusters is None else clusters, watch=ctx.watch())
    rows = []
    for k, session in enumerate(state.sessions):
        first: dict[int, float] = {}
        for rec in session.records:  # per-task evidence, stamped inside the worker with the shared clock
            first[rec["repeat"]] = min(first.get(rec["repeat"], rec["start_epoch"]), rec["start_epoch"])
        for r in range(state.rounds):
            rows.append({"round": r, "point": labels[k] if labels else k, "order": order(len(specs), r + 1).index(k),
                         "start_epoch": first[r], "wall_s": state.times[r][k],
                         "other_cores": state.windows[r][k].other_cores})
    rounds = pd.DataFrame(rows)
    rounds["start_s"] = rounds["start_epoch"] - rounds["start_epoch"].min()
    rounds = rounds.drop(columns="start_epoch").sort_values(["round", "order"]).reset_index(drop=True)
    return Points(results=tuple(state.results()), rounds=rounds[["round", "point", "order", "start_s", "wall_s",
                                                                 "other_cores"]],
                  noise=state.noise(), wall_s=state.elapsed_s, warmup_s=state.warmup_s)


def points_cost(specs: Sequence[ExperimentSpec], repeats: int, *, what: str, advice: str) -> Cost:
    """What measuring ``specs`` in ``repeats`` rounds (after the warm-up round) takes.

    Every point's engine is open for the whole measurement, so every distinct pool or cluster counts
    with its start-up and its worker processes' memory at once; the payload of every point is made up
    front (:class:`core.measure.run.ArmSession`), and one point computes at a time.
    """
    setup: dict[tuple[Any, ...], float] = {}
    workers: dict[tuple[Any, ...], int] = {}
    per_round = 0.0
    longest = 0.0
    working = []
    payloads = []
    for spec in specs:
        est = estimate(spec)
        shape = (spec.scheduler, spec.workers, spec.threads_per_worker, spec.reuse_pool)
        setup[shape] = max(setup.get(shape, 0.0), est.setup_s)
        baseline = PROCESS_WORKER_BYTES.get(spec.scheduler, 0) * spec.workers
        workers[shape] = baseline
        per_round += est.per_repeat_s
        if spec.scheduler in LOCAL:
            longest = max(longest, est.per_repeat_s)
        working.append(memory_bytes(spec) - baseline)
        payloads.append(int(WORKLOADS[spec.workload].payload_bytes(spec.size)))
    busiest = int(np.argmax(working)) if working else 0
    memory = sum(workers.values()) + (working[busiest] if working else 0) + sum(
        p for k, p in enumerate(payloads) if k != busiest)
    return Cost(seconds=sum(setup.values()) + (1 + repeats) * per_round, memory_bytes=int(memory),
                longest_uncancellable_s=longest, what=what, advice=advice)


# --- parsing the lists a sweep runs over --------------------------------------------------------------


def parse_counts(text: str | Sequence[int], field: str, low: int, high: int) -> tuple[int, ...]:
    """``"1,2,4"`` (or a sequence of ints) → ``(1, 2, 4)``, sorted; ``ValueError`` naming ``field`` otherwise.

    Refuses empty lists, non-integers, values outside ``low..high`` and duplicates.
    """
    allowed = f"a comma-separated list of whole numbers from {low} to {high}"
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
        if not text.strip() or any(p == "" for p in parts):
            raise ValueError(f"{field} must be {allowed} (got {text[:60]!r})")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"{field} must be {allowed} (got {text[:60]!r})") from None
    else:
        values = list(text)
        if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
            raise ValueError(f"{field} must be {allowed} (got {str(values)[:60]})")
        values = [int(v) for v in values]
    bad = [v for v in values if not low <= v <= high]
    if bad:
        raise ValueError(f"{field} must be {allowed} (got {bad[0]})")
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"{field} lists {dupes[0]} more than once")
    return tuple(sorted(values))


def parse_names(text: str | Sequence[str], field: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """``"threads,processes"`` → ``("threads", "processes")`` in the given order; ``ValueError`` otherwise."""
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else [str(p) for p in text]
    if not parts or any(p == "" for p in parts):
        raise ValueError(f"{field} must be a comma-separated list of {', '.join(allowed)} (got {str(text)[:60]!r})")
    for p in parts:
        if p not in allowed:
            raise ValueError(f"{field} must be a comma-separated list of {', '.join(allowed)} (got {p[:60]!r})")
    dupes = [p for p in dict.fromkeys(parts) if parts.count(p) > 1]
    if dupes:
        raise ValueError(f"{field} lists {dupes[0]} more than once")
    return tuple(parts)


def table(frame: pd.DataFrame, columns: list[str]) -> str:
    """``frame[columns]`` as the terminal shows it: floats with three decimals."""
    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    shown = frame[columns].copy()
    return shown.to_string(index=False, formatters={c: fmt for c in columns if shown[c].dtype.kind == "f"})
