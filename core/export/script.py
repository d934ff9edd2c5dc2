"""The export as a plain Python script."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from core.export.parts import build_parts, intro_lines, measured_lines, pitfall_lines, plain_text
from core.export.source import TASKS_MODULE, indent_lines

if TYPE_CHECKING:  # the comparison's types only: the CLI starts without importing the comparison
    from core.kinds.compare import CompareSpec, ComparisonResult


# --- the script ---------------------------------------------------------------------------------------------


def comment(text: str, indent: str = "") -> list[str]:
    hang = "  " if text.startswith("- ") else ""
    return textwrap.wrap(plain_text(text), 110, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}# {hang}",
                         break_on_hyphens=False)


def to_script(spec: CompareSpec, result: ComparisonResult | None = None) -> str:
    """The comparison as a Python script: ``python FILE`` runs it without the lab and prints the table.

    Spawn-safe (the measuring happens under ``if __name__ == "__main__":``). Parameters and errors as
    :func:`to_notebook`.
    """
    parts = build_parts(spec, result)
    intro = [plain_text(line) for line in intro_lines(parts, "run `python` on this file", parts.packages(["pandas"]))]
    doc = "\n".join(textwrap.fill(line, 110, break_on_hyphens=False) if line else "" for line in intro)
    doc = doc.replace("# GIL Lab", "GIL Lab", 1).replace('"""', "'''")
    lab = "\n".join(measured_lines(result, spec, markdown=False))
    if '"""' in lab:
        raise ValueError("the lab's figures cannot be quoted in a triple-quoted string")
    if "'''" in parts.tasks or parts.tasks.endswith("\\"):
        raise ValueError("the task source cannot be quoted as a raw string")
    i1, i2 = " " * 4, " " * 8
    lines = [
        f'"""{doc}\n"""', "",
        *parts.imports(["import importlib", "import time", "from pathlib import Path"]), "",
        f"ROUNDS = {parts.rounds}  # measured rounds, after one warm-up round", "",
        *comment(f"The task functions, written to {TASKS_MODULE}.py beside this script when it runs: worker processes"
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
        *indent_lines(parts.calls, i1), "",
        *comment("Every engine is started once, before anything is timed. Pitfalls the code avoids:", i1),
        *[line for p in pitfall_lines(parts, module_note=True) for line in comment(f"- {p}", i1)],
        *indent_lines(parts.setup("str(tasks_file)"), i1),
        "    try:",
        *indent_lines(parts.engines_dict(), i2),
        *comment("Interleaved rounds: every round runs each engine once, in an order that rotates, so a busy moment"
                  " of the machine hits every engine alike.", i2),
        *indent_lines(parts.rounds_loop(), i2),
        "    finally:  # close every engine, also after an error or Ctrl-C",
        *(indent_lines(parts.teardown(), i2) or [f"{i2}pass  # these engines start no pool or cluster"]),
        "",
        *indent_lines(parts.table(), i1),
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

