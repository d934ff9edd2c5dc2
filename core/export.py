"""Take a comparison home: the same experiment as a Jupyter notebook or a Python script, without the lab.

A learner who saw a comparison in the lab can run it on their own machine with nothing of the lab
installed: plain Dask (and the standard library or joblib where an engine needs them), pandas for the
table, Altair for the notebook's chart. Written once against
:class:`~core.kinds.compare.CompareSpec` and :class:`~core.kinds.compare.ComparisonResult`, so any
comparison exports: a preset, the settings a page has on screen, the CLI's options.

Where each part comes from (nothing is written twice):

* the task functions: their source in :mod:`core.workloads`, with the helpers, imports and constants
  they use (:func:`tasks_source`). At run time they go into a small module file,
  :data:`TASKS_MODULE` ``.py``, beside the notebook or script: worker processes start fresh
  interpreters (spawn) and import a task function by module and name, which a function defined in a
  notebook cell or in ``__main__`` would not give them;
* each engine's imports, setup, run and teardown: :func:`core.engines.code.engine_code`;
* the way of measuring: the lab's (:mod:`core.measure.rounds`) in a few readable lines: every engine
  started once, a warm-up round, then rounds in rotated order, each compute timed with
  ``time.perf_counter``, every engine closed at the end;
* with a result, what this server measured (machine, date, verdicts with their intervals, and the
  result's own sentences), quoted so the learner can compare it with their own run.
"""

from __future__ import annotations

import ast
import dis
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Any, Literal

from core.engines.code import EngineCode, engine_code
from core.workloads import WORKLOADS

if TYPE_CHECKING:  # nbformat is imported when a notebook is built, not when the CLI starts
    from nbformat import NotebookNode

    from core.kinds.compare import Arm, CompareSpec, ComparisonResult

Format = Literal["ipynb", "py"]
FORMATS: tuple[Format, ...] = ("ipynb", "py")

TASKS_MODULE = "gil_lab_tasks"
DEFAULT_ROUNDS = 10  # an adaptive comparison exported without a result
FEWEST_ROUNDS = 6  # the lab's fewest for an interval: a result decided in fewer rounds exports this many
MOST_ROUNDS = 20  # a long, undecided result is not made a learner's long wait
WIDTH = 100  # longest line the export writes where it can choose

# pip names of the modules an export may import, where they differ from the module's name
_PIP_NAMES = {"sklearn": "scikit-learn"}


# --- the parts both formats are made of ----------------------------------------------------------------


def export_rounds(spec: CompareSpec, result: ComparisonResult | None = None) -> int:
    """Measured rounds of the export: the spec's fixed count, else the result's (6 to 20), else 10."""
    if spec.rounds != "auto":
        return int(spec.rounds)
    if result is not None:
        return min(max(result.rounds, FEWEST_ROUNDS), MOST_ROUNDS)
    return DEFAULT_ROUNDS


def _global_names(code: CodeType) -> Iterator[str]:
    """Names a function's code reads as globals (nested comprehensions included)."""
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield str(ins.argval)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _global_names(const)


