"""What both formats are made of: the rounds, each engine's code, the calls, and the words around them."""

from __future__ import annotations

import ast
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.engines.code import EngineCode, engine_code
from core.export.source import (
    PIP_NAMES,
    TASKS_MODULE,
    WIDTH,
    indent_lines,
    parse,
    q,
    sorted_imports,
    tasks_source,
    top_module,
    wrap_call,
)
from core.measure.stats import FEWEST_AUTO_ROUNDS
from core.workloads import WORKLOADS

if TYPE_CHECKING:  # the comparison's types only: the CLI starts without importing the comparison
    from core.kinds.compare import Arm, CompareSpec, ComparisonResult


DEFAULT_ROUNDS = 10  # an adaptive comparison exported without a result
FEWEST_ROUNDS = FEWEST_AUTO_ROUNDS  # the fewest that can decide a claim: an auto result never exports fewer
MOST_ROUNDS = 20  # a long, undecided result is not made a learner's long wait


# --- the parts both formats are made of ----------------------------------------------------------------


def export_rounds(spec: CompareSpec, result: ComparisonResult | None = None) -> int:
    """Measured rounds of the export: the spec's fixed count, else the result's (7 to 20), else 10."""
    if spec.rounds != "auto":
        return int(spec.rounds)
    if result is not None:
        return min(max(result.rounds, FEWEST_ROUNDS), MOST_ROUNDS)
    return DEFAULT_ROUNDS


@dataclass(frozen=True)
class Engine:
    """One arm of the comparison with the code that runs it."""

    arm: Arm
    code: EngineCode

    @property
    def label(self) -> str:
        return self.arm.label


def export_engines(spec: CompareSpec) -> list[Engine]:
    """Every arm's code from :func:`core.engines.code.engine_code`, under distinct, short names."""
    out: list[Engine] = []
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
        out.append(Engine(arm, code))
    return out


