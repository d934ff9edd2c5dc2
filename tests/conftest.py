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
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core import ClusterRegistry, ExperimentResult, ExperimentSpec, run_experiment

# The browser tests' fixtures (server, Chromium, a tab): a plugin, so no test module imports them from another.
pytest_plugins = ["tests.browser_fixtures"]

REPO = Path(__file__).resolve().parent.parent
CLI_TIMEOUT_S = 120

# The app tests run the app in this process (AppTest) and clear its caches often: a warm start of the start
# page's pool at every fresh cache would hold the run slot and take the cores from the test that follows. The
# tests of the warm start turn it on; servers started for the browser tests get the app's default (on).
os.environ.setdefault("GIL_LAB_WARM_START", "false")


# Every test file belongs to one group (markers registered in pyproject.toml), so a contributor's loop can leave
# out what needs a browser or several hosts: python -m pytest -m "not browser and not cluster". A file is
# grouped by its name's prefix first, then by this table; a new file nobody placed counts as an engine test,
# the group that runs real engines (so no quick loop skips it by accident).
GROUPS_BY_PREFIX = {"test_browser": "browser", "test_app": "app"}
GROUPS = {
    "test_server_lifecycle.py": "browser",
    "test_warm_start.py": "app", "test_fuzz.py": "app",
    "test_external_cluster.py": "cluster", "test_cluster_environment.py": "cluster", "test_shipping.py": "cluster",
    "test_security.py": "cluster", "test_faults.py": "cluster",
    "test_spec.py": "unit", "test_spec_properties.py": "unit", "test_stats.py": "unit", "test_fmt.py": "unit",
    "test_layers.py": "unit", "test_charts.py": "unit", "test_slot_settings.py": "unit",
    "test_interpreter_note.py": "unit", "test_toy_kind.py": "unit",
}


def test_group(filename: str) -> str:
    """The marker of a test file: ``unit``, ``engines``, ``app``, ``browser`` or ``cluster``."""
    for prefix, group in GROUPS_BY_PREFIX.items():
        if filename.startswith(prefix):
            return group
    return GROUPS.get(filename, "engines")


test_group.__test__ = False  # a helper, not a test


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "run_last: run after every other test of the session (leak checks)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its file's group, and move ``run_last`` tests to the end, whatever their file is called."""
    for item in items:
        item.add_marker(getattr(pytest.mark, test_group(item.path.name)))
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


@dataclass(frozen=True)
class CliRun:
    """What one ``python -m core`` process did (``pid`` tells tasks run in it from tasks run elsewhere)."""

    args: tuple[str, ...]
    pid: int
    returncode: int
    stdout: str
    stderr: str


def start_cli(*args: str) -> subprocess.Popen[str]:
    """Start ``python -m core ARGS`` from the repository root, as a script or CI job would."""
    return subprocess.Popen(
        [sys.executable, "-m", "core", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_cli(proc: subprocess.Popen[str], timeout: float = CLI_TIMEOUT_S) -> CliRun:
    """Wait for a started CLI process (killing it if it overruns) and collect what it printed."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{proc.args} did not finish within {timeout} s; stderr: {err}")
    return CliRun(tuple(proc.args[3:]), proc.pid, proc.returncode, out, err)


class Cli:
    """``cli(*args)`` runs ``python -m core ARGS`` to completion; ``start`` / ``finish`` split that in two."""

    start = staticmethod(start_cli)
    finish = staticmethod(finish_cli)

    def __call__(self, *args: str, timeout: float = CLI_TIMEOUT_S) -> CliRun:
        return finish_cli(start_cli(*args), timeout)


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def strict_json(text: str) -> object:
    """Parse ``text`` as standard JSON: Python's ``NaN``/``Infinity`` extensions are refused."""
    return json.loads(text, parse_constant=_reject_constant)


@pytest.fixture(scope="session")
def parse_json() -> Callable[[str], object]:
    return strict_json


@pytest.fixture(scope="module")
def clusters() -> Iterator[ClusterRegistry]:
    """A registry of this module's own: its clusters are closed when the module ends (faults, security)."""
    registry = ClusterRegistry()
    yield registry
    registry.close()


@pytest.fixture(scope="module", autouse=True)
def _close_app_clusters(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each module of page tests, close the clusters the app cached, so they do not outlive their module."""
    yield
    if test_group(request.path.name) == "app":
        from core.engines import close_all_clusters

        close_all_clusters()