def tasks_source(functions: list[Callable[..., Any]], title: str) -> str:
    """A module with ``functions`` (of :mod:`core.workloads`) and what they use, ready to import.

    The source is the functions' own (``inspect.getsource``), decorators included; helpers they call
    come first, then the modules, names and constants they read. Anything else they need is refused
    with a ``ValueError``, so a change in :mod:`core.workloads` cannot export a module that fails.
    """
    from core import workloads

    module = vars(workloads)
    imports: dict[str, None] = {}
    constants: dict[str, None] = {}
    sources: dict[str, str] = {}

    def visit(fn: Callable[..., Any]) -> None:
        name = fn.__name__
        if name in sources:
            return
        sources[name] = ""  # placed now, filled below: recursion and cycles end here
        inner = inspect.unwrap(fn)
        src = textwrap.dedent(inspect.getsource(inner))
        tree = ast.parse(src).body[0]
        decorators = [d.id for d in getattr(tree, "decorator_list", []) if isinstance(d, ast.Name)]
        for used in dict.fromkeys([*decorators, *_global_names(inner.__code__)]):
            if used == name or used not in module:
                continue  # a recursive call, or a builtin
            obj = module[used]
            if inspect.ismodule(obj):
                imports[f"import {obj.__name__}" + (f" as {used}" if obj.__name__ != used else "")] = None
            elif callable(obj) and getattr(obj, "__module__", None) == workloads.__name__:
                del sources[name]  # helpers first: re-insert this one after them
                visit(obj)
                sources[name] = ""
            elif callable(obj) and getattr(obj, "__module__", None):
                imports[f"from {obj.__module__} import {used}"] = None
            elif isinstance(obj, (int, float, str)) and not isinstance(obj, bool):
                constants[f"{used} = {obj!r}"] = None
            else:
                raise ValueError(f"cannot write out {name}: it uses {used}, which is neither a module, a function"
                                 " nor a constant")
        sources[name] = src.rstrip() + "\n"

    for fn in functions:
        visit(fn)
    head = [f'"""{title}\n\nWritten out from GIL Lab\'s core/workloads.py. A module of its own, so that worker'
            ' processes\n(fresh interpreters, started by spawn) can import the functions by name.\n"""',
            "", "from __future__ import annotations"]
    if imports:
        head += ["", *_sorted_imports(list(imports))]
    if constants:
        head += ["", *constants]
    return "\n".join(head) + "\n\n\n" + "\n\n".join(sources.values())


def _top_module(line: str) -> str:
    return line.split()[1].split(".")[0]


def _sorted_imports(lines: list[str]) -> list[str]:
    """Import lines as isort would write them: one line per module, the standard library, a blank line, the rest."""
    plain: dict[str, None] = {}
    names: dict[str, dict[str, None]] = {}
    for line in lines:
        if line.startswith("from "):
            module, _, imported = line[5:].partition(" import ")
            names.setdefault(module, {}).update(dict.fromkeys(n.strip() for n in imported.split(",")))
        elif line.strip():
            plain[line] = None
    merged = [*plain, *(f"from {m} import {', '.join(sorted(n))}" for m, n in names.items())]
    unique = sorted(merged, key=lambda s: (s.startswith("from "), s))
    std = [s for s in unique if _top_module(s) in sys.stdlib_module_names or _top_module(s) == "__future__"]
    rest = [s for s in unique if s not in std]
    return std + ([""] if std and rest else []) + rest


