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

The package: :mod:`~core.export.source` (source introspection: the task functions and what they use),
:mod:`~core.export.parts` (what both formats are made of, and their words), :mod:`~core.export.notebook`
and :mod:`~core.export.script` (the two renderers) and :mod:`~core.export.files` (formats, file names,
downloads). Every name is importable from here.
"""

from __future__ import annotations

from core.export.files import (
    FORMATS,
    Download,
    Format,
    check_file_name,
    export,
    format_of,
    load_result,
    take_home,
)
from core.export.notebook import (
    notebook_text,
    to_notebook,
)
from core.export.parts import (
    DEFAULT_ROUNDS,
    FEWEST_ROUNDS,
    MOST_ROUNDS,
    Engine,
    Parts,
    build_parts,
    export_engines,
    export_rounds,
    intro_lines,
    lab_rows,
    measured_lines,
    pitfall_lines,
    plain_text,
    preset_of,
    table_lines,
    task_calls,
    when_words,
)
from core.export.script import (
    comment,
    to_script,
)
from core.export.source import (
    PIP_NAMES,
    TASKS_MODULE,
    WIDTH,
    global_names,
    indent_lines,
    q,
    sorted_imports,
    tasks_source,
    top_module,
    wrap_call,
)

__all__ = [
    "DEFAULT_ROUNDS",
    "Download",
    "FEWEST_ROUNDS",
    "FORMATS",
    "Format",
    "MOST_ROUNDS",
    "TASKS_MODULE",
    "WIDTH",
    "Engine",
    "PIP_NAMES",
    "Parts",
    "task_calls",
    "comment",
    "export_engines",
    "global_names",
    "indent_lines",
    "intro_lines",
    "lab_rows",
    "measured_lines",
    "build_parts",
    "pitfall_lines",
    "plain_text",
    "preset_of",
    "q",
    "sorted_imports",
    "table_lines",
    "top_module",
    "when_words",
    "wrap_call",
    "check_file_name",
    "export",
    "export_rounds",
    "format_of",
    "load_result",
    "notebook_text",
    "take_home",
    "tasks_source",
    "to_notebook",
    "to_script",
]
