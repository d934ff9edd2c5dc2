"""Shared fixtures for the engine, CLI and leak tests.

Real parts only: the fixtures below start real Dask schedulers and real LocalClusters, at small
sizes. Clusters are expensive (a second or more each on 2 cores), so every test that needs one takes
it from the session-wide :class:`core.ClusterRegistry` (``registry``), which is closed at the end of
the session, and explicitly, before the leak check, by ``tests/test_no_leaks.py``. Closing a
registry twice is harmless, and a closed registry starts fresh clusters if asked again.

Task functions never live here: process workers start by spawn and import tasks from ``core``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core import ClusterRegistry, ExperimentResult, ExperimentSpec, run_experiment

REPO = Path(__file__).resolve().parent.parent
CLI_TIMEOUT_S = 120


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "run_last: run after every other test of the session (leak checks)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move ``run_last`` tests to the end, whatever their file is called."""
    last = [item for item in items if item.get_closest_marker("run_last")]
    if last:
        items[:] = [item for item in items if not item.get_closest_marker("run_last")] + last


@pytest.fixture(scope="session")
def registry() -> Iterator[ClusterRegistry]:
    """One registry for the whole session: runs of the same shape share one LocalCluster."""
    clusters = ClusterRegistry()
    yield clusters
    clusters.close()


@pytest.fixture(scope="session")
def run_cached(registry: ClusterRegistry) -> Callable[[ExperimentSpec], ExperimentResult]:
    """``run(spec)``: run a spec once per session and hand every test the same (immutable) result.

    Several tests look at different properties of the same small run; measuring it again for each
    would only make the suite slower.
    """
    cache: dict[ExperimentSpec, ExperimentResult] = {}

    def run(spec: ExperimentSpec) -> ExperimentResult:
        if spec not in cache:
            cache[spec] = run_experiment(spec, clusters=registry)
        return cache[spec]

    return run


def run_cli(*args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run ``python -m core ARGS`` from the repository root, as a script or CI job would."""
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def strict_json(text: str) -> object:
    """Parse ``text`` as standard JSON: Python's ``NaN``/``Infinity`` extensions are refused."""
    return json.loads(text, parse_constant=_reject_constant)


@pytest.fixture(scope="session")
def parse_json() -> Callable[[str], object]:
    return strict_json