def _wrap_call(code: str, indent: str = "") -> list[str]:
    """A line of code whose first call's arguments are wrapped to :data:`WIDTH` (as it is if short or no call)."""
    import io
    import tokenize

    if len(indent + code) <= WIDTH:
        return [indent + code]
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.OP]
    except (tokenize.TokenError, SyntaxError):
        return [indent + code]
    depth, opened, commas, closed = 0, -1, [], -1
    for tok in tokens:
        if tok.string in "([{":
            depth += 1
            if depth == 1 and opened < 0:
                if tok.string != "(":
                    return [indent + code]  # the line starts with a literal, not a call
                opened = tok.end[1]
        elif tok.string in ")]}":
            depth -= 1
            if depth == 0:
                closed = tok.start[1]
                break
        elif tok.string == "," and depth == 1:
            commas.append(tok.start[1])
    if opened < 0 or closed < 0:
        return [indent + code]
    bounds = [opened - 1, *commas, closed]
    args = [code[a + 1:b].strip() + ("," if b != closed else "") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    lines, line = [indent + code[:opened]], ""
    for arg in args:
        if line and len(indent) + 4 + len(line) + 1 + len(arg) > WIDTH:
            lines.append(f"{indent}    {line}")
            line = ""
        line = f"{line} {arg}".strip()
    return [*lines, f"{indent}    {line}{code[closed:]}"]


def _q(text: str) -> str:
    """``text`` as a Python string literal, in double quotes where it can be."""
    return f'"{text}"' if '"' not in text and "\\" not in text and text.isprintable() else repr(text)


@dataclass(frozen=True)
class _Engine:
    """One arm of the comparison with the code that runs it."""

    arm: Arm
    code: EngineCode

    @property
    def label(self) -> str:
        return self.arm.label


def _engines(spec: CompareSpec) -> list[_Engine]:
    """Every arm's code from :func:`core.engines.code.engine_code`, under distinct, short names."""
    out: list[_Engine] = []
    names: set[str] = set()
    for arm in spec.arms:
        base = arm.engine.replace("-", "_")
        if arm.engine not in ("sync", "external"):
            base += f"_{arm.workers}" + (f"x{arm.threads_per_worker}" if arm.threads_per_worker != 1 else "")
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.add(name)
        try:
            code = engine_code(arm, name)
        except ValueError as exc:
            raise ValueError(f"cannot export the arm {arm.label!r}: {exc}") from None
        out.append(_Engine(arm, code))
    return out


@dataclass(frozen=True)
class _Parts:
    """What the notebook and the script are both made of (code as lines at the left margin)."""

    spec: CompareSpec
    result: ComparisonResult | None
    rounds: int
    engines: list[_Engine]
    tasks: str
    task_names: list[str]
    calls: list[str]
    example: str

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.engines]

    def imports(self, extra: list[str]) -> list[str]:
        return _sorted_imports([*extra, *(line for e in self.engines for line in e.code.imports)])

    def packages(self, extra: list[str]) -> str:
        """``dask distributed pandas altair``: what to ``pip install`` for this export."""
        found = [_top_module(s) for s in self.imports([]) if s.strip()]
        for node in ast.walk(ast.parse(self.tasks)):
            if isinstance(node, ast.Import):
                found += [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append(node.module.split(".")[0])
        third = [m for m in found if m not in sys.stdlib_module_names and m != "__future__"]
        return " ".join(_PIP_NAMES.get(m, m) for m in dict.fromkeys([*third, *extra]))

    def setup(self, tasks_path: str) -> list[str]:
        # Each prelude once, however many engines need it (two LocalClusters set distributed's log level once).
        # An entry may span lines (a small function): it is deduplicated whole, then split.
        lines = [line for entry in dict.fromkeys(p for e in self.engines for p in e.code.prelude)
                 for line in entry.splitlines()]
        for e in self.engines:
            lines += _wrap_call(e.code.setup)
            if e.arm.engine == "external":  # a cluster elsewhere has no gil_lab_tasks.py: send it
                lines.append(f"{e.code.name}.upload_file({tasks_path})  # its scheduler and workers import the tasks")
        return lines

    def engines_dict(self) -> list[str]:
        """``engines = {label: a function that computes every task once}``: a lambda, or a def for statements."""
        defs, lines = [], ["engines = {  # label: one compute of every task (what a round times)"]
        for e in self.engines:
            key, run = _q(e.label), e.code.run.format(calls="calls")
            if "\n" in run:  # statements (a pool opened and closed around the compute): a function of its own
                defs += [f"def run_{e.code.name}():", *_indent(run.splitlines(), "    "), ""]
                lines.append(f"    {key}: run_{e.code.name},")
                continue
            entry = f"    {key}: lambda: {run},"
            lines += [entry] if len(entry) <= WIDTH else [f"    {key}:", *_wrap_call(f"lambda: {run},", " " * 8)]
        return [*defs, *lines, "}"]

    def teardown(self) -> list[str]:
        return [e.code.teardown for e in self.engines if e.code.teardown]

    def rounds_loop(self) -> list[str]:
        return [
            "labels = list(engines)",
            "rows, wall_s = [], {}",
            "for r in range(ROUNDS + 1):  # round 0 is the warm-up: run, not recorded",
            "    shift = r % len(labels)",
            "    for label in labels[shift:] + labels[:shift]:  # the order rotates every round",
            "        t0 = time.perf_counter()",
            "        engines[label]()",
            "        wall_s[label] = time.perf_counter() - t0",
            "    if r > 0:",
            '        rows += [{"round": r, "engine": label, "wall_s": wall_s[label]} for label in labels]',
        ]

    def table(self) -> list[str]:
        return [
            "table = pd.DataFrame(rows)  # one row per engine per round",
            'baseline = table[table["engine"] == labels[0]].set_index("round")["wall_s"]',
            "# speed-up: the baseline's time in the same round ÷ this engine's (above 1: faster)",
            'table["speedup"] = table["round"].map(baseline) / table["wall_s"]',
            'summary = table.groupby("engine", sort=False).agg(',
            '    rounds=("round", "count"), median_wall_s=("wall_s", "median"), speedup=("speedup", "median"),',
            '    speedup_min=("speedup", "min"), speedup_max=("speedup", "max"))',
        ]


def _calls(spec: CompareSpec) -> tuple[list[Callable[..., Any]], list[str], str]:
    """The task functions the calls use, the lines that build ``calls`` (a list of (function, args)), one call."""
    from core import workloads

    wl = WORKLOADS[spec.workload]
    size = int(spec.size) if wl.integer_size else float(spec.size)
    n = spec.tasks
    if spec.workload == "transfer":
        return [workloads.make_payload, workloads.transfer], [
            f"payload = make_payload({size})  # {size} MB, built once; every task receives it",
            f"calls = [(transfer, (payload,)) for _ in range({n})]"], "transfer(payload)"
    if spec.workload == "numpy-matmul":
        args = f"{size}, {spec.blas_threads!r}"
        return [workloads.numpy_matmul], [
            f"calls = [(numpy_matmul, ({args})) for _ in range({n})]  # matrix side, BLAS threads"], \
            f"numpy_matmul({args})"
    name = wl.func.__name__
    return [wl.func], [f"calls = [({name}, ({size!r},)) for _ in range({n})]"], f"{name}({size!r})"


def _parts(spec: CompareSpec, result: ComparisonResult | None) -> _Parts:
    from core.kinds.compare import CompareSpec as _Spec

    if not isinstance(spec, _Spec):
        raise ValueError(f"only a comparison exports (got {type(spec).__name__})")
    if result is not None and result.spec != spec:
        raise ValueError("the result is of another comparison than the spec: export result.spec with it")
    if spec.workload not in WORKLOADS:  # your own function (core.userfunc): its module is yours, not the lab's
        raise ValueError("a comparison of your own function is not exported (its module is yours to bring); run it"
                         " where it lives with python -m core compare --function MODULE:NAME")
    engines = _engines(spec)
    functions, calls, example = _calls(spec)
    title = f"Task functions of the GIL Lab comparison: {spec.label}."
    return _Parts(spec=spec, result=result, rounds=export_rounds(spec, result), engines=engines,
                  tasks=tasks_source(functions, title), task_names=[f.__name__ for f in functions], calls=calls,
                  example=example)


# --- the words --------------------------------------------------------------------------------------------


def _preset_of(spec: CompareSpec) -> Any:
    """The preset whose comparison this is (rounds and budget aside), or None."""
    from core.presets import PRESETS

    for p in PRESETS.values():
        other = p.spec()
        if spec.replace(rounds=other.rounds, budget_s=other.budget_s) == other:
            return p
    return None


def _intro(parts: _Parts, runner: str, packages: str) -> list[str]:
    spec = parts.spec
    wl = WORKLOADS[spec.workload]
    p = _preset_of(spec)
    engines = ", ".join(f"**{label}**" for label in parts.labels)
    lines = [f"# GIL Lab at home: {spec.label}", ""]
    if p is not None:
        lines += [f"**The lesson:** {p.lesson} (GIL Lab's *{p.name}* comparison).", ""]
    lines += [
        f"{spec.tasks} independent tasks of `{parts.example}` on {engines}"
        f" — the first is the baseline every speed-up is measured against. The engines are measured as GIL Lab"
        f" measures them: every engine started once, one warm-up round, then {parts.rounds} rounds in which each"
        " engine runs every task once, in an order that rotates.",
        "",
        f"**{wl.name}** {'holds' if wl.gil == 'holds' else 'releases'} the GIL: {wl.gil_why}",
        "",
        f"You need Python 3.10 or later and `pip install {packages}`; then {runner}. Nothing of GIL Lab is needed.",
    ]
    return lines


def _pitfalls(parts: _Parts, module_note: bool = False) -> list[str]:
    """The tutorial's pitfalls this export's code avoids, and why (``module_note``: why the tasks have a module)."""
    code = " ".join(f"{e.code.setup} {e.code.run}" for e in parts.engines)
    out = []
    if "pure=False" in code:
        out.append("`pure=False`: each call is a task of its own. `dask.delayed` defaults to it, but"
                   " `client.submit` and pure tasks give identical calls one key and compute them once: four"
                   " identical tasks would be one.")
    if any(e.arm.engine == "processes" for e in parts.engines):
        out.append("`chunksize=1`: Dask's processes scheduler sends up to 6 tasks to a worker at a time by default,"
                   f" so a graph of {parts.spec.tasks} tasks could run in ONE process.")
    if any(e.arm.engine != "sync" for e in parts.engines):
        out.append("Every pool and cluster has an explicit size: left to their defaults, most size themselves by the"
                   " cores of the machine they run on (Dask's threads scheduler: one thread per core), which is not"
                   " the engine the label names.")
    if module_note:
        out.append(f"The tasks live in `{TASKS_MODULE}.py`: worker processes start fresh interpreters (spawn) and"
                   " import a task function by its module and name, so every engine's workers find the same"
                   " functions there.")
    return out


def _lab_rows(result: ComparisonResult) -> list[tuple[str, str, str]]:
    """``(engine, median wall time, verdict)`` of every arm the server measured."""
    rows = [(result.labels[0], f"{result.arms[0].wall_s:.4f}", "baseline")]
    rows += [(v.label, f"{arm.wall_s:.4f}", v.describe()) for v, arm in zip(result.verdicts, result.arms[1:],
                                                                           strict=True)]
    return rows


def _table(rows: list[tuple[str, str, str]], markdown: bool) -> list[str]:
    head = ("engine", "median wall time (s)", "against the baseline (95 % interval)")
    if markdown:
        cells = [[c.replace("|", "\\|") for c in row] for row in rows]
        return [f"| {' | '.join(head)} |", "|---|---:|---|", *[f"| {' | '.join(c)} |" for c in cells]]
    width = [max(len(r[k]) for r in [head, *rows]) for k in range(3)]
    return [f"  {r[0]:<{width[0]}}  {r[1]:>{width[1]}}  {r[2]}" for r in [head, *rows]]


def _measured(result: ComparisonResult | None, spec: CompareSpec, markdown: bool = True) -> list[str]:
    """What this server measured (machine, date, verdicts, sentences), or what to look for; markdown or text."""
    shape = ("Compare the *shape*, not the milliseconds: which engines beat the baseline, and about how much."
             " Your machine is not the lab's server (other cores, another Python, other programs running).")
    if result is None:
        p = _preset_of(spec)
        lesson = f" The lesson GIL Lab draws from it: {p.lesson}." if p is not None else ""
        lines = ["## What to look for", "",
                 "This comparison was exported without a measurement, so there are no server figures to quote:"
                 " press *Run experiment* in GIL Lab, then download it again, to have them here." + lesson, "", shape]
    else:
        m = result.machine
        lines = [
            "## What GIL Lab measured",
            "",
            f"On GIL Lab's server, **{_when(result.started_at)}** (run `{result.run_id}`): {m.usable_cores} usable of"
            f" {m.logical_cores} logical cores ({m.platform}), Python {m.python_version} (GIL {m.gil_label}),"
            f" dask {m.dask_version}, distributed {m.distributed_version}, numpy {m.numpy_version};"
            f" {result.rounds} rounds after a warm-up round; {result.noise.describe()}.",
            "",
            *_table(_lab_rows(result), markdown),
            "",
            "The lab's verdict comes from one-sided bounds of the per-round speed-ups, paid for every look: *faster*"
            " when the lower bound clears 1.05×, *no faster* when the upper bound stays below"
            f" {1 + result.spec.band:.2f}×, *same* within ±{result.spec.band:.0%}, *slower* and *no slower* alike,"
            " *undecided* otherwise. What the lab said about it:",
            "",
            *[f"- {s}" for s in result.explain()],
            "",
            shape,
        ]
    if markdown:
        return lines
    out = []
    for line in lines:
        text = _plain(line.removeprefix("## ").upper() if line.startswith("## ") else line)
        out += textwrap.wrap(text, 110, subsequent_indent="  " if text.startswith("- ") else "",
                             break_on_hyphens=False) if text and not text.startswith("  ") else [text]
    return out


def _when(iso: str) -> str:
    """``2026-12-01T09:06:59+00:00`` → ``2026-12-01 09:06 UTC`` (the text itself if it is no timestamp)."""
    from datetime import datetime, timezone

    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def _plain(markdown: str) -> str:
    """Markdown as plain text for a terminal or a comment."""
    return markdown.replace("**", "").replace("`", "").replace("*", "")


# --- the notebook ---------------------------------------------------------------------------------------


def to_notebook(spec: CompareSpec, result: ComparisonResult | None = None) -> NotebookNode:
    """The comparison as a Jupyter notebook that runs without the lab (validated with ``nbformat.validate``).

    Parameters
    ----------
    spec : CompareSpec
        What to compare (any comparison: a preset, a page's settings).
    result : ComparisonResult, optional
        A measurement of ``spec`` whose figures, machine, date and sentences the notebook quotes.

    Raises
    ------
    ValueError
        For an engine :func:`core.engines.code.engine_code` has no code for, or a result of another spec.
    """
    import nbformat
    from nbformat import v4

    parts = _parts(spec, result)
    cells: list[Any] = []

    def md(lines: list[str]) -> None:
        cells.append(v4.new_markdown_cell("\n".join(lines)))

    def code(lines: list[str]) -> None:
        cells.append(v4.new_code_cell("\n".join(lines).strip()))

    md(_intro(parts, "run all cells", parts.packages(["pandas", "altair"])))
    md(["## 1 · The tasks", "",
        f"The next cell writes the task functions to `{TASKS_MODULE}.py` beside this notebook. Worker processes"
        " start fresh interpreters (spawn) and import a task function by its module and name. A function defined"
        " in a cell is in no module they can import: Dask would ship it by value (cloudpickle), the standard"
        " library's process pools cannot."])
    code([f"%%writefile {TASKS_MODULE}.py", parts.tasks])
    md(["## 2 · The engines, started once", "",
        "Every engine is started before anything is timed (a process pool or a cluster takes a while to start;"
        " the rounds measure the work, not the start-up). Pitfalls the code avoids:", "",
        *[f"- {p}" for p in _pitfalls(parts)]])
    code([*parts.imports(["import importlib", "import time"]), "",
          "importlib.invalidate_caches()  # the tasks module was just written: make the import system look again",
          f"from {TASKS_MODULE} import {', '.join(parts.task_names)}", "", *parts.calls, "",
          *parts.setup(repr(f"{TASKS_MODULE}.py")), "", *parts.engines_dict()])
    md(["## 3 · Rounds", "",
        "One stopwatch around one engine and then another measures two moments of a machine: a program that"
        " wakes up in between slows only one of them. So, as GIL Lab does, every round runs each engine once, in"
        " an order that rotates, and every engine is compared with the baseline round by round. Round 0 is a"
        " warm-up (imports, first touches of memory, a cluster's first task) and is not recorded."])
    code([f"ROUNDS = {parts.rounds}  # measured rounds, after the warm-up round", "", *parts.rounds_loop()])
    code(["# close every engine: nothing is left running", *parts.teardown()] if parts.teardown()
         else ["# nothing to close: these engines start no pool or cluster"])
    md(["## 4 · Your results", "",
        "`table` has one row per engine per round; `speedup` is the baseline's time in the same round divided by"
        " the engine's (above 1: faster). The summary shows each engine's median and the range of its per-round"
        " speed-ups."])
    code(["import pandas as pd", "", *parts.table(), "summary.round(3)"])
    code(["import altair as alt", "",
          'x = alt.X("engine:N", sort=labels, title=None, axis=alt.Axis(labelAngle=0))',
          'dots = alt.Chart(table).mark_circle(size=60, opacity=0.6).encode(',
          '    x=x, y=alt.Y("wall_s:Q", title="Wall time per round (s)"),',
          '    color=alt.Color("engine:N", sort=labels, legend=None),',
          '    tooltip=["engine", "round", "wall_s", "speedup"])',
          'medians = alt.Chart(table).mark_tick(size=40, thickness=3, color="black").encode(x=x, y="median(wall_s):Q")',
          '(dots + medians).properties(width=120 * len(labels), height=280,',
          '                            title="Every round (dots) and each engine\'s median (bar)")'])
    md(_measured(result, spec))
    for k, cell in enumerate(cells):
        cell["id"] = f"cell-{k}"  # stable ids: the same comparison gives the same file
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nb


def notebook_text(spec: CompareSpec, result: ComparisonResult | None = None) -> str:
    """:func:`to_notebook` as the text of an ``.ipynb`` file."""
    import nbformat

    return nbformat.writes(to_notebook(spec, result))


# --- the script ---------------------------------------------------------------------------------------------


def _comment(text: str, indent: str = "") -> list[str]:
    hang = "  " if text.startswith("- ") else ""
    return textwrap.wrap(_plain(text), 110, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# {hang}",
                         break_on_hyphens=False)


def _indent(lines: list[str], by: str) -> list[str]:
    return [f"{by}{line}" if line else "" for line in lines]


def to_script(spec: CompareSpec, result: ComparisonResult | None = None) -> str:
    """The comparison as a Python script: ``python FILE`` runs it without the lab and prints the table.

    Spawn-safe (the measuring happens under ``if __name__ == "__main__":``). Parameters and errors as
    :func:`to_notebook`.
    """
    parts = _parts(spec, result)
    intro = [_plain(line) for line in _intro(parts, "run `python` on this file", parts.packages(["pandas"]))]
    doc = "\n".join(textwrap.fill(line, 110, break_on_hyphens=False) if line else "" for line in intro)
    doc = doc.replace("# GIL Lab", "GIL Lab", 1).replace('"""', "'''")
    lab = "\n".join(_measured(result, spec, markdown=False))
    if '"""' in lab:
        raise ValueError("the lab's figures cannot be quoted in a triple-quoted string")
    if "'''" in parts.tasks or parts.tasks.endswith("\\"):
        raise ValueError("the task source cannot be quoted as a raw string")
    i1, i2 = " " * 4, " " * 8
    lines = [
        f'"""{doc}\n"""', "",
        *parts.imports(["import importlib", "import time", "from pathlib import Path"]), "",
        f"ROUNDS = {parts.rounds}  # measured rounds, after one warm-up round", "",
        *_comment(f"The task functions, written to {TASKS_MODULE}.py beside this script when it runs: worker processes"
                  " start fresh interpreters (spawn) and import a task function by its module and name."),
        f"TASKS = r'''\n{parts.tasks}'''", "", "",
        "def main() -> None:",
        f'    tasks_file = Path(__file__).with_name("{TASKS_MODULE}.py")',
        '    tasks_file.write_text(TASKS, encoding="utf-8")',
        "    importlib.invalidate_caches()  # the module was just written: make the import system look again",
        f"    from {TASKS_MODULE} import {', '.join(parts.task_names)}",
        "",
        "    import pandas as pd  # here, not at the top: worker processes re-import this file and need no pandas",
        "",
        *_indent(parts.calls, i1), "",
        *_comment("Every engine is started once, before anything is timed. Pitfalls the code avoids:", i1),
        *[line for p in _pitfalls(parts, module_note=True) for line in _comment(f"- {p}", i1)],
        *_indent(parts.setup("str(tasks_file)"), i1),
        "    try:",
        *_indent(parts.engines_dict(), i2),
        *_comment("Interleaved rounds: every round runs each engine once, in an order that rotates, so a busy moment"
                  " of the machine hits every engine alike.", i2),
        *_indent(parts.rounds_loop(), i2),
        "    finally:  # close every engine, also after an error or Ctrl-C",
        *(_indent(parts.teardown(), i2) or [f"{i2}pass  # these engines start no pool or cluster"]),
        "",
        *_indent(parts.table(), i1),
        '    print(f"Your run, {ROUNDS} rounds after a warm-up round (one row per engine per round):")',
        '    print(table.to_string(index=False, float_format="{:.4f}".format))',
        "    print()",
        '    print(summary.to_string(float_format="{:.4f}".format))',
        "    print()",
        "    print(GIL_LAB)",
        "", "",
        f'GIL_LAB = """\\\n{lab.replace(chr(92), chr(92) * 2)}\n"""',
        "", "",
        'if __name__ == "__main__":  # worker processes import this file too (spawn): only the main process measures',
        "    main()",
    ]
    return "\n".join(lines) + "\n"


def export(spec: CompareSpec, result: ComparisonResult | None = None, fmt: str = "ipynb") -> str:
    """The text of the ``fmt`` file (``ipynb`` or ``py``) of ``spec`` (and ``result``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    return notebook_text(spec, result) if fmt == "ipynb" else to_script(spec, result)


def format_of(path: str) -> Format:
    """The format a file name asks for: ``.ipynb`` or ``.py``."""
    match = re.search(r"\.(ipynb|py)$", path)
    if not match:
        raise ValueError(f"cannot tell the format from the output name {path!r}: give --format ipynb or py, or"
                         " name the output .ipynb or .py")
    return match.group(1)  # type: ignore[return-value]


@dataclass(frozen=True)
class Download:
    """One file a page offers: what its button says, the file's text, name and type."""

    label: str
    data: str
    file_name: str
    mime: str


def take_home(result: ComparisonResult, stem: str) -> list[Download]:
    """The notebook and the script of the comparison ``result`` measured, as a page offers them."""
    return [Download("Download as notebook", notebook_text(result.spec, result), f"{stem}.ipynb",
                     "application/x-ipynb+json"),
            Download("Download as script", to_script(result.spec, result), f"{stem}.py", "text/x-python")]


def load_result(path: str) -> ComparisonResult:
    """The comparison of a ``compare --json`` file, to quote in an export (``ValueError`` if it is not one)."""
    import json

    from core.kinds.compare import ComparisonResult

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise ValueError(f"{path} is not a compare --json file: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a compare --json file: it holds no JSON object")
    try:
        return ComparisonResult.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def check_file_name(name: str, fmt: str) -> None:
    """Refuse a file name the export would break on: its own tasks module, or a module a script would hide.

    ``gil_lab_tasks.py`` would be overwritten by the tasks when it runs; a script named ``numpy.py`` or
    ``dask.py`` would be imported in place of that package (a script's folder comes first on ``sys.path``).
    """
    from importlib.util import find_spec

    stem = name.rsplit(".", 1)[0]
    if stem == TASKS_MODULE:
        raise ValueError(f"{TASKS_MODULE} is the name of the tasks module the export writes when it runs: choose"
                         " another name")
    if fmt == "py" and stem.isidentifier() and (stem in sys.stdlib_module_names or find_spec(stem) is not None):
        raise ValueError(f"a script of that name would be imported in place of the {stem} module: choose another"
                         " name")
