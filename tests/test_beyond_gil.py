"""Beyond the GIL: discovery of the machine's interpreters, subinterpreters and other interpreters as engines.

Discovery runs on the real interpreters found here and on fake ones (shell scripts: one that exits 1, one that
hangs, one too old, one that says it is a free-threaded 3.13). The physics runs on this machine's 3.13 through
the warm child (skipped with a reason where there is none), with wide margins: 2 × fib(27) on 2 subinterpreters
faster than sync, on 2 threads of one GIL not. Every failure of the child is one line with nothing left running.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from core.engines import EngineError, make_engine
from core.engines.base import Work
from core.engines.beyond_gil import OtherPythonEngine
from core.engines.code import INTERPRETER_POOL, engine_code
from core.interpreters import PythonInfo, discover, find_python, free_threaded, probe
from core.kinds.compare import Arm, CompareSpec, parse_arm, run_compare
from core.measure.spec import ExperimentSpec
from core.presets import preset
from core.workloads import measured_call
from tests.helpers import needs_two_cores, physics


def _py313() -> PythonInfo:
    found = find_python("3.13")
    if found is None:
        pytest.skip("no CPython 3.13 on this machine (pyenv install 3.13, or GIL_LAB_PYTHONS=/path/to/python3.13)")
    return found


def fake_python(tmp_path: Path, name: str, body: str) -> str:
    """A shell script standing in for an interpreter (what a broken shim or an odd build looks like)."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def answer(**changes: object) -> str:
    """The probe's JSON, as a fake interpreter prints it."""
    data = {"executable": "/fake/python3.13t", "version": "3.13.0", "implementation": "cpython",
            "free_threaded": True, "gil_enabled": False, "pool_executor": False, "interpreters": True,
            "xxsubinterpreters": False, "backport": False, **changes}
    return "echo '" + json.dumps(data) + "'"


# --- discovery ----------------------------------------------------------------------------------------------------


def test_discovery_finds_the_lab_and_pyenvs_interpreters_and_no_shim_crashes_it():
    found = discover()
    lab = found[0]
    assert lab.source == "lab" and lab.ok and lab.tag == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert lab.executor == ("" if sys.version_info < (3, 12) else lab.executor)
    for info in found:  # every entry is a working interpreter or one line saying why not
        assert info.ok or ("\n" not in info.error and info.error)
    py313 = find_python("3.13")
    if py313 is not None:
        assert py313.executor in ("_interpreters", "interpreters_backport") and py313.build == "GIL"


def test_a_broken_a_missing_a_hanging_and_a_too_old_interpreter_are_one_line_each(tmp_path: Path):
    broken = fake_python(tmp_path, "python3.13", "echo 'pyenv: python3.13: command not found' >&2; exit 1")
    hangs = fake_python(tmp_path, "python3.12", "sleep 30")
    old = fake_python(tmp_path, "python3.6", answer(version="3.6.15", free_threaded=False, gil_enabled=True))
    missing = str(tmp_path / "gone" / "python3")
    assert probe(broken).error == "exited with status 1: pyenv: python3.13: command not found"
    t0 = time.perf_counter()
    assert probe(hangs, timeout=1.0).error == "did not answer within 1 s"
    assert time.perf_counter() - t0 < 5
    assert "too old" in probe(old).error
    assert probe(missing).error.startswith("not found")
    env = {**os.environ, "GIL_LAB_PYTHONS": f"{broken},{missing}:{old}"}
    found = {i.path: i for i in discover(env)}
    assert not found[broken].ok and not found[missing].ok and not found[old].ok
    assert find_python("3.6", env) is None


def test_a_free_threaded_build_is_recognised_and_its_threads_are_not_one_gil(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch):
    ft = probe(fake_python(tmp_path, "python3.13t", answer()))
    assert ft.ok and ft.tag == "3.13t" and ft.build == "free-threaded" and not ft.gil_enabled
    assert ft.executor == "_interpreters"
    assert free_threaded([ft]) is ft
    from core.kinds.compare.beyond_gil import beyond_gil_spec

    spec = beyond_gil_spec(2, [ft])
    labels = [a.label for a in spec.arms]
    assert "threads ×4 @3.13t" in labels and ("threads ×4 @3.13t", "threads ×4") in spec.pairs
    # The physics guard reads that interpreter's GIL: pure Python faster on its threads is physics; on one GIL not.
    import core.interpreters
    from core.kinds.compare import implausible_why, one_core_at_most

    monkeypatch.setattr(core.interpreters, "gil_enabled_on", lambda tag: not tag.endswith("t"))
    ft_arm, gil_arm = Arm("threads", 4, python="3.13t"), Arm("threads", 4, python="3.13")
    assert not one_core_at_most(spec, ft_arm) and implausible_why(spec, ft_arm, 0.9) == ""
    assert one_core_at_most(spec, gil_arm) and "one GIL" in implausible_why(spec, gil_arm, 0.9)
    assert implausible_why(spec, Arm("interpreters", 4, python="3.13"), 0.9) == ""


