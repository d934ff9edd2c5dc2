"""``python -m core``: the headless face of the lab, for scripts, CI and HPC login nodes.

Bad input never produces a traceback: it exits with status 2 and one line on stderr that names the
problem, because the CLI is meant to be driven by scripts that read stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import NoReturn

from core.measure.spec import CLUSTER_SCHEDULERS, SCHEDULERS, ExperimentSpec
from core.workloads import WORKLOADS

PROG = "python -m core"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage too; we want one line
        # Every error line starts "python -m core: error:", a verb's too (its prog is "python -m core run").
        # argparse quotes the bad value whole and lists unrecognized arguments raw: escape control
        # characters ("\r", "\n", NUL) so the message stays ONE line, and cut a 10 000-character one.
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        message = message if len(message) <= 300 else message[:299] + "…"
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def budget_seconds(text: str) -> float:
    """argparse type for a time budget: a finite number of seconds above 0.

    ``float`` alone accepts "nan" (every comparison with it is False, so no run is ever over budget)
    and "inf"; both would switch the budget off. ``--force`` is the way to do that.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds: {text[:60]!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds above 0 (got {text[:60]!r}); --force ignores the budget"
        )
    return value


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
    run.add_argument("--max-seconds", type=budget_seconds, default=60.0,
                     help="refuse runs estimated longer (default 60)")
    run.add_argument("--force", action="store_true", help="run even if over --max-seconds or the memory guard")
    sub.add_parser("workloads", help="list the workloads, their sizes and what they do to the GIL")
    sub.add_parser("machine", help="print this machine's cores, Python, GIL status and versions as JSON")
    trace = sub.add_parser("gil-trace", help="trace threads taking turns on the GIL (run in a child process)")
    trace.add_argument("--threads", type=int, default=2, help="threads to trace, 1 to 16 (default 2)")
    trace.add_argument("--seconds", type=float, default=0.5, help="how long they work, 0.05 to 3 (default 0.5)")
    trace.add_argument("--workload", default="python", choices=["python", "numpy", "sleep"],
                       help="python holds the GIL; numpy (np.dot) and sleep release it (default python)")
    trace.add_argument("--switch-interval-ms", type=float, default=5.0,
                       help="the trace process's switch interval, 0.5 to 100 ms (default 5, CPython's)")
    trace.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    interp = sub.add_parser("interpreter", help="print the interpreter (GIL, switch interval) and BLAS thread pools")
    interp.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    sweep = sub.add_parser("sweep", help="speedup and efficiency vs workers for one engine (strong scaling)")
    sweep.add_argument("--workload", default="fib", choices=["fib", "numpy-sort", "numpy-matmul", "numpy-small"],
                       help="a CPU-bound workload (default fib)")
    sweep.add_argument("--size", type=float, help="workload size (fib n, …); default per workload")
    sweep.add_argument("--scheduler", default="processes",
                       choices=["threads", "processes", "cluster-threads", "cluster-processes"],
                       help="the engine to scale (default processes)")
    sweep.add_argument("--workers", default="1,2,4", help="worker counts, e.g. 1,2,4 (1 is always added)")
    sweep.add_argument("--tasks", type=int, help="total tasks of every run (default: 2 × max workers,"
                       " divisible by every count)")
    sweep.add_argument("--repeats", type=int, default=3, help="measured repeats per worker count (default 3)")
    sweep.add_argument("--no-sync", action="store_true", help="skip the sync reference run")
    sweep.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    sweep.add_argument("--max-seconds", type=budget_seconds, default=60.0,
                       help="refuse sweeps estimated longer in total (default 60)")
    sweep.add_argument("--force", action="store_true", help="run even if over --max-seconds or the memory guard")
    xfer = sub.add_parser("transfer", help="cost of shipping a payload to every task, by size and engine")
    xfer.add_argument("--sizes", help="payload sizes in MB, e.g. 1,10,50 (default 1,10,50,100,200 within memory)")
    xfer.add_argument("--schedulers", default="threads,processes,cluster-processes",
                      help="engines, e.g. threads,processes (default threads,processes,cluster-processes)")
    xfer.add_argument("--tasks", type=int, default=4, help="tasks per run, each gets the payload (default 4)")
    xfer.add_argument("--workers", type=int, help="workers per engine (default: usable cores)")
    xfer.add_argument("--repeats", type=int, default=2, help="measured repeats per point (default 2)")
    xfer.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    xfer.add_argument("--max-seconds", type=budget_seconds, default=60.0,
                      help="refuse sweeps estimated longer in total (default 60)")
    xfer.add_argument("--force", action="store_true", help="run even if over --max-seconds or the memory guard")
    over = sub.add_parser("overhead", help="what parallelism costs here: per-task overhead and start-up by engine")
    over.add_argument("--scheduler", default="all", choices=[*(s for s in SCHEDULERS if s != "external"), "all"],
                      help="the engine to measure, or all of them (default all)")
    over.add_argument("--workers", type=int, default=2, help="threads, processes or cluster workers (default 2)")
    over.add_argument("--tasks", type=int, default=1000, help="no-op tasks per graph, 10 to 20000 (default 1000)")
    over.add_argument("--repeats", type=int, default=3, help="measured repeats; the median is reported (default 3)")
    over.add_argument("--chunksize", type=int, default=6, help="processes: tasks per submission (default 6, Dask's)")
    over.add_argument("--graph", default="single", choices=["single", "list"],
                      help="single: one graph of N tasks; list: dask.compute(*N delayed) (default single)")
    over.add_argument("--break-even", action="store_true", help="also sweep fib n to find where processes beat sync")
    over.add_argument("--sizes", help="with --break-even: fib n as START:STOP:STEP or a list (default 18:30:3)")
    over.add_argument("--fib-tasks", type=int, help="with --break-even: fib tasks per run (default 4)")
    over.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    over.add_argument("--max-seconds", type=budget_seconds, default=60.0,
                      help="refuse measurements estimated longer in total (default 60)")
    over.add_argument("--force", action="store_true", help="run even if over --max-seconds")
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
    from core.measure.results import ExperimentResult

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
        f" · median task CPU/wall {result.cpu_share:.2f}"
        f" · CPU used {result.cpu_utilization:.0%} of {int(result.runs['lanes'].iloc[0])} lane(s)",
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
        from core.measure.machine import machine_info

        print(json.dumps(machine_info().to_dict(), indent=2))
        return 0
    if args.command == "interpreter":
        from core.kinds.interpreter import interpreter_report, report_text

        report = interpreter_report()
        print(json.dumps(report, indent=2) if args.json else report_text(report))
        return 0
    if args.command == "gil-trace":
        from core.kinds.gil_trace import GilTraceSpec, TraceError, run_gil_trace, trace_table

        try:
            trace_spec = GilTraceSpec(threads=args.threads, seconds=args.seconds, workload=args.workload,
                                      switch_interval_ms=args.switch_interval_ms)
            traced = run_gil_trace(trace_spec)
        except ValueError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        except TraceError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 1
        print(traced.to_json() if args.json else trace_table(traced))
        return 0

    if args.command in ("sweep", "transfer"):
        from core.kinds.sweep import cli_main  # checks its input before importing the engines

        return cli_main(args)

    from core.engines import ClusterRegistry, EngineError
    from core.measure.estimate import BudgetError, check_budget
    from core.measure.run import run_experiment

    if args.command == "overhead":
        from core.kinds.overhead import cli_output as overhead_output

        try:
            print(overhead_output(args))
        except (ValueError, BudgetError, EngineError) as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        return 0
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
