"""A worker process the lab starts imports what a user's worker would, and no more (issue 20, part 4).

Every process pool the lab starts (Dask's ``processes`` with and without a reused pool, ``futures-processes``,
``multiprocessing``, ``joblib-loky``, a ``LocalCluster(processes=True)``) and the trial of your function
run, for real, a task that reports the child's ``sys.modules`` and its ``__main__``. Each pool's child
used to import ``core.engines`` (and through it ``distributed``: 1.0–1.4 s per worker) for its
initializer, and every child re-ran the parent's main script: under Streamlit that is the app's script,
``import streamlit``. The parent here stands in for the app's server the way Streamlit does it:
``sys.modules["__main__"]`` is a bare module whose ``__file__`` is ``streamlit_app.py``.
"""

from __future__ import annotations

import sys
import textwrap
import threading
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import ClusterRegistry, ExperimentSpec, run_experiment
from core.userfunc import try_function

REPO = Path(__file__).resolve().parents[1]

# What no worker of the lab may import: none of it is needed to run a task, and a user's pool does not pay it.
HEAVY = ("distributed", "pandas", "altair", "streamlit", "pyarrow", "core.engines", "core.kinds", "core.measure",
         "core.cli", "numpy")

SOURCE = f'''
import sys

HEAVY = {HEAVY!r}


def heavy():
    """The heavy packages imported in this process, and the file its __main__ was run from (None: none)."""
    found = sorted({{h for h in HEAVY for m in list(sys.modules) if m == h or m.startswith(h + ".")}})
    return found, getattr(sys.modules.get("__main__"), "__file__", None)
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``module:heavy``, in a freshly named module on ``sys.path`` (spawned children get the parent's)."""
    where = tmp_path_factory.mktemp("childmods")
    name = f"gil_lab_childmods_{uuid.uuid4().hex[:8]}"
    (where / f"{name}.py").write_text(textwrap.dedent(SOURCE))
    sys.path.insert(0, str(where))
    yield f"{name}:heavy"
    sys.path.remove(str(where))


@pytest.fixture
def streamlit_main(monkeypatch: pytest.MonkeyPatch) -> str:
    """The parent's ``__main__`` as Streamlit's script runner installs it: a module for the app's script."""
    fake = types.ModuleType("__main__")
    fake.__file__ = str(REPO / "streamlit_app.py")
    monkeypatch.setitem(sys.modules, "__main__", fake)
    return fake.__file__


POOLS = [(scheduler, reuse) for scheduler in ("processes", "futures-processes", "multiprocessing", "joblib-loky")
         for reuse in (False, True)]


@pytest.mark.parametrize(("scheduler", "reuse"), POOLS, ids=[f"{s}-{'reuse' if r else 'new'}" for s, r in POOLS])
def test_a_pool_worker_imports_no_more_than_a_users(probe: str, streamlit_main: str, scheduler: str,
                                                    reuse: bool) -> None:
    if scheduler == "joblib-loky":
        from core.engines.joblib_engines import shutdown_loky

        shutdown_loky()  # loky keeps one executor per process: not one another test started
    spec = ExperimentSpec(workload="function", function=probe, size=0, tasks=2, scheduler=scheduler, workers=2,
                          repeats=1, warmup=0, reuse_pool=reuse)
    with ClusterRegistry() as registry:
        result = run_experiment(spec, clusters=registry)
    allowed = {"numpy"} if scheduler == "joblib-loky" else set()  # joblib imports NumPy in any loky worker
    for found, main_file in result.values:
        assert set(found) - allowed == set(), f"a {scheduler} worker imported {found}"
        # None for a spawn child; loky's child is its own launcher (``python -m ...popen_loky_posix``)
        assert main_file != streamlit_main, f"a {scheduler} worker re-ran the parent's main {main_file}"


def test_the_trial_of_your_function_runs_in_a_light_child(probe: str, streamlit_main: str) -> None:
    # The trial times your module's import: in a child that had imported Dask already it would look free.
    shown = try_function(probe).value_repr
    assert shown == "([], None)", f"the trial's child imported or re-ran (the parent's main) {shown}"


def test_the_main_module_is_hidden_only_inside_the_block_and_restored_once() -> None:
    from core.workers import main_not_reimported

    main = sys.modules["__main__"]
    before = (main.__dict__.get("__spec__"), main.__dict__.get("__file__", "missing"))
    inside = threading.Event()
    done = threading.Event()

    def other_thread() -> None:
        with main_not_reimported():  # a second session starting a pool at the same time
            inside.set()
            done.wait(10)

    thread = threading.Thread(target=other_thread)
    with main_not_reimported():
        assert main.__spec__ is None and "__file__" not in main.__dict__
        thread.start()
        assert inside.wait(10)
    # the other block still runs: still hidden
    assert main.__spec__ is None and "__file__" not in main.__dict__
    done.set()
    thread.join(10)
    assert (main.__dict__.get("__spec__"), main.__dict__.get("__file__", "missing")) == before


def test_a_local_cluster_worker_does_not_rerun_the_parents_main(probe: str, streamlit_main: str) -> None:
    # distributed's own workers import distributed and NumPy (a user's too) and the lab's heartbeat plugin
    # (core.engines.quiet, so the core.engines package); not the app's script, nor pandas or the charts.
    spec = ExperimentSpec(workload="function", function=probe, size=0, tasks=2, scheduler="cluster-processes",
                          workers=2, repeats=1, warmup=0)
    with ClusterRegistry() as registry:
        result = run_experiment(spec, clusters=registry)
    for found, main_file in result.values:
        assert set(found) <= {"distributed", "numpy", "core.engines", "core.measure"}, found
        assert main_file != streamlit_main, f"a LocalCluster worker re-ran the parent's main {main_file}"