@dataclass(frozen=True)
class Parts:
    """What the notebook and the script are both made of (code as lines at the left margin)."""

    spec: CompareSpec
    result: ComparisonResult | None
    rounds: int
    engines: list[Engine]
    tasks: str
    task_names: list[str]
    calls: list[str]
    example: str

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.engines]

    def imports(self, extra: list[str]) -> list[str]:
        return sorted_imports([*extra, *(line for e in self.engines for line in e.code.imports)])

    def packages(self, extra: list[str]) -> str:
        """``dask distributed pandas altair``: what to ``pip install`` for this export."""
        found = [top_module(s) for s in self.imports([]) if s.strip()]
        for node in ast.walk(parse(self.tasks)):
            if isinstance(node, ast.Import):
                found += [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append(node.module.split(".")[0])
        third = [m for m in found if m not in sys.stdlib_module_names and m != "__future__"]
        return " ".join(PIP_NAMES.get(m, m) for m in dict.fromkeys([*third, *extra]))

    def setup(self, tasks_path: str) -> list[str]:
        # Each prelude once, however many engines need it (two LocalClusters set distributed's log level once).
        # An entry may span lines (a small function): it is deduplicated whole, then split.
        lines = [line for entry in dict.fromkeys(p for e in self.engines for p in e.code.prelude)
                 for line in entry.splitlines()]
        for e in self.engines:
            lines += wrap_call(e.code.setup)
            if e.arm.engine == "external":  # a cluster elsewhere has no gil_lab_tasks.py: send it
                lines.append(f"{e.code.name}.upload_file({tasks_path})  # its scheduler and workers import the tasks")
        return lines

    def engines_dict(self) -> list[str]:
        """``engines = {label: a function that computes every task once}``: a lambda, or a def for statements."""
        defs, lines = [], ["engines = {  # label: one compute of every task (what a round times)"]
        for e in self.engines:
            key, run = q(e.label), e.code.run.format(calls="calls")
            if "\n" in run:  # statements (a pool opened and closed around the compute): a function of its own
                defs += [f"def run_{e.code.name}():", *indent_lines(run.splitlines(), "    "), ""]
                lines.append(f"    {key}: run_{e.code.name},")
                continue
            entry = f"    {key}: lambda: {run},"
            lines += [entry] if len(entry) <= WIDTH else [f"    {key}:", *wrap_call(f"lambda: {run},", " " * 8)]
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


def task_calls(spec: CompareSpec) -> tuple[list[Callable[..., Any]], list[str], str]:
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


def build_parts(spec: CompareSpec, result: ComparisonResult | None) -> Parts:
    from core.kinds.compare import CompareSpec as _Spec

    if not isinstance(spec, _Spec):
        raise ValueError(f"only a comparison exports (got {type(spec).__name__})")
    if result is not None and result.spec != spec:
        raise ValueError("the result is of another comparison than the spec: export result.spec with it")
    if spec.workload not in WORKLOADS:  # your own function (core.userfunc): its module is yours, not the lab's
        raise ValueError("a comparison of your own function is not exported (its module is yours to bring); run it"
                         " where it lives with python -m core compare --function MODULE:NAME")
    engines = export_engines(spec)
    functions, calls, example = task_calls(spec)
    title = f"Task functions of the GIL Lab comparison: {spec.label}."
    return Parts(spec=spec, result=result, rounds=export_rounds(spec, result), engines=engines,
                  tasks=tasks_source(functions, title), task_names=[f.__name__ for f in functions], calls=calls,
                  example=example)


# --- the words --------------------------------------------------------------------------------------------


def preset_of(spec: CompareSpec) -> Any:
    """The preset whose comparison this is (rounds and budget aside), or None."""
    from core.presets import PRESETS

    for p in PRESETS.values():
        other = p.spec()
        if spec.replace(rounds=other.rounds, budget_s=other.budget_s) == other:
            return p
    return None


def intro_lines(parts: Parts, runner: str, packages: str) -> list[str]:
    spec = parts.spec
    wl = WORKLOADS[spec.workload]
    p = preset_of(spec)
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


def pitfall_lines(parts: Parts, module_note: bool = False) -> list[str]:
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


def lab_rows(result: ComparisonResult) -> list[tuple[str, str, str]]:
    """``(engine, median wall time, verdict)`` of every arm the server measured."""
    rows = [(result.labels[0], f"{result.arms[0].wall_s:.4f}", "baseline")]
    rows += [(v.label, f"{arm.wall_s:.4f}", v.describe()) for v, arm in zip(result.verdicts, result.arms[1:],
                                                                           strict=True)]
    return rows


def table_lines(rows: list[tuple[str, str, str]], markdown: bool) -> list[str]:
    head = ("engine", "median wall time (s)", "against the baseline (95 % interval)")
    if markdown:
        cells = [[c.replace("|", "\\|") for c in row] for row in rows]
        return [f"| {' | '.join(head)} |", "|---|---:|---|", *[f"| {' | '.join(c)} |" for c in cells]]
    width = [max(len(r[k]) for r in [head, *rows]) for k in range(3)]
    return [f"  {r[0]:<{width[0]}}  {r[1]:>{width[1]}}  {r[2]}" for r in [head, *rows]]


def measured_lines(result: ComparisonResult | None, spec: CompareSpec, markdown: bool = True) -> list[str]:
    """What this server measured (machine, date, verdicts, sentences), or what to look for; markdown or text."""
    shape = ("Compare the *shape*, not the milliseconds: which engines beat the baseline, and about how much."
             " Your machine is not the lab's server (other cores, another Python, other programs running).")
    if result is None:
        p = preset_of(spec)
        lesson = f" The lesson GIL Lab draws from it: {p.lesson}." if p is not None else ""
        lines = ["## What to look for", "",
                 "This comparison was exported without a measurement, so there are no server figures to quote:"
                 " press *Run experiment* in GIL Lab, then download it again, to have them here." + lesson, "", shape]
    else:
        m = result.machine
        lines = [
            "## What GIL Lab measured",
            "",
            f"On GIL Lab's server, **{when_words(result.started_at)}** (run `{result.run_id}`): {m.usable_cores}"
            " usable of"
            f" {m.logical_cores} logical cores ({m.platform}), Python {m.python_version} (GIL {m.gil_label}),"
            f" dask {m.dask_version}, distributed {m.distributed_version}, numpy {m.numpy_version};"
            f" {result.rounds} rounds after a warm-up round; {result.noise.describe()}.",
            "",
            *table_lines(lab_rows(result), markdown),
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
        text = plain_text(line.removeprefix("## ").upper() if line.startswith("## ") else line)
        out += textwrap.wrap(text, 110, subsequent_indent="  " if text.startswith("- ") else "",
                             break_on_hyphens=False) if text and not text.startswith("  ") else [text]
    return out


def when_words(iso: str) -> str:
    """``2026-12-01T09:06:59+00:00`` → ``2026-12-01 09:06 UTC`` (the text itself if it is no timestamp)."""
    from datetime import datetime, timezone

    try:
        return datetime.fromisoformat(iso).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def plain_text(markdown: str) -> str:
    """Markdown as plain text for a terminal or a comment."""
    return markdown.replace("**", "").replace("`", "").replace("*", "")

