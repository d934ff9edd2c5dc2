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
import math
import sys
from typing import Any, NoReturn

from core.kinds import KINDS, kind
from core.workloads import WORKLOADS

PROG = "python -m core"

# The reports: what the lab runs on, not measurements (no budget, no run slot). verb -> (help, has --json).
INFO: dict[str, tuple[str, bool]] = {
    "workloads": ("list the workloads, their sizes and what they do to the GIL", False),
    "machine": ("print this machine's cores, Python, GIL status and versions as JSON", False),
    "interpreter": ("print the interpreter (GIL, switch interval) and BLAS thread pools", True),
}


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
    for name, (help_text, has_json) in INFO.items():
        info = sub.add_parser(name, help=help_text)
        if has_json:
            info.add_argument("--json", action="store_true", help="print one JSON object instead of text")
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
    spec = k.spec_from_args(args)
    if not args.force:
        check(k.cost(spec), args.max_seconds)
    with ClusterRegistry() as clusters:
        result = measure(k, spec, RunContext(clusters=clusters, on_partial=_progress_printer(args.quiet)))
    print(result.to_json() if args.json else result.text())
    return 0


def _info(args: argparse.Namespace) -> int:
    if args.command == "workloads":
        for w in WORKLOADS.values():
            print(f"{w.name:13} size = {w.size_name} {w.size_unit}".rstrip()
                  + f" [{w.min_size:g}–{w.max_size:g}, default {w.default_size:g}] · {w.gil} the GIL: {w.gil_why}")
    elif args.command == "machine":
        from core.measure.machine import machine_info

        print(json.dumps(machine_info().to_dict(), indent=2))
    else:
        from core.kinds.interpreter import interpreter_report, report_text

        report = interpreter_report()
        print(json.dumps(report, indent=2) if args.json else report_text(report))
    return 0


def _status(exc: BaseException) -> int:
    """2 for bad input (a ValueError, an over-budget refusal), 1 for everything that failed while running."""
    return 2 if isinstance(exc, ValueError) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status. Every error is one line on stderr."""
    args = _parser().parse_args(argv)
    try:
        if args.command in KINDS:
            return _measure(args.command, args)
        return _info(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place every verb's failures end: one line, never a traceback
        expected = isinstance(exc, ValueError) or type(exc).__module__.startswith("core.")
        text = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        print(f"{PROG}: error: {one_line(text or type(exc).__name__)}", file=sys.stderr)
        return _status(exc)
