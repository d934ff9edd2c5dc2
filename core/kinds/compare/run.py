"""Running a comparison: every arm opened, a warm-up round, interleaved rounds; and what it will cost."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from typing import Any

from core.kinds.base import RunContext
from core.kinds.compare.result import ComparisonResult
from core.kinds.compare.spec import CompareSpec
from core.kinds.compare.verdicts import arm_cores, ideal_wall, pair_verdicts_from, task_floor, verdicts_from
from core.kinds.run import function_deadline
from core.measure.estimate import Cost, estimate
from core.measure.machine import machine_info
from core.measure.stats import (
    BUSY_BUDGET_FACTOR,
    FEWEST_AUTO_ROUNDS,
    MAX_ROUNDS,
    SETTLED,
)
from core.spec import UNCANCELLABLE_SCHEDULERS
from core.workloads import FUNCTION


def build_comparison(spec: CompareSpec, state: Any, *, run_id: str, started_at: str, running: bool,
                     trial: dict[str, Any] | None = None) -> ComparisonResult:
    """Assemble a :class:`ComparisonResult` from a :class:`core.measure.rounds.RoundsState`."""
    arms = state.results()
    cores = state.cores
    floor_s = task_floor(spec, state)
    ideals = [ideal_wall(spec, s.lanes, arm_cores(s.spec.scheduler, s.lanes, cores), floor_s) for s in state.sessions]
    ideal_s = min((i for i in ideals if math.isfinite(i)), default=math.nan)  # the widest arm's, or a cluster's
    return ComparisonResult(
        spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at, arms=tuple(arms),
        verdicts=verdicts_from(spec, state), pair_verdicts=pair_verdicts_from(spec, state),
        rounds=state.rounds, stop="running" if running else str(state.stop), wall_s=state.elapsed_s,
        warmup_s=state.warmup_s, noise=state.noise(),
        round_noise=tuple(tuple(w.other_cores for w in row) for row in state.windows),
        task_floor_s=floor_s, ideal_s=ideal_s, trial=trial,
    )


def run_compare(spec: CompareSpec, ctx: RunContext | None = None) -> ComparisonResult:
    """Measure ``spec``: every arm opened, a warm-up round, then interleaved rounds until done.

    The caller holds the run slot (:func:`core.kinds.base.measure` does); ``ctx.on_partial`` gets
    the result after every round (``stop == "running"``), for pages and terminals that show it live.
    """
    from core.measure.rounds import run_rounds

    ctx = ctx or RunContext()
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cores = machine_info().usable_cores
    watch = ctx.watch()
    trial = None
    if spec.workload == FUNCTION:
        from core.userfunc import check_spec

        for exp in spec.experiments():  # every arm's needs (a value that pickles), before any pool starts
            trial = check_spec(exp).to_dict()
        watch.deadline_s = function_deadline(ctx, cost(spec))

    def settled(state: Any) -> list[int]:
        # An arm retires only when it has answered every question it is in: against the baseline, and in each
        # pair the page teaches (a pair is read from the rounds both ran, so neither may leave before it is).
        done = {k for k, v in enumerate(verdicts_from(spec, state), start=1) if v.verdict in SETTLED}
        for (a, b), v in zip(spec.pair_indices(), pair_verdicts_from(spec, state), strict=True):
            if v.verdict not in SETTLED:
                done -= {a, b}
        return sorted(done)

    def on_round(state: Any) -> None:
        if ctx.on_partial is not None and state.rounds >= 1:
            ctx.on_partial(build_comparison(spec, state, run_id=run_id, started_at=started_at, running=True,
                                            trial=trial))

    state = run_rounds(spec.experiments(), rounds=spec.rounds, cores=cores, budget_s=spec.budget_s,
                       settled=settled, on_round=on_round, clusters=ctx.clusters, watch=watch)
    return build_comparison(spec, state, run_id=run_id, started_at=started_at, running=False, trial=trial)


def cost(spec: CompareSpec) -> Cost:
    """Start-ups, the warm-up round and the fewest rounds it will run; at most the budget when adaptive."""
    from core.measure.estimate import PROCESS_WORKER_BYTES

    per_round = 0.0
    setup = 0.0
    workers = 0  # every arm's worker processes are alive together, for the whole comparison
    arrays = 0  # the arms compute one at a time: the largest arm's data counts
    longest = 0.0
    for exp in spec.experiments():
        est = estimate(exp)
        per_round += est.per_repeat_s
        setup += est.setup_s
        own = PROCESS_WORKER_BYTES.get(exp.scheduler, 0) * exp.workers
        workers += own
        arrays = max(arrays, est.memory_bytes - own)
        if exp.scheduler in UNCANCELLABLE_SCHEDULERS:
            longest = max(longest, est.per_repeat_s)
    memory = workers + arrays
    fewest = FEWEST_AUTO_ROUNDS if spec.rounds == "auto" else int(spec.rounds)
    seconds = setup + (1 + fewest) * per_round
    most = max(seconds, setup + min(spec.budget_s * BUSY_BUDGET_FACTOR, (1 + MAX_ROUNDS) * per_round)) \
        if spec.rounds == "auto" else None
    # Adaptive rounds usually end at the budget or when decided: that, not the busy-machine maximum, is what a
    # queue behind this comparison waits.
    typical = min(most, max(seconds, setup + min(spec.budget_s, (1 + MAX_ROUNDS) * per_round))) \
        if most is not None else None
    return Cost(seconds=seconds, memory_bytes=memory, longest_uncancellable_s=longest, what="this comparison",
                advice="lower the size or tasks, or use fewer engines or rounds (the CLI's --force runs it anyway)",
                max_seconds=most, typical_seconds=typical)


