"""Engine benchmark: the issue's reference experiments on every engine, measured side by side.

    python -m bench.engines [--repeats 3] [--workers 4] [--quick]

What it measures: fib(30) × 4 (CPU-bound, holds the GIL) and sleep(0.5) × 4 (waits, releases it) on
sync, threads, processes (Dask's default: a new process pool per compute), LocalCluster
processes=False (1 worker × 4 threads, the tutorial's shape) and LocalCluster processes=True
(4 workers × 1 thread), all through ``core.measure.run.run_experiment``, one warm-up + N repeats each.

Goal: the physics the app teaches shows up on this machine. fib: threads ≈ sync (×1.0, the GIL),
processes and processes=True clusters faster by up to the usable core count. sleep: every engine with
4 lanes ≈ ×4 over sync (waiting needs no core).

How to read it: "× sync" is sync's median wall ÷ the engine's (higher is faster). compute_s excludes
start-up; startup_s is the per-repeat start (processes starts a pool on every compute); setup_s is
one-time start-up (thread pool, cluster start; 0 when a cluster was reused). cpu/wall is the median
task's CPU time ÷ its wall time (≈1 runs freely, ≪1 waited for the GIL or slept). Ratios from one
run on a noisy machine: compare them, not the seconds. Speed is measured here, never in unit tests.
"""

from __future__ import annotations

from bench._common import BusyMeter, machine_line, parser, resolve_repeats, table

# core.engines (Dask, distributed, pandas) is imported in main(), not here: process workers start with
# spawn and re-import this main module, and a heavy main module would inflate processes' start-up.

ENGINES = ["sync", "threads", "processes", "cluster-threads", "cluster-processes"]


def main() -> None:
    p = parser(__doc__, repeats=3, quick_repeats=1, quick_help="fib(27) and sleep(0.2) instead of fib(30), sleep(0.5)")
    p.add_argument("--workers", type=int, default=4)
    args = p.parse_args()
    from core.engines import ClusterRegistry
    from core.measure.run import run_experiment
    from core.spec import ExperimentSpec

    repeats = resolve_repeats(args)
    workloads = [("fib", 27), ("sleep", 0.2)] if args.quick else [("fib", 30), ("sleep", 0.5)]
    print(machine_line())
    with BusyMeter() as busy, ClusterRegistry() as clusters:
        for workload, size in workloads:
            print(f"\n{workload}({size:g}) × 4, {args.workers} workers, {repeats} repeats + 1 warm-up")
            rows = []
            sync_s = None
            for engine in ENGINES:
                workers = 1 if engine == "sync" else args.workers
                threads = 1
                if engine == "cluster-threads":  # the tutorial's shape: one worker, 4 threads
                    workers, threads = 1, args.workers
                spec = ExperimentSpec(workload=workload, size=size, tasks=4, scheduler=engine, workers=workers,
                                      threads_per_worker=threads, repeats=repeats, warmup=1)
                r = run_experiment(spec, clusters=clusters)
                sync_s = sync_s or r.wall_s
                rows.append([engine, f"{r.wall_s:.3f}", f"{sync_s / r.wall_s:.2f}x",
                             f"{r.runs['compute_s'].median():.3f}", f"{r.runs['startup_s'].median():.3f}",
                             f"{r.cpu_share:.2f}", f"{r.setup_s:.2f}"])
            print(table(["engine", "median wall_s", "× sync", "compute_s", "startup_s", "cpu/wall", "setup_s"],
                        rows))
    print("\n" + busy.line())


if __name__ == "__main__":
    main()
