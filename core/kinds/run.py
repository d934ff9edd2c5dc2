"""``run``: one engine, repeated. The smallest kind: the measurement every other one is built from.

Its result is :class:`core.measure.results.ExperimentResult` (one row per repeat, one per task per
repeat), the same object a comparison holds for each of its arms.
"""

from __future__ import annotations

import argparse
from typing import Any

from core.kinds.base import KindBase, RunContext, add_option, add_workload_options
from core.measure.estimate import Cost, estimate
from core.measure.results import ExperimentResult
from core.report.experiment import charts, explain, text
from core.spec import (
    CLUSTER_SCHEDULERS,
    DISTRIBUTED_SCHEDULERS,
    SCHEDULERS,
    UNCANCELLABLE_SCHEDULERS,
    ExperimentSpec,
)
from core.workloads import FUNCTION, WORKLOADS

__all__ = ["RunKind", "KIND", "NO_SHIP_HELP", "add_function_arguments", "charts", "explain", "function_deadline",
           "function_fields", "text"]

# A run of your own function with no deadline from its caller gets one: well past its estimate (machines
# are noisy), never less than this. Its trial call already stopped a function that never returns.
FUNCTION_DEADLINE_MIN_S = 60.0


def add_function_arguments(p: argparse.ArgumentParser) -> None:
    """``--function MODULE:NAME --args JSON --kwargs JSON``: every task calls your own function."""
    p.add_argument("--function", metavar="MODULE:NAME",
                   help="every task calls your own function NAME from MODULE (importable here: the current"
                        " directory or PYTHONPATH) instead of a workload; it is tried once in a separate process first")
    p.add_argument("--args", dest="function_args", metavar="JSON_LIST",
                   help="with --function: its positional arguments as a JSON list, e.g. '[30]' (default [])")
    p.add_argument("--kwargs", dest="function_kwargs", metavar="JSON_OBJECT",
                   help='with --function: its keyword arguments as a JSON object, e.g. \'{"n": 30}\' (default {})')


def function_fields(args: argparse.Namespace) -> dict[str, Any] | None:
    """The spec fields of ``--function`` (None without it); ValueError for options that do not go with it."""
    if args.function is None:
        for flag in ("args", "kwargs"):
            if getattr(args, f"function_{flag}") is not None:
                raise ValueError(f"--{flag} goes with --function MODULE:NAME")
        return None
    for option in ("workload", "size"):
        if getattr(args, option, None) is not None:
            raise ValueError(f"--function replaces --workload and --size (its arguments say how big a task is):"
                             f" drop --{option}")
    return {"workload": FUNCTION, "function": args.function,
            "function_args": "[]" if args.function_args is None else args.function_args,
            "function_kwargs": "{}" if args.function_kwargs is None else args.function_kwargs}


def function_deadline(ctx: RunContext, cost: Cost) -> float | None:
    """The caller's deadline, or one for a run of your function that has none (see FUNCTION_DEADLINE_MIN_S)."""
    if ctx.deadline_s is not None:
        return ctx.deadline_s
    return max(FUNCTION_DEADLINE_MIN_S, 4 * (cost.max_seconds or cost.seconds))

NO_SHIP_HELP = ("distributed engines: do not send the task code inside every graph; the scheduler and the workers"
                " must then import this lab's core package themselves (PYTHONPATH, see README)")


class RunKind(KindBase, name="run", title="run", spec=ExperimentSpec,
              help="run one experiment on one engine and print what it measured"):
    """``python -m core run``: one experiment spec, warm-up and measured repeats on one engine."""

    def cost(self, spec: ExperimentSpec) -> Cost:
        est = estimate(spec)
        local = spec.scheduler in UNCANCELLABLE_SCHEDULERS
        return Cost(seconds=est.seconds, memory_bytes=est.memory_bytes,
                    longest_uncancellable_s=est.per_repeat_s if local else 0.0, what="this run")

    def run(self, spec: ExperimentSpec, ctx: RunContext) -> ExperimentResult:
        from core.measure.run import run_experiment

        deadline = function_deadline(ctx, self.cost(spec)) if spec.call else ctx.deadline_s
        return run_experiment(spec, clusters=ctx.clusters, progress=ctx.progress, deadline_s=deadline,
                              should_stop=ctx.should_stop)

    def add_arguments(self, run: argparse.ArgumentParser) -> None:
        add_workload_options(run, WORKLOADS)
        add_option(run, "tasks", "number of independent tasks", 4)
        run.add_argument("--scheduler", choices=[s for s in SCHEDULERS if s != "external"],
                         help="Dask's sync, threads, processes, cluster-threads or cluster-processes, or beyond"
                              " Dask futures-threads, futures-processes, multiprocessing, joblib-loky or"
                              " joblib-threads (default threads; with --address: the external cluster)")
        add_option(run, "workers", "threads, processes or cluster workers", 4)
        run.add_argument("--threads-per-worker", type=int, default=1,
                         help="threads in each cluster worker (default 1)")
        add_option(run, "repeats", "measured repeats; the median is reported", 3)
        run.add_argument("--warmup", type=int, default=0, help="unrecorded repeats run first (default 0)")
        add_option(run, "chunksize", "tasks per submission: processes, futures-processes, multiprocessing"
                   " (chunksize), joblib-* (batch_size)", 1)
        run.add_argument("--reuse-pool", action="store_true",
                         help="local process pools (processes, futures-processes, multiprocessing, joblib-loky):"
                              " one pool for all repeats, its start-up reported apart")
        add_option(run, "blas-threads", "BLAS threads in numpy-matmul tasks", 1)
        run.add_argument("--address", help="scheduler address of an existing cluster, e.g. tcp://127.0.0.1:8786")
        run.add_argument("--no-ship", action="store_true", help=NO_SHIP_HELP)
        add_function_arguments(run)

    def spec_from_args(self, args: argparse.Namespace) -> ExperimentSpec:
        scheduler = args.scheduler or "threads"
        if args.address is not None:  # an empty one is bad input (the spec says so), not "no address"
            if args.scheduler and args.scheduler not in CLUSTER_SCHEDULERS:
                raise ValueError(f"--address runs on an external cluster; it cannot be combined with --scheduler"
                                 f" {args.scheduler}")
            scheduler = "external"
        if args.threads_per_worker != 1 and scheduler not in CLUSTER_SCHEDULERS:
            raise ValueError("--threads-per-worker only applies to cluster-threads and cluster-processes")
        if args.no_ship and scheduler not in DISTRIBUTED_SCHEDULERS:
            raise ValueError("--no-ship only applies to cluster-threads, cluster-processes and --address")
        workload = args.workload or "fib"
        task = function_fields(args) or {
            "workload": workload, "size": args.size if args.size is not None else WORKLOADS[workload].default_size}
        return ExperimentSpec(
            **task, tasks=args.tasks, scheduler=scheduler, workers=args.workers,
            threads_per_worker=args.threads_per_worker, repeats=args.repeats, warmup=args.warmup,
            chunksize=args.chunksize, reuse_pool=args.reuse_pool, blas_threads=args.blas_threads,
            address=args.address, ship_code=not args.no_ship,
        )


KIND = RunKind()
