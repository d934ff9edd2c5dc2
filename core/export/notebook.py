"""The export as a Jupyter notebook (nbformat is imported only when one is built)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.export.parts import build_parts, intro_lines, measured_lines, pitfall_lines, preset_of
from core.export.source import TASKS_MODULE
from core.predict import question_for

if TYPE_CHECKING:  # nbformat is imported when a notebook is built, not when the CLI starts
    from nbformat import NotebookNode

    from core.kinds.compare import CompareSpec, ComparisonResult


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

    parts = build_parts(spec, result)
    cells: list[Any] = []

    def md(lines: list[str]) -> None:
        cells.append(v4.new_markdown_cell("\n".join(lines)))

    def code(lines: list[str]) -> None:
        cells.append(v4.new_code_cell("\n".join(lines).strip()))

    md(_question(spec))
    md(intro_lines(parts, "run all cells", parts.packages(["pandas", "altair"])))
    md(["## 1 · The tasks", "",
        f"The next cell writes the task functions to `{TASKS_MODULE}.py` beside this notebook. Worker processes"
        " start fresh interpreters (spawn) and import a task function by its module and name. A function defined"
        " in a cell is in no module they can import: Dask would ship it by value (cloudpickle), the standard"
        " library's process pools cannot."])
    code([f"%%writefile {TASKS_MODULE}.py", parts.tasks])
    md(["## 2 · The engines, started once", "",
        "Every engine is started before anything is timed (a process pool or a cluster takes a while to start;"
        " the rounds measure the work, not the start-up). Pitfalls the code avoids:", "",
        *[f"- {p}" for p in pitfall_lines(parts)]])
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
    md(measured_lines(result, spec))
    for k, cell in enumerate(cells):
        cell["id"] = f"cell-{k}"  # stable ids: the same comparison gives the same file
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nb


def _question(spec: CompareSpec) -> list[str]:
    """The first cell: the page's own question (:func:`core.predict.question_for`), to answer before running."""
    p = preset_of(spec)
    q = question_for(p.name if p is not None else "comparison", spec)
    return ["**Predict first.** " + q.text, "", *[f"- {c.label}" for c in q.choices], "",
            "Decide before you run the cells: the rounds of section 4 answer it, on your machine."]


def notebook_text(spec: CompareSpec, result: ComparisonResult | None = None) -> str:
    """:func:`to_notebook` as the text of an ``.ipynb`` file."""
    import nbformat

    return nbformat.writes(to_notebook(spec, result))

