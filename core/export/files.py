"""The export as a file: its format, its name, the downloads a page offers, a ``compare --json`` to quote."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.export.notebook import notebook_text
from core.export.script import to_script
from core.export.source import TASKS_MODULE

if TYPE_CHECKING:  # the comparison's types only: the CLI starts without importing the comparison
    from core.kinds.compare import CompareSpec, ComparisonResult


Format = Literal["ipynb", "py"]
FORMATS: tuple[Format, ...] = ("ipynb", "py")


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