def test_the_interpreters_verb_prints_one_line_per_interpreter():
    out = subprocess.run([sys.executable, "-m", "core", "interpreters", "--json"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "GIL_LAB_PYTHONS": "/nonexistent/python"})
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows[0]["source"] == "lab" and any(r["error"].startswith("not found") for r in rows)


# --- the spec -------------------------------------------------------------------------------------------------


def test_arms_name_another_interpreter_by_version_never_by_path():
    arm = parse_arm("interpreters@3.13:2")
    assert (arm.engine, arm.workers, arm.python, arm.label) == ("interpreters", 2, "3.13", "subinterpreters ×2 @3.13")
    assert parse_arm("sync@3.13t").label == "sync @3.13t"
    for bad in ("interpreters@/bin/sh:2", "threads@python:2", "processes@3.13:2"):
        with pytest.raises(ValueError):
            CompareSpec(arms=(Arm("sync"), parse_arm(bad)))
    with pytest.raises(ValueError, match="workload must be fib or sleep on another interpreter"):
        ExperimentSpec(workload="numpy-sort", size=1, scheduler="threads", python="3.13")
    if sys.version_info < (3, 12):  # a spec on every Python; starting it here is one line naming the way out
        engine = make_engine(ExperimentSpec(scheduler="interpreters", workers=2))
        with pytest.raises(EngineError, match="interpreters@3.13:2"):
            engine.setup()


