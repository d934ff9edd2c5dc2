"""Engine benchmark: the issue's reference experiments on every engine, measured side by side.

    python benchmarks/engines.py [--repeats 3]

Prints, for fib(30) × 4 and sleep(0.5) × 4, each engine's median wall time, its ratio to sync, and the
median per-task CPU/wall share. Ratios from one run on a noisy machine: compare them, not the seconds.
Speed is measured here, never in the unit tests.
"""

from __future__ import annotations

import argparse

from core.engines import ClusterRegistry, run_experiment
from core.machine import machine_info
from core.spec import ExperimentSpec

ENGINES = ["sync", "threads", "processes", "cluster-threads", "cluster-processes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    m = machine_info()
    print(f"machine: {m.usable_cores} usable cores · Python {m.python_version} (GIL {m.gil_label})"
          f" · dask {m.dask_version}")
    with ClusterRegistry() as clusters:
        for workload, size in [("fib", 30), ("sleep", 0.5)]:
            print(f"\n{workload}({size:g}) × 4, {args.workers} workers, {args.repeats} repeats + 1 warm-up")
            print(f"{'engine':20} {'median wall_s':>13} {'× sync':>7} {'compute_s':>9} {'startup_s':>9}"
                  f" {'cpu/wall':>8} {'setup_s':>8}")
            sync_s = None
            for engine in ENGINES:
                workers = 1 if engine == "sync" else args.workers
                threads = 1
                if engine == "cluster-threads":  # the tutorial's shape: one worker, 4 threads
                    workers, threads = 1, args.workers
                spec = ExperimentSpec(workload=workload, size=size, tasks=4, scheduler=engine, workers=workers,
                                      threads_per_worker=threads, repeats=args.repeats, warmup=1)
                r = run_experiment(spec, clusters=clusters)
                sync_s = sync_s or r.wall_s
                print(f"{engine:20} {r.wall_s:13.3f} {sync_s / r.wall_s:6.2f}x {r.runs['compute_s'].median():9.3f}"
                      f" {r.runs['startup_s'].median():9.3f} {r.cpu_share:8.2f} {r.setup_s:8.2f}")


if __name__ == "__main__":
    main()
