"""Parallel efficiency: the best engine on fib(30) × 4 against the best this machine can possibly do.

    python -m bench.efficiency [--repeats 5] [--quick] [--size 30]

What it measures: fib(30) × 4 (pure Python, holds the GIL) on every engine, through
``core.engines.run_experiment``, in interleaved rounds (round r runs every engine once, so drift
hits all engines alike; round 0 is an unrecorded warm-up that also starts the LocalClusters).

The ideal, defined precisely:
  one task's time  t   = median per-task wall time on the sync engine (one task alone on one core),
                         over all measured rounds;
  ideal wall           = ceil(tasks / min(tasks, usable cores)) × t
                         (CPU-bound Python: no schedule can beat one task per core at a time);
  efficiency           = ideal wall / engine's median wall time (1.0 = as fast as the machine allows).

Each engine's wall time is the median over rounds of its per-repeat wall_s (start-up + compute +
teardown of that repeat). For Dask's default processes scheduler that includes starting a new
process pool on every compute, which is the point of showing it; "eff (compute)" leaves the per-repeat
start-up out. One-time set-up (a reused pool, a LocalCluster) is never in either.

Goal: the best engine's efficiency ≥ 0.9 on a 2-core machine. Threads and LocalCluster
processes=False should sit near 1 / cores (the GIL serialises them): that is the lesson, not a bug.
On a machine shared with other work the sync task time is measured with a whole core while parallel
engines compete for both: a loaded machine lowers every efficiency (the load average is printed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench._common import BusyMeter, machine_line, median, parser, resolve_repeats, spread, table, verdict

if TYPE_CHECKING:
    from core.measure.spec import ExperimentSpec

# core.engines is imported in main(): spawned process workers re-import this main module.

GOAL = 0.9
TASKS = 4


@dataclass
class Arm:
    label: str
    spec: ExperimentSpec
    wall_s: list[float] = field(default_factory=list)
    compute_s: list[float] = field(default_factory=list)
    task_s: list[float] = field(default_factory=list)
    cpu_share: list[float] = field(default_factory=list)


def arms(size: int, cores: int) -> list[Arm]:
    from core.measure.spec import ExperimentSpec

    base = ExperimentSpec(workload="fib", size=size, tasks=TASKS, scheduler="sync", workers=1, repeats=1)
    out = [Arm("sync", base), Arm("threads ×4", base.replace(scheduler="threads", workers=4))]
    lanes = sorted({cores, TASKS})  # workers = usable cores, and the tutorial's 4
    out.append(Arm("processes ×4 (new pool per compute)", base.replace(scheduler="processes", workers=4)))
    for n in lanes:
        out.append(Arm(f"processes ×{n} (reused pool)", base.replace(scheduler="processes", workers=n,
                                                                     reuse_pool=True)))
    out.append(Arm("LocalCluster processes=False 1×4",
                   base.replace(scheduler="cluster-threads", workers=1, threads_per_worker=4)))
    for n in lanes:
        out.append(Arm(f"LocalCluster processes=True {n}×1", base.replace(scheduler="cluster-processes", workers=n)))
    return out


def main() -> None:
    p = parser(__doc__, repeats=5, quick_repeats=2)
    p.add_argument("--size", type=int, default=30, help="fib n (default 30, the tutorial's)")
    args = p.parse_args()
    repeats = resolve_repeats(args)
    from core.engines import ClusterRegistry
    from core.measure.machine import machine_info
    from core.measure.run import run_experiment

    cores = machine_info().usable_cores
    print(machine_line())
    engines = arms(args.size, cores)
    with BusyMeter() as busy, ClusterRegistry() as clusters:
        for rnd in range(1 + repeats):
            for arm in engines:
                r = run_experiment(arm.spec, clusters=clusters)
                if rnd == 0:
                    continue  # warm-up round: imports, cluster start, caches
                arm.wall_s.append(float(r.runs["wall_s"].iloc[0]))
                arm.compute_s.append(float(r.runs["compute_s"].iloc[0]))
                arm.task_s += [float(x) for x in r.tasks["wall_s"]]
                arm.cpu_share.append(r.cpu_share)

    task_s = median(engines[0].task_s)
    ideal = math.ceil(TASKS / min(TASKS, cores)) * task_s
    print(f"\nfib({args.size}) × {TASKS}: {repeats} interleaved rounds + 1 warm-up round;"
          f" one task alone on one core t = {task_s:.3f} s (median of {len(engines[0].task_s)} sync tasks)")
    print(f"ideal wall = ceil({TASKS} / min({TASKS}, {cores} cores)) × t = {ideal:.3f} s\n")
    rows = []
    sync_wall = median(engines[0].wall_s)
    for arm in engines:
        wall, comp = median(arm.wall_s), median(arm.compute_s)
        rows.append([arm.label, f"{wall:.3f}", spread(arm.wall_s), f"{sync_wall / wall:.2f}x",
                     f"{ideal / wall:.2f}", f"{ideal / comp:.2f}", f"{median(arm.cpu_share):.2f}"])
    print(table(["engine", "median wall_s", "min–max", "× sync", "efficiency", "eff (compute)", "cpu/wall"], rows))
    best = max(engines, key=lambda a: ideal / median(a.wall_s))
    eff = ideal / median(best.wall_s)
    print(f"\nefficiency = ideal wall ÷ median wall; cpu/wall = median task CPU time ÷ task wall time (≪1: waited"
          f" for the GIL).\nbest engine: {best.label}, efficiency {eff:.2f}; goal ≥ {GOAL} on {cores} cores:"
          f" {verdict(eff >= GOAL)}")
    print(busy.line())


if __name__ == "__main__":
    main()