def test_the_code_a_user_writes_for_subinterpreters_runs_on_313(tmp_path: Path):
    py = _py313()
    code = engine_code(parse_arm("interpreters@3.13:2")).snippet(fn="fib", items="[20, 21]")
    assert "interpreter_pool(2)" in code and "InterpreterPoolExecutor" in code
    (tmp_path / "tasks.py").write_text("def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n")
    script = (f"import sys\n{INTERPRETER_POOL}\nfrom tasks import fib\npool = interpreter_pool(2)\n"
              "print(list(pool.map(fib, [20, 21])))\npool.shutdown()\n")
    out = subprocess.run([py.path, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[6765, 10946]"


# --- the engines on 3.13 ------------------------------------------------------------------------------------


def _children() -> set[int]:
    """Our child processes, but multiprocessing's resource tracker (started once, by the first spawn pool, for good)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            continue
    return out


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    before = _children()
    yield
    deadline = time.monotonic() + 5
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children() - before, "a child process of the run is still running"


def test_two_subinterpreters_run_pure_python_in_parallel_and_two_threads_do_not(no_leftovers: None):
    _py313()
    needs_two_cores()
    spec = CompareSpec(workload="fib", size=27, tasks=2, rounds=7,
                       arms=(Arm("sync", python="3.13"), Arm("interpreters", 2, python="3.13"),
                             Arm("threads", 2, python="3.13")))

    def measure() -> tuple[float, float, bool]:
        result = run_compare(spec)
        interp, threads = result.verdicts
        return interp.speedup, threads.speedup, result.noise.busy

    # busy: the comparison's own noise monitor saw other programs take what its two lanes needed.
    interp, threads, _ = physics(measure, lambda m: m[0] > 1.25 and m[1] < 1.2, busy_cores=0.5, busy=lambda m: m[2],
                                 what="2 × fib(27): subinterpreters faster than sync, one GIL's threads not")
    assert interp > 1.25 and threads < 1.2


def test_records_say_which_subinterpreter_ran_each_task(no_leftovers: None):
    _py313()
    engine = make_engine(ExperimentSpec(workload="fib", size=20, tasks=4, scheduler="interpreters", workers=2,
                                        python="3.13"))
    try:
        startup = engine.setup()
        with engine.repeat() as compute:
            records = compute(Work(measured_call, tuple(("fib", 20, i, None, 1, None) for i in range(4)),
                                   tuple(f"k{i}" for i in range(4))))
    finally:
        engine.close()
    assert 0 < startup < 30
    assert [r["value"] for r in records] == [6765] * 4
    assert {r["worker"] for r in records} <= {f"subinterpreter {r['interpreter']}" for r in records}
    assert len({r["pid"] for r in records}) == 1 and all(r["cpu_s"] > 0 for r in records)


# --- the child's failures: one line, nothing left running ----------------------------------------------------


def test_an_interpreter_that_is_gone_is_one_line(no_leftovers: None, tmp_path: Path):
    spec = ExperimentSpec(workload="fib", size=20, tasks=2, scheduler="threads", workers=2, python="3.13")
    with pytest.raises(EngineError) as gone:
        OtherPythonEngine(spec, executable=str(tmp_path / "python3.13")).setup()
    assert "could not start" in str(gone.value) and "\n" not in str(gone.value)
    with pytest.raises(EngineError, match="no Python 3.99 on this machine"):
        make_engine(spec.replace(python="3.99")).setup()
    broken = fake_python(tmp_path, "python3.13", "exit 1")
    with pytest.raises(EngineError, match="ended during the start-up"):
        OtherPythonEngine(spec, executable=broken).setup()


def test_a_task_that_raises_in_the_child_is_one_line_and_the_child_is_gone(no_leftovers: None):
    _py313()
    for scheduler in ("sync", "threads", "interpreters"):
        engine = make_engine(ExperimentSpec(workload="fib", size=20, tasks=2, scheduler=scheduler, workers=2,
                                            python="3.13"))
        engine.setup()
        pid = engine.info()["child_pid"]
        try:
            with pytest.raises(EngineError) as failed, engine.repeat() as compute:
                compute(Work(measured_call, (("no-such-workload", 1, 0, None, 1, None),), ("k",)))
        finally:
            engine.close()
        assert "a task failed on Python 3.13" in str(failed.value) and "\n" not in str(failed.value)
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_child_killed_mid_run_is_one_line(no_leftovers: None):
    _py313()
    engine = make_engine(ExperimentSpec(workload="fib", size=34, tasks=2, scheduler="interpreters", workers=2,
                                        python="3.13"))
    engine.setup()
    pid = engine.info()["child_pid"]
    threading.Timer(0.3, lambda: psutil.Process(pid).kill()).start()
    try:
        with pytest.raises(EngineError) as killed, engine.repeat() as compute:
            compute(Work(measured_call, tuple(("fib", 34, i, None, 1, None) for i in range(2)), ("a", "b")))
    finally:
        engine.close()
    assert "child process ended during the compute" in str(killed.value) and "\n" not in str(killed.value)


def test_the_child_dies_with_its_parent(tmp_path: Path):
    _py313()
    parent = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from core.engines.beyond_gil import OtherPythonEngine
        from core.measure.spec import ExperimentSpec
        e = OtherPythonEngine(ExperimentSpec(workload="fib", size=20, tasks=1, scheduler="sync", python="3.13"))
        e.setup()
        print(e.info()["child_pid"], flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    try:
        child = int(proc.stdout.readline())  # type: ignore[union-attr]
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while psutil.pid_exists(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
    finally:
        proc.kill()


# --- the page --------------------------------------------------------------------------------------------------


def test_the_page_shows_each_arms_cost_and_code_and_the_interpreters(monkeypatch: pytest.MonkeyPatch):
    import streamlit

    from tests.app_helpers import open_page

    streamlit.cache_resource.clear()
    at = open_page("pages/beyond_gil.py")
    assert at.title[0].value.startswith("Beyond the GIL")
    joined = "\n".join(c.value for c in at.code)
    assert "ThreadPoolExecutor(4)" in joined and "def fib(n):" in joined
    if find_python("3.13") is not None or sys.version_info >= (3, 13):
        assert "interpreter_pool(4)" in joined
    assert any("Cost:" in m.value for m in at.markdown)
    assert at.dataframe, "the interpreters table"


def test_the_page_says_how_to_get_313_where_there_is_none(monkeypatch: pytest.MonkeyPatch):
    import streamlit

    import core.interpreters
    import core.kinds.compare.beyond_gil as beyond_gil
    from tests.app_helpers import open_page

    lab_only = [i for i in discover() if i.source == "lab"]
    monkeypatch.setattr(core.interpreters, "discover", lambda env=None: lab_only)
    monkeypatch.setattr(beyond_gil, "discover", lambda env=None: lab_only)
    streamlit.cache_resource.clear()
    try:
        at = open_page("pages/beyond_gil.py")
    finally:
        streamlit.cache_resource.clear()
    if sys.version_info < (3, 13):
        assert any("pyenv install 3.13" in i.value for i in at.info)
    assert not at.exception


def test_the_page_measures_through_the_app_and_shows_each_verdict_beside_its_cost(no_leftovers: None):
    import streamlit

    from core.engines import close_all_clusters
    from tests.app_helpers import open_page, press

    streamlit.cache_resource.clear()
    try:
        at = press(open_page("pages/beyond_gil.py", **{"bg-rounds": "7"}), "Run experiment")
        assert any(c.value.startswith("Run `") for c in at.caption), "the result is shown"
        measured = [c.value for c in at.caption if c.value.startswith("Measured above:")]
        assert len(measured) == len(preset("beyond-gil").arms) - 1  # every arm but the baseline
    finally:
        streamlit.cache_resource.clear()  # the app's warm pools: closed with their cache
        close_all_clusters()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the lab runs on Python < 3.12: no subinterpreters in-process")
def test_subinterpreters_in_this_process_give_the_same_evidence(no_leftovers: None):
    spec = ExperimentSpec(workload="fib", size=20, tasks=4, scheduler="interpreters", workers=2)
    engine = make_engine(spec)
    try:
        engine.setup()
        with engine.repeat() as compute:
            records = compute(Work(measured_call, tuple(("fib", 20, i, None, 1, None) for i in range(4)),
                                   tuple(f"k{i}" for i in range(4))))
        with pytest.raises(EngineError, match="a task failed in a subinterpreter"), engine.repeat() as compute:
            compute(Work(measured_call, (("no-such-workload", 1, 0, None, 1, None),), ("k",)))
    finally:
        engine.close()
    assert [r["value"] for r in records] == [6765] * 4
    assert {r["pid"] for r in records} == {os.getpid()} and len({r["thread_id"] for r in records}) <= 2
