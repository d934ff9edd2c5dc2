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
import os
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
    "interpreters": ("list the CPython interpreters on this machine: version, GIL or free-threaded, subinterpreters",
                     True),
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


def _measuring_options(p: argparse.ArgumentParser, json_option: bool = True) -> None:
    if json_option:
        p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.add_argument("--max-seconds", type=budget_seconds, default=60.0,
                   help="refuse measurements estimated longer (default 60)")
    p.add_argument("--force", action="store_true", help="run even if over --max-seconds or the memory guard")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _export_parser(sub: Any) -> None:
    """``export``: a comparison as a notebook or script, with compare's own options (not a measurement kind)."""
    from core.export import FORMATS

    verb = sub.add_parser("export", help="write a comparison as a Jupyter notebook or a script that runs without"
                          " the lab")
    kind("compare").add_arguments(verb)
    verb.add_argument("--format", choices=FORMATS, help="ipynb (a notebook) or py (a script); default: from"
                      " --output's name")
    verb.add_argument("--output", "-o", metavar="FILE", help="the file to write (default: print it)")
    verb.add_argument("--measure", action="store_true", help="measure the comparison here first and quote its"
                      " figures (machine, date, verdicts) in the export")
    verb.add_argument("--result", metavar="FILE.json", help="quote the figures of a `compare --json` output; its"
                      " settings are exported")
    _measuring_options(verb, json_option=False)


