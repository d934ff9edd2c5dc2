"""``python -m core``: the headless face of the lab, for scripts, CI and HPC login nodes.

One parser, built from the registry of measurement kinds (:data:`core.kinds.KINDS`): each kind adds
its own options, and every measuring verb gets ``--json``, ``--max-seconds``, ``--force`` and
``--quiet`` here. One error handler, in :func:`main`: whatever goes wrong prints ONE line on stderr,
starting ``python -m core: error:``, never a traceback, and sets the exit status: 2 for bad input
(a ``ValueError``, an over-budget refusal), 1 for a run that failed (an engine, a cluster, a trace),
130 for Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from typing import Any, NoReturn

from core.kinds import KINDS, kind
from core.measure.spec import SCHEDULERS
from core.workloads import WORKLOADS

PROG = "python -m core"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse prints usage too; we want one line
        # Every error line starts "python -m core: error:", a verb's too (its prog is "python -m core run").
        self.exit(2, f"{PROG}: error: {one_line(message)} (see {self.prog} --help)\n")


def one_line(message: str, limit: int = 400) -> str:
    """``message`` as ONE printable line: control characters ("\\r", "\\n", NUL) escaped, a long one cut."""
    text = " ".join(str(message).split("\n"))
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _measuring_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--max-seconds", type=budget_seconds, default=60.0,
                   help="refuse measurements estimated longer (default 60)")
    p.add_argument("--force", action="store_true", help="run even if over --max-seconds or the memory guard")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="GIL Lab: measure threads vs processes on Dask's engines.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in KINDS:
        k = kind(name)
        verb = sub.add_parser(name, help=k.help)
        k.add_arguments(verb)
        _measuring_options(verb)
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


def _progress_printer(quiet: bool) -> Any:
    """``on_partial`` for the terminal: one line per round on stderr (scripts read stdout)."""
    if quiet:
        return None

    def show(partial: Any) -> None:
        line = getattr(partial, "progress_line", None)
        if line is not None:
            print(line(), file=sys.stderr, flush=True)

    return show


def _measure(name: str, args: argparse.Namespace) -> int:
    from core.engines import ClusterRegistry
    from core.kinds.base import RunContext, check, measure

    k = kind(name)
    # The terminal gets ONE line per failure, from main(): distributed's own log records (a client that lost its
    # scheduler logs it, with a traceback, before the run reports it) would come on top.
    logging.disable(logging.ERROR)
    spec = k.spec_from_args(args)
    if not args.force:
        check(k.cost(spec), args.max_seconds)
    with ClusterRegistry() as clusters:
        result = measure(k, spec, RunContext(clusters=clusters, on_partial=_progress_printer(args.quiet)))
    for warning in result.warnings() if hasattr(result, "warnings") else []:  # also in the JSON
        print(f"{PROG}: warning: {one_line(warning)}", file=sys.stderr)
    print(result.to_json() if args.json else result.text())
    return 0


def _legacy(args: argparse.Namespace) -> int:
    """The verbs not yet written as kinds of the protocol."""
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
        from core.kinds.gil_trace import GilTraceSpec, run_gil_trace, trace_table

        trace_spec = GilTraceSpec(threads=args.threads, seconds=args.seconds, workload=args.workload,
                                  switch_interval_ms=args.switch_interval_ms)
        traced = run_gil_trace(trace_spec)
        print(traced.to_json() if args.json else trace_table(traced))
        return 0
    if args.command in ("sweep", "transfer"):
        from core.kinds.sweep import cli_output

        print(cli_output(args))
        return 0
    if args.command == "overhead":
        from core.kinds.overhead import cli_output as overhead_output

        print(overhead_output(args))
        return 0
    raise ValueError(f"unknown command {args.command!r}")


def _status(exc: BaseException) -> int:
    """2 for bad input (a ValueError, an over-budget refusal), 1 for everything that failed while running."""
    return 2 if isinstance(exc, ValueError) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status. Every error is one line on stderr."""
    args = _parser().parse_args(argv)
    try:
        if args.command in KINDS:
            return _measure(args.command, args)
        return _legacy(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place every verb's failures end: one line, never a traceback
        expected = isinstance(exc, ValueError) or type(exc).__module__.startswith("core.")
        text = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        print(f"{PROG}: error: {one_line(text or type(exc).__name__)}", file=sys.stderr)
        return _status(exc)
