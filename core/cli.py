"""``python -m core``: the headless face of the lab, for scripts, CI and HPC login nodes.

Bad input never produces a traceback: it exits with status 2 and one line on stderr that names the
problem, because the CLI is meant to be driven by scripts that read stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn

from core.spec import CLUSTER_SCHEDULERS, SCHEDULERS, ExperimentSpec
from core.workloads import WORKLOADS

PROG = "python -m core"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage too; we want one line
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="GIL Lab: measure threads vs processes on Dask's engines.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run one experiment and print what it measured")
    run.add_argument("--workload", default="fib", choices=list(WORKLOADS), help="kind of task (default fib)")
    run.add_argument("--size", type=float, help="workload size (fib n, seconds of sleep, …); default per workload")
    run.add_argument("--tasks", type=int, default=4, help="number of independent tasks (default 4)")
    run.add_argument("--scheduler", choices=[s for s in SCHEDULERS if s != "external"],
                     help="sync, threads, processes, cluster-threads or cluster-processes (default threads;"
                          " with --address: the external cluster)")
    run.add_argument("--workers", type=int, default=4, help="threads, processes or cluster workers (default 4)")
    run.add_argument("--threads-per-worker", type=int, default=1, help="threads in each cluster worker (default 1)")
    run.add_argument("--repeats", type=int, default=3, help="measured repeats; the median is reported (default 3)")
    run.add_argument("--warmup", type=int, default=0, help="unrecorded repeats run first (default 0)")
    run.add_argument("--chunksize", type=int, default=1, help="processes scheduler: tasks per submission (default 1)")
    run.add_argument("--reuse-pool", action="store_true", help="processes scheduler: one pool for all repeats")
    run.add_argument("--blas-threads", type=int, default=1, help="BLAS threads in numpy-matmul tasks (default 1)")
    run.add_argument("--address", help="scheduler address of an existing cluster, e.g. tcp://127.0.0.1:8786")
    run.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    run.add_argument("--max-seconds", type=float, default=60.0, help="refuse runs estimated longer (default 60)")
    run.add_argument("--force", action="store_true", help="run even if over --max-seconds or the memory guard")
    sub.add_parser("workloads", help="list the workloads, their sizes and what they do to the GIL")
    sub.add_parser("machine", help="print this machine's cores, Python, GIL status and versions as JSON")
    return p


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    """Build the spec from ``run``'s arguments; raises ``ValueError`` with a clear message."""
    scheduler = args.scheduler or "threads"
    if args.address:
        if args.scheduler and args.scheduler not in CLUSTER_SCHEDULERS:
            raise ValueError(
                f"--address runs on an external cluster; it cannot be combined with --scheduler {args.scheduler}"
            )
        scheduler = "external"
    size = args.size if args.size is not None else WORKLOADS[args.workload].default_size
    return ExperimentSpec(
        workload=args.workload,
        size=size,
        tasks=args.tasks,
        scheduler=scheduler,
        workers=args.workers,
        threads_per_worker=args.threads_per_worker if scheduler in CLUSTER_SCHEDULERS else _only_one(args),
        repeats=args.repeats,
        warmup=args.warmup,
        chunksize=args.chunksize,
        reuse_pool=args.reuse_pool,
        blas_threads=args.blas_threads,
        address=args.address,
    )


def _only_one(args: argparse.Namespace) -> int:
    if args.threads_per_worker != 1:
        raise ValueError("--threads-per-worker only applies to cluster-threads and cluster-processes")
    return 1


def _table(result: object) -> str:
    from core.results import ExperimentResult

    assert isinstance(result, ExperimentResult)
    m = result.machine
    rep = result.median_repeat
    tasks = result.tasks[result.tasks["repeat"] == rep]
    lines = [
        f"{result.spec.label}   [run {result.run_id}]",
        f"machine: {m.usable_cores} usable of {m.logical_cores} logical cores · Python {m.python_version}"
        f" (GIL {m.gil_label}) · dask {m.dask_version} · distributed {m.distributed_version}"
        f" · numpy {m.numpy_version}",
        f"engine: {result.engine['n_workers']} worker(s) × {result.engine['threads_per_worker']} thread(s)"
        + (f" · one-time start-up {result.setup_s:.3f} s" if result.setup_s > 0.001 else ""),
        "",
        result.runs[["repeat", "wall_s", "startup_s", "compute_s", "teardown_s"]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}"),
        "",
        f"median wall {result.wall_s:.3f} s (min {result.wall_min_s:.3f}, max {result.wall_max_s:.3f})"
        f" · median task CPU/wall {result.cpu_share:.2f}",
        "",
        f"tasks of repeat {rep} (the median one):",
        tasks[["task", "start_s", "end_s", "cpu_s", "cpu_share", "pid", "thread_id", "lane"]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "workloads":
        for w in WORKLOADS.values():
            print(f"{w.name:13} size = {w.size_name} {w.size_unit}".rstrip()
                  + f" [{w.min_size:g}–{w.max_size:g}, default {w.default_size:g}] · {w.gil} the GIL: {w.gil_why}")
        return 0
    if args.command == "machine":
        from core.machine import machine_info

        print(json.dumps(machine_info().to_dict(), indent=2))
        return 0

    from core.engines import ClusterRegistry, EngineError, run_experiment
    from core.estimate import BudgetError, check_budget

    try:
        spec = spec_from_args(args)
        if not args.force:
            check_budget(spec, args.max_seconds)
        with ClusterRegistry() as clusters:
            result = run_experiment(spec, clusters=clusters)
    except (ValueError, BudgetError, EngineError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    print(result.to_json() if args.json else _table(result))
    return 0
