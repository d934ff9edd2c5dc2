"""Harness overhead: what ``core.measure.run.run_experiment`` adds to a bare ``dask.compute`` of the same work.

    python -m bench.harness [--repeats 11] [--quick] [--engines sync,threads,...]

What it measures: the same workload and the same number of independent tasks (fib(27) × 4, CPU-bound;
sleep(0.2) × 4, waiting) computed two ways on each engine, interleaved in pairs so that drift (other
programs on the machine, CPU frequency) hits both alike, the order alternating (A B, B A, A B, …) so
that neither side always runs right after the other (a cluster still releasing the previous keys):

  A  "bare": the graph a user would write, ``[delayed(fib)(27, dask_key_name=…) for i in range(4)]``,
     and a stopwatch around ``dask.compute(*graph, scheduler=…)``;
  B  "core": ``run_experiment(ExperimentSpec(…, repeats=1))`` and the time it *reports* (its compute_s,
     or its wall_s where start-up belongs in the comparison). "call_s" is a stopwatch around the whole
     ``run_experiment`` call: engine set-up, the per-task instrumentation (``measured_call``), building
     the tidy DataFrames.

Like is compared with like:
  * sync, threads: bare ``scheduler="sync"`` / ``"threads"`` (``num_workers=4``; Dask caches that
    pool) vs core's compute_s (core starts its own 4-thread pool in set-up, outside compute_s).
  * processes, new pool: a bare ``scheduler="processes"`` compute starts and stops its own spawn pool,
    so it is compared with core's wall_s of a repeat, which includes core's pool start (core waits
    until every worker has imported the task module) and shutdown. ``chunksize=1`` on both sides
    (Dask's default of 6 would put all 4 tasks in one process).
  * processes, reused pool: a pool this script starts once, passed as ``pool=`` to the bare compute,
    vs core's compute_s with ``reuse_pool=True`` (core's own pool start is in its set-up).
  * cluster-threads (1 worker × 4 threads) and cluster-processes (4 workers × 1 thread): ONE
    LocalCluster per shape serves both sides; bare is ``dask.compute(*graph, scheduler=client)``.

Goal: overhead ≤ 3 % (median core ÷ median bare − 1). "paired" is the median of the per-pair ratios,
the drift-proof estimate. On a loaded 2-core machine a few percent either way is noise: a negative
overhead means the two are indistinguishable, not that the harness is faster.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from bench._common import BusyMeter, machine_line, median, parser, resolve_repeats, table, verdict

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    from core.engines import ClusterRegistry
    from core.spec import ExperimentSpec

# Dask, distributed and core.engines are imported inside the functions, not here: process workers
# start with spawn and re-import this main module, and they should start as light as the app's.

GOAL = 0.03
TASKS = 4
WORKERS = 4
ENGINES = ["sync", "threads", "processes", "processes-reused", "cluster-threads", "cluster-processes"]


@dataclass
class Arm:
    """One engine's comparison: how to run it bare, how to run it through core, which core time to read."""

    engine: str
    spec: ExperimentSpec
    bare: Callable[[list[Any]], Any]
    core_metric: str  # "compute_s" or "wall_s"
    bare_s: list[float] = field(default_factory=list)
    core_s: list[float] = field(default_factory=list)
    call_s: list[float] = field(default_factory=list)


def bare_graph(workload: str, size: float) -> list[Any]:
    """The user's graph: TASKS independent calls of the plain task function, each with its own key."""
    from dask.delayed import delayed

    from core.workloads import WORKLOADS

    func = WORKLOADS[workload].func
    token = uuid.uuid4().hex[:8]
    return [delayed(func)(size, dask_key_name=f"bare-{workload}-{i}-{token}") for i in range(TASKS)]


