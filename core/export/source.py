"""Source introspection for the exports: the task functions with everything they use, imports in order,
calls wrapped to the export's width, strings quoted the way a person would write them."""

from __future__ import annotations

import ast
import dis
import inspect
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

TASKS_MODULE = "gil_lab_tasks"
WIDTH = 100  # longest line the export writes where it can choose

# pip names of the modules an export may import, where they differ from the module's name
PIP_NAMES = {"sklearn": "scikit-learn"}


# Python 3.11's and 3.12's AST constructor keeps its recursion depth in the interpreter, not the thread: two
# threads parsing at once (two visitors' exports being built by the server) can fail with "SystemError: AST
# constructor recursion depth mismatch" (python/cpython#106905). One parse at a time.
_PARSING = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse(source)``, one thread at a time (see ``_PARSING``)."""
    with _PARSING:
        return ast.parse(source)


def global_names(code: CodeType) -> Iterator[str]:
    """Names a function's code reads as globals (nested comprehensions included)."""
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield str(ins.argval)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from global_names(const)


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
        tree = parse(src).body[0]
        decorators = [d.id for d in getattr(tree, "decorator_list", []) if isinstance(d, ast.Name)]
        for used in dict.fromkeys([*decorators, *global_names(inner.__code__)]):
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
        head += ["", *sorted_imports(list(imports))]
    if constants:
        head += ["", *constants]
    return "\n".join(head) + "\n\n\n" + "\n\n".join(sources.values())


def top_module(line: str) -> str:
    return line.split()[1].split(".")[0]


def sorted_imports(lines: list[str]) -> list[str]:
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
    std = [s for s in unique if top_module(s) in sys.stdlib_module_names or top_module(s) == "__future__"]
    rest = [s for s in unique if s not in std]
    return std + ([""] if std and rest else []) + rest


def wrap_call(code: str, indent: str = "") -> list[str]:
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


def q(text: str) -> str:
    """``text`` as a Python string literal, in double quotes where it can be."""
    return f'"{text}"' if '"' not in text and "\\" not in text and text.isprintable() else repr(text)


def indent_lines(lines: list[str], by: str) -> list[str]:
    return [f"{by}{line}" if line else "" for line in lines]
