"""Imports flow one way: the contract in ``pyproject.toml`` ([tool.importlinter]) holds, and it has teeth.

The layers run from the pages' entry points down to the workloads (README, "How it is built"); a module
may import only those below its own. The second test plants a back-import in a copy of ``core`` and
shows the contract then fails, so a green run means the contract was checked, not skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the tree at ``root``, with its own pyproject.toml and no cache."""
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(REPO / "core", root / "core", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_import_contract_is_kept() -> None:
    run = _lint(REPO)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout, run.stdout


def test_a_back_import_from_the_engines_breaks_the_layers(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    assert _lint(root).returncode == 0  # the copy alone is as clean as the repository
    (root / "core" / "engines" / "planted.py").write_text('"""A back-import."""\n\nimport core.kinds.run\n')
    run = _lint(root)
    assert run.returncode != 0, run.stdout
    assert "core.engines.planted -> core.kinds.run" in run.stdout, run.stdout


def test_a_cycle_between_siblings_breaks_the_contract(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    # Two new modules in no layer: only the cycle check can see that they import each other.
    (root / "core" / "loop_a.py").write_text('"""One half of a cycle."""\n\nimport core.loop_b\n')
    (root / "core" / "loop_b.py").write_text('"""The other half."""\n\nimport core.loop_a\n')
    run = _lint(root)
    assert run.returncode != 0, run.stdout
    assert "No cycles are allowed in core" in run.stdout, run.stdout


# A module a newcomer can read in one sitting; data tables are the exception (their lines are rows, not logic).
MAX_MODULE_LINES = 500
DATA_TABLES = {"core/workloads.py": "WORKLOADS, the table of the lab's workloads, is some 150 of its lines"}


def test_no_module_in_core_is_over_500_lines_but_data_tables() -> None:
    long = {str(p.relative_to(REPO)): n for p in sorted((REPO / "core").rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert set(long) <= set(DATA_TABLES), {k: v for k, v in long.items() if k not in DATA_TABLES}


def _names_crossing(root: Path) -> list[str]:
    """``module: from X import _name`` for every private name of the lab's imported by another module."""
    import ast

    found = []
    for path in sorted([*root.joinpath("core").rglob("*.py"), *root.joinpath("pages").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("core", "pages")):
                found += [f"{path.relative_to(root)}: from {node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    return found


def test_no_private_name_crosses_a_module() -> None:
    """A name with a leading underscore is its module's own: what another module needs is public."""
    assert _names_crossing(REPO) == []


def test_the_run_slot_is_taken_in_one_place() -> None:
    """Only ``core.kinds.base.run_slot`` holds the run slot: every measurement queues through it."""
    holds = [f"{p.relative_to(REPO)}:{i}" for d in ("core", "pages") for p in sorted((REPO / d).rglob("*.py"))
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "RUN_SLOT.hold(" in line]
    assert holds == [f"core/kinds/base.py:{_line_of(REPO / 'core/kinds/base.py', 'RUN_SLOT.hold(')}"], holds


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)