def start_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn pool set up exactly as Dask sets up its own, with every worker started and warm."""
    from concurrent.futures import ProcessPoolExecutor

    from dask.multiprocessing import get_context, initialize_worker_process

    from core.workloads import WORKLOADS

    os.environ.setdefault("PYTHONHASHSEED", "6640")  # as core (and Dask) pin it for process workers
    pool = ProcessPoolExecutor(workers, mp_context=get_context(),
                               initializer=partial(initialize_worker_process, user_initializer=None))
    # Occupy every worker at once so that all of them start and import the task module now.
    list(pool.map(time.sleep, [0.5] * workers))
    list(pool.map(WORKLOADS["fib"].func, [5] * workers))
    return pool


def make_arm(engine: str, workload: str, size: float, stack: ExitStack, clusters: ClusterRegistry) -> Arm:
    import dask

    from core.spec import ExperimentSpec

    base = ExperimentSpec(workload=workload, size=size, tasks=TASKS, scheduler="sync", workers=1, repeats=1)
    if engine == "sync":
        return Arm(engine, base, lambda g: dask.compute(*g, scheduler="sync"), "compute_s")
    if engine == "threads":
        return Arm(engine, base.replace(scheduler="threads", workers=WORKERS),
                   lambda g: dask.compute(*g, scheduler="threads", num_workers=WORKERS), "compute_s")
    if engine == "processes":
        return Arm(engine, base.replace(scheduler="processes", workers=WORKERS),
                   lambda g: dask.compute(*g, scheduler="processes", num_workers=WORKERS, chunksize=1), "wall_s")
    if engine == "processes-reused":
        pool = start_pool(WORKERS)
        stack.callback(pool.shutdown, wait=True)
        return Arm(engine, base.replace(scheduler="processes", workers=WORKERS, reuse_pool=True),
                   lambda g: dask.compute(*g, scheduler="processes", pool=pool, chunksize=1), "compute_s")
    if engine in ("cluster-threads", "cluster-processes"):
        processes = engine == "cluster-processes"
        workers, threads = (WORKERS, 1) if processes else (1, WORKERS)
        handle = clusters.get(processes, workers, threads)
        client, _ = stack.enter_context(handle.use())  # the same cluster core's runs will get
        return Arm(engine, base.replace(scheduler=engine, workers=workers, threads_per_worker=threads),
                   lambda g: dask.compute(*g, scheduler=client), "compute_s")
    raise ValueError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")


def run_bare(arm: Arm, workload: str, size: float) -> float:
    graph = bare_graph(workload, size)
    t0 = time.perf_counter()
    arm.bare(graph)
    return time.perf_counter() - t0


def run_core(arm: Arm, clusters: ClusterRegistry) -> tuple[float, float]:
    from core.measure.run import run_experiment

    t0 = time.perf_counter()
    r = run_experiment(arm.spec, clusters=clusters)
    call = time.perf_counter() - t0
    return float(r.runs[arm.core_metric].iloc[0]), call


def measure(workload: str, size: float, engines: list[str], repeats: int, clusters: ClusterRegistry) -> list[Arm]:
    arms = []
    for engine in engines:
        with ExitStack() as stack:
            arm = make_arm(engine, workload, size, stack, clusters)
            for i in range(1 + repeats):  # pair 0 warms both sides up (imports, cluster workers, caches)
                # A B, B A, A B, …: interleaving cancels drift, alternating the order cancels the
                # after-effects of one side on the next (a cluster still releasing the last keys).
                if i % 2 == 0:
                    bare = run_bare(arm, workload, size)
                    core, call = run_core(arm, clusters)
                else:
                    core, call = run_core(arm, clusters)
                    bare = run_bare(arm, workload, size)
                if i:
                    arm.bare_s.append(bare)
                    arm.core_s.append(core)
                    arm.call_s.append(call)
            arms.append(arm)
    return arms


def report(workload: str, size: float, arms: list[Arm], repeats: int) -> list[tuple[str, float]]:
    print(f"\n{workload}({size:g}) × {TASKS}: {repeats} interleaved pairs (bare, core; order alternating)"
          " + 1 warm-up pair per engine")
    rows, overheads = [], []
    for arm in arms:
        bare, core, call = median(arm.bare_s), median(arm.core_s), median(arm.call_s)
        overhead = core / bare - 1
        paired = median([c / b for c, b in zip(arm.core_s, arm.bare_s, strict=True)]) - 1
        overheads.append((f"{workload} {arm.engine}", paired))
        rows.append([arm.engine, f"{bare:.3f}", f"{core:.3f}", arm.core_metric, f"{overhead:+.1%}", f"{paired:+.1%}",
                     f"{call:.3f}", f"{call / bare - 1:+.1%}", "ok" if paired <= GOAL else "OVER"])
    print(table(["engine", "bare_s", "core_s", "core time", "overhead", "paired", "call_s", "call ovh", "≤3 %"],
                rows))
    return overheads


def main() -> None:
    p = parser(__doc__, repeats=11, quick_repeats=2)
    p.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated subset of {', '.join(ENGINES)}")
    args = p.parse_args()
    repeats = resolve_repeats(args)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        raise SystemExit(f"error: unknown engine(s) {', '.join(sorted(unknown))}; choose from {', '.join(ENGINES)}")
    run(engines, repeats)


def run(engines: list[str], repeats: int) -> None:
    from core.engines import ClusterRegistry

    print(machine_line())
    overheads = []
    with BusyMeter() as busy, ClusterRegistry() as clusters:
        for workload, size in [("fib", 27), ("sleep", 0.2)]:
            arms = measure(workload, size, engines, repeats, clusters)
            overheads += report(workload, size, arms, repeats)
    print(
        "\nbare_s: median stopwatch around dask.compute. core_s: median of the time run_experiment reports"
        " (column 'core time'). overhead: core_s ÷ bare_s − 1; paired: median of per-pair ratios − 1."
        "\ncall_s: stopwatch around the whole run_experiment call (set-up, instrumentation, result tables)."
        "\nprocesses: bare starts its own pool per compute, so it is compared with core's wall_s incl. pool"
        " start-up and shutdown;\nprocesses-reused: bare on a pool this script started once vs core's"
        " compute_s with reuse_pool=True."
    )
    worst_name, worst = max(overheads, key=lambda kv: kv[1])
    typical = median([v for _, v in overheads])
    print(f"\npaired overhead: median over all rows {typical:+.1%}, worst {worst:+.1%} ({worst_name});"
          f" goal ≤ {GOAL:.0%} for every row: {verdict(worst <= GOAL)}."
          "\n(One row over the goal on a loaded machine: rerun it alone with --engines NAME --repeats 15.)")
    print(busy.line())


if __name__ == "__main__":
    main()