def _predictions_parser(sub: Any) -> None:
    """``predictions``: the class view's anonymous counts (not a measurement: no budget, no run slot)."""
    verb = sub.add_parser("predictions", help="print the class's prediction counts per page and preset (the"
                          " Instructor page's numbers), or reset them")
    verb.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    verb.add_argument("--db", metavar="PATH", help="the class database (default: the class_db setting,"
                      " GIL_LAB_CLASS_DB)")
    verb.add_argument("--reset", action="store_true", help="forget every count, then print what is left (nothing)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="GIL Lab: measure threads vs processes on Dask's engines.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in KINDS:
        k = kind(name)
        verb = sub.add_parser(name, help=k.help)
        k.add_arguments(verb)
        _measuring_options(verb)
    _export_parser(sub)
    _predictions_parser(sub)
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


def _measured(k: Any, spec: Any, args: argparse.Namespace) -> Any:
    """Measure ``spec`` of kind ``k`` within the budget options of ``args`` (the run slot held, clusters closed)."""
    from core.engines import ClusterRegistry
    from core.kinds.base import RunContext, check, measure

    # The terminal gets ONE line per failure, from main(): distributed's own log records (a client that lost its
    # scheduler logs it, with a traceback, before the run reports it) would come on top.
    logging.disable(logging.ERROR)
    if not args.force:
        check(k.cost(spec), args.max_seconds)
    with ClusterRegistry() as clusters:
        result = measure(k, spec, RunContext(clusters=clusters, on_partial=_progress_printer(args.quiet)))
    for warning in result.warnings():  # also in the JSON
        print(f"{PROG}: warning: {one_line(warning)}", file=sys.stderr)
    return result


def _measure(name: str, args: argparse.Namespace) -> int:
    k = kind(name)
    result = _measured(k, k.spec_from_args(args), args)
    print(result.to_json() if args.json else result.text())
    return 0


def _export(args: argparse.Namespace) -> int:
    """``export``: the comparison of ``args`` (or of ``--result``) as a notebook or script, to a file or stdout."""
    from core.export import export, format_of, load_result

    k = kind("compare")
    result = None
    if args.result is not None:  # the settings first: a bad one is named before anything else is looked at
        given = _given(args, k.add_arguments)
        if given:
            raise ValueError(f"--result brings its own settings: drop {given[0]} or --result")
        if args.measure:
            raise ValueError("--result quotes a measurement already made: drop --measure or --result")
        try:
            result = load_result(args.result)
        except ValueError as exc:
            raise ValueError(f"--result: {exc}") from None
        spec = result.spec
    else:
        spec = k.spec_from_args(args)
    output = None if args.output in (None, "-") else args.output
    fmt = args.format or (format_of(output) if output else None)
    if fmt is None:
        raise ValueError("give --format ipynb or py (or an --output file named .ipynb or .py)")
    target = _writable(output, fmt) if output else None  # before measuring: fail fast
    if args.measure:
        result = _measured(k, spec, args)
        spec = result.spec
    text = export(spec, result, fmt)
    if target is None:
        sys.stdout.write(text)
        return 0
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot write --output {output}: {exc.strerror or exc}") from None
    if not args.quiet:
        print(f"wrote {output} ({fmt}, {len(text.splitlines())} lines)", file=sys.stderr)
    return 0


def _predictions(args: argparse.Namespace) -> int:
    """``predictions``: the counts as a table or JSON (schema ``predictions/1``); exit 2 if the database fails."""
    from core.predict import ClassStore, ClassStoreUnavailable
    from core.serve.settings import load_settings

    named = args.db is not None  # a path the caller gave must exist; the setting's may not yet (a fresh server)
    path = args.db if named else load_settings().class_db
    where = "--db" if named else "the class_db setting"
    if not path or not path.strip() or not path.isprintable():
        raise ValueError(f"{where} must be a file path or :memory: (got {path!r})")
    if named and path != ":memory:" and not args.reset and not os.path.isfile(path):
        raise ValueError(f"--db: no class database at {path!r} (the app creates it at its first counted prediction)")
    store = ClassStore(path, create=args.reset)
    reset = None
    if args.reset:
        try:
            reset = store.reset()
        except ClassStoreUnavailable as exc:
            raise ValueError(f"{where}: {exc}") from None
    counts = store.counts()
    if not store.available:
        raise ValueError(f"{where}: {store.reason}")
    rows = [{k: (int(v) if k == "count" else str(v)) for k, v in row.items()} for row in counts.to_dict("records")]
    if args.json:
        out: dict[str, Any] = {"kind": "predictions", "schema": 1, "db": store.path,
                               "total": sum(r["count"] for r in rows), "counts": rows}
        if reset is not None:
            out["reset"] = reset
        print(json.dumps(out, indent=2))
        return 0
    if reset is not None:
        print(f"reset the class counts in {store.path}: {reset} prediction(s) forgotten")
    if not rows:
        print(f"no predictions counted in {store.path}")
        return 0
    table = counts.pivot_table(index=["page", "preset", "choice"], columns="outcome", values="count",
                               aggfunc="sum", fill_value=0)
    print(f"class predictions in {store.path} ({int(counts['count'].sum())} in all)\n")
    print(table.to_string())
    return 0


def _given(args: argparse.Namespace, add_arguments: Any) -> list[str]:
    """The options ``add_arguments`` defines that ``args`` sets to something other than their default."""
    probe = argparse.ArgumentParser(add_help=False)
    add_arguments(probe)
    return [a.option_strings[0] for a in probe._actions if getattr(args, a.dest, a.default) != a.default]


def _writable(output: str, fmt: str) -> Any:
    """The ``Path`` of ``output`` if an export can be written there (``ValueError`` saying why not)."""
    import os
    from pathlib import Path

    from core.export import check_file_name

    path = Path(output)
    try:
        check_file_name(path.name, fmt)
        if path.is_dir():
            raise ValueError("it is a directory")
        if not path.parent.is_dir():
            raise ValueError(f"no directory {str(path.parent)!r}")
        if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise ValueError("permission denied")
    except (ValueError, OSError) as exc:  # OSError: a name too long, a NUL byte
        raise ValueError(f"cannot write --output {output}: {exc}") from None
    return path


def _info(args: argparse.Namespace) -> int:
    """The reports of :data:`INFO`."""
    if args.command == "workloads":
        for w in WORKLOADS.values():
            print(f"{w.name:13} size = {w.size_name} {w.size_unit}".rstrip()
                  + f" [{w.min_size:g}–{w.max_size:g}, default {w.default_size:g}] · {w.gil} the GIL: {w.gil_why}")
    elif args.command == "machine":
        from core.measure.machine import machine_info

        print(json.dumps(machine_info().to_dict(), indent=2))
    elif args.command == "interpreters":
        from core.interpreters import discover
        from core.interpreters import report_text as interpreters_text

        found = discover()
        print(json.dumps([i.to_dict() for i in found], indent=2) if args.json else interpreters_text(found))
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
        if args.command == "export":
            return _export(args)
        if args.command == "predictions":
            return _predictions(args)
        return _info(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the one place every verb's failures end: one line, never a traceback
        expected = isinstance(exc, ValueError) or type(exc).__module__.startswith("core.")
        text = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        print(f"{PROG}: error: {one_line(text or type(exc).__name__)}", file=sys.stderr)
        return _status(exc)
