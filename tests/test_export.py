"""Exports: every comparison as a notebook and a script that run on a machine without the lab.

Real parts only: each preset's notebook runs on a real Jupyter kernel (nbclient + ipykernel) and its
script as ``python FILE``, both in a temporary folder whose environment cannot import the lab (checked,
not assumed); the CLI runs as a subprocess; the app's buttons are read from the real page (AppTest).
Small rounds keep it quick: what is asserted is that every engine ran and was timed every round, not
how fast it was.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from core.export import TASKS_MODULE, notebook_text, take_home, to_notebook, to_script
from core.kinds.compare import Arm, CompareSpec, ComparisonResult, parse_arms, run_compare
from core.presets import PRESETS, preset

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 2  # enough to see every engine timed in every round
RUN_TIMEOUT_S = 240
ROW = re.compile(r"^\s*(\d+)\s+(.+?)\s+(\d+\.\d+)\s+(\d+\.\d+)\s*$")  # round, engine, wall_s, speedup


def without_lab() -> dict[str, str]:
    """This process's environment with nothing that points Python at the repository."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def assert_lab_not_importable(folder: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import core.export"], cwd=folder, env=without_lab(),
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, (
        f"the lab is importable from {folder}: the test would not show that the export is self-contained")


def code_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Each code cell's Python, a ``%%writefile`` cell's file included (the magic line dropped)."""
    return [c.source.split("\n", 1)[1] if c.source.startswith("%%") else c.source
            for c in nb.cells if c.cell_type == "code"]


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def script_rows(stdout: str, labels: list[str]) -> dict[str, list[float]]:
    """``{engine: [wall_s, …]}`` from the table the script prints (one row per engine per round)."""
    walls: dict[str, list[float]] = {label: [] for label in labels}
    table = stdout.split("one row per engine per round):", 1)[1].split("\n\n", 1)[0]
    for line in table.splitlines()[2:]:
        m = ROW.match(line)
        assert m, f"not a row of the table: {line!r}"
        walls[m.group(2)].append(float(m.group(3)))
    return walls


def notebook_rows(nb: nbformat.NotebookNode) -> dict[str, list[float]]:
    """``{engine: [wall_s, …]}`` from the executed notebook's ``table`` (printed by a cell this test adds)."""
    out = nb.cells[-1].outputs
    text = "".join(o.get("text", "") for o in out if o.output_type == "stream" and o.name == "stdout")
    walls: dict[str, list[float]] = {}
    for row in json.loads(text):
        walls.setdefault(row["engine"], []).append(row["wall_s"])
    return walls


def assert_every_engine_timed(walls: dict[str, list[float]], labels: list[str], what: str) -> None:
    assert list(walls) == labels, f"{what}: engines {list(walls)}, expected {labels}"
    for label, times in walls.items():
        assert len(times) == ROUNDS, f"{what}: {label} has {len(times)} timed rounds, expected {ROUNDS}"
        assert all(math.isfinite(t) and t > 0 for t in times), f"{what}: {label} timings {times}"


def run_notebook(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    """Execute ``nb`` on a fresh kernel in ``folder`` (lab not importable there: the first cell checks)."""
    nb = nbformat.from_dict(nb)
    check = nbformat.v4.new_code_cell(
        "try:\n    import core.export\nexcept ModuleNotFoundError:\n    pass\n"
        "else:\n    raise AssertionError('the lab is importable in this kernel')")
    dump = nbformat.v4.new_code_cell('import json\nprint(json.dumps(table.to_dict("records")))')
    check["id"], dump["id"] = "test-check", "test-dump"
    nb.cells = [check, *nb.cells, dump]
    NotebookClient(nb, timeout=RUN_TIMEOUT_S, kernel_name="python3").execute(cwd=str(folder), env=without_lab())
    return nb


# --- what the exports contain -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_exports_a_valid_self_contained_notebook_and_script(name):
    spec = preset(name)
    nb = to_notebook(spec)
    nbformat.validate(nb)
    assert notebook_text(spec) == notebook_text(spec), "the same comparison must give the same file"
    script = to_script(spec)
    compile(script, f"{name}.py", "exec")
    sources = [*code_cells(nb), script]
    for source in sources:
        assert "core" not in imported_modules(source), "an export must not import the lab"
    # The script's tasks are a string it writes out: they must not import the lab either.
    tasks = next(node.value.value for node in ast.parse(script).body
                 if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "TASKS")
    assert "core" not in imported_modules(tasks) and tasks.strip() == code_cells(nb)[0].strip()
    for arm in spec.arms:  # every engine, under its label, in both
        assert f'"{arm.label}"' in code_cells(nb)[1] and f'"{arm.label}"' in script
    text = "\n".join(c.source for c in nb.cells)
    assert "pure=False" in text and "time.perf_counter()" in text
    if any(a.engine == "processes" for a in spec.arms):
        assert "chunksize=1" in text
    assert PRESETS[name].lesson in text, "a preset's lesson is the notebook's first words"
    assert 'if __name__ == "__main__":' in script


def test_a_result_is_quoted_with_its_machine_date_verdicts_and_sentences():
    spec = CompareSpec(workload="sleep", size=0.01, tasks=2, arms=parse_arms("sync,threads:2"), rounds=6)
    result = run_compare(spec)
    nb = to_notebook(spec, result)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert result.run_id in text and result.started_at[:10] in text
    assert f"{result.machine.usable_cores} usable of {result.machine.logical_cores} logical cores" in text
    for v in result.verdicts:
        assert v.describe() in text
    for sentence in result.explain():
        assert sentence in text
    assert "ROUNDS = 6" in code_cells(nb)[2], "a fixed number of rounds is exported as it is"
    script = to_script(spec, result)
    assert result.run_id in script and all(v.describe() in script for v in result.verdicts)
    with pytest.raises(ValueError, match="another comparison"):
        to_notebook(spec.replace(tasks=3), result)
    # The JSON of a result quotes the same (what `export --result` reads).
    again = ComparisonResult.from_dict(json.loads(result.to_json()))
    assert again.explain() == result.explain()
    assert to_script(spec, again) == script


def test_an_engine_with_no_code_is_refused_in_one_clear_error():
    spec = CompareSpec(workload="fib", size=20, tasks=2, arms=(Arm("sync"), Arm("threads", 2)))
    # An arm of an engine the code module does not know (as a spec from a newer lab might carry).
    object.__setattr__(spec.arms[1], "engine", "carrier-pigeon")
    for export in (to_notebook, to_script):
        with pytest.raises(ValueError, match=r"cannot export the arm 'threads ×2': .*carrier-pigeon"):
            export(spec)


# --- they run, without the lab ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_runs_as_notebook_and_as_script_where_the_lab_is_not_importable(name, tmp_path):
    spec = preset(name).replace(rounds=ROUNDS)
    labels = [a.label for a in spec.arms]
    nb_dir, py_dir = tmp_path / "notebook", tmp_path / "script"
    nb_dir.mkdir()
    py_dir.mkdir()
    assert_lab_not_importable(py_dir)
    script = py_dir / f"gil-lab-{name}.py"
    script.write_text(to_script(spec), encoding="utf-8")
    # The script and the notebook run at the same time: the test takes half as long.
    proc = subprocess.Popen([sys.executable, script.name], cwd=py_dir, env=without_lab(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        t0 = time.monotonic()
        nb = run_notebook(nbformat.reads(notebook_text(spec), as_version=4), nb_dir)
        nb_s = time.monotonic() - t0
        out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    assert_every_engine_timed(notebook_rows(nb), labels, f"{name} notebook")
    assert (nb_dir / f"{TASKS_MODULE}.py").exists()
    assert proc.returncode == 0, f"{name} script failed:\n{err[-3000:]}"
    # Nothing on stderr: no traceback, and no distributed INFO chatter or port warning, among which a benign
    # CommClosedError traceback at close shows up now and then.
    assert not err.strip(), err[-3000:]
    noise = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type == "stream" and o.name == "stderr"]
    assert not noise, "".join(noise)[-3000:]
    assert_every_engine_timed(script_rows(out, labels), labels, f"{name} script")
    assert (py_dir / f"{TASKS_MODULE}.py").exists()
    print(f"{name}: notebook {nb_s:.1f} s with {ROUNDS} rounds")


def _address(scheduler_file: Path) -> str:
    """The scheduler's address once its file is written in full ('' before)."""
    try:
        return str(json.loads(scheduler_file.read_text())["address"])
    except (OSError, ValueError, KeyError):
        return ""


@pytest.fixture
def plain_cluster(tmp_path) -> Iterator[str]:
    """A ``dask scheduler`` and a ``dask worker`` started in a folder where the lab is not importable."""
    folder = tmp_path / "cluster"
    folder.mkdir()
    file = folder / "scheduler.json"
    procs = []
    for module, args in (("distributed.cli.dask_scheduler", ["--host", "127.0.0.1", "--port", "0"]),
                         ("distributed.cli.dask_worker", ["--nworkers", "1", "--nthreads", "2", "--host",
                                                         "127.0.0.1"])):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", module, "--scheduler-file", str(file), "--no-dashboard", *args], cwd=folder,
            env=without_lab(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        while module.endswith("scheduler") and not _address(file):
            time.sleep(0.1)
    try:
        yield _address(file)
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)


def test_an_external_cluster_arm_sends_the_tasks_to_a_plain_cluster(plain_cluster, tmp_path):
    """The cluster has nothing of the lab and no tasks module: the script uploads it."""
    spec = CompareSpec(workload="fib", size=18, tasks=2, rounds=ROUNDS,
                       arms=(Arm("sync"), Arm("external", address=plain_cluster)))
    script = tmp_path / "gil-lab-external.py"
    script.write_text(to_script(spec), encoding="utf-8")
    done = subprocess.run([sys.executable, script.name], cwd=tmp_path, env=without_lab(), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_every_engine_timed(script_rows(done.stdout, ["sync", "your cluster"]), ["sync", "your cluster"],
                              "external script")


# --- the CLI ---------------------------------------------------------------------------------------------


def test_cli_exports_a_preset_and_explicit_settings_exactly_as_core_does(cli, tmp_path):
    out = tmp_path / "start.ipynb"
    done = cli("export", "--preset", "start", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") == notebook_text(preset("start"))
    nbformat.validate(nbformat.read(out, as_version=4))
    done = cli("export", "--workload", "sleep", "--size", "0.05", "--tasks", "4", "--engines", "sync,threads:4",
               "--rounds", "6", "--format", "py")
    assert done.returncode == 0, done.stderr
    spec = CompareSpec(workload="sleep", size=0.05, tasks=4, arms=parse_arms("sync,threads:4"), rounds=6)
    assert done.stdout == to_script(spec)


def test_cli_quotes_a_measurement_it_makes_or_reads(cli, tmp_path):
    settings = ["--workload", "sleep", "--size", "0.01", "--tasks", "2", "--engines", "sync,threads:2",
                "--rounds", "6"]
    measured = cli("export", *settings, "--measure", "--quiet", "--format", "py")
    assert measured.returncode == 0, measured.stderr
    assert "WHAT GIL LAB MEASURED" in measured.stdout and re.search(r"\(run [0-9a-f]{8}\)", measured.stdout)
    saved = cli("compare", *settings, "--json", "--quiet")
    assert saved.returncode == 0, saved.stderr
    result_file = tmp_path / "result.json"
    result_file.write_text(saved.stdout)
    out = tmp_path / "quoted.ipynb"
    done = cli("export", "--result", str(result_file), "--output", str(out))
    assert done.returncode == 0, done.stderr
    result = ComparisonResult.from_dict(json.loads(saved.stdout))
    assert out.read_text(encoding="utf-8") == notebook_text(result.spec, result)
    assert result.run_id in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    (["--preset", "nope", "--format", "py"], "invalid choice: 'nope'"),
    (["--preset", "start", "--format", "pdf"], "invalid choice: 'pdf'"),
    (["--preset", "start"], "give --format ipynb or py"),
    (["--preset", "start", "--output", "/nonexistent-dir/x.ipynb"], "cannot write"),
    (["--preset", "start", "--output", "/proc/gil-lab.ipynb"], "cannot write"),
    (["--preset", "start", "--format", "py", "--output", "/tmp"], "it is a directory"),
    (["--preset", "start", "--output", "numpy.py"], "in place of the numpy module"),
    (["--preset", "start", "--output", f"{TASKS_MODULE}.ipynb"], "tasks module"),
    (["--preset", "start", "--size", "30", "--format", "py"], "drop --size"),
    (["--result", "/nonexistent-dir/r.json", "--format", "py"], "cannot read"),
    (["--result", str(REPO / "README.md"), "--format", "py"], "not a compare --json file"),
    (["--result", str(REPO / "pyproject.toml"), "--preset", "start", "--format", "py"], "drop --preset"),
])
def test_cli_bad_export_input_gets_one_line_and_exit_2(cli, args, message):
    done = cli("export", *args)
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core: error:"), done.stderr
    assert message in lines[0], lines[0]
    assert done.stdout == ""


def test_cli_refuses_a_result_that_is_not_a_finished_comparison(cli, tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"kind": "run", "complete": True}))
    done = cli("export", "--result", str(bad), "--format", "ipynb")
    assert done.returncode == 2 and "not a complete comparison" in done.stderr, done.stderr


# --- the app -----------------------------------------------------------------------------------------------


@pytest.fixture
def app_page() -> Iterator[object]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/io_bound.py")
    at.query_params.update(sleep="0.01", tasks="2", workers="2", rounds="7")
    at.run()
    yield at
    st.cache_resource.clear()  # closes the app's cached clusters and pools (on_release)


def test_the_apps_download_buttons_offer_exactly_the_exporters_files(app_page):
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    at = app_page
    at.button(key="io-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    result = at.session_state["last-io"]  # the result on screen
    buttons = {b.proto.label: b.proto for b in at.get("download_button")}
    expected = {"Download as notebook": (notebook_text(result.spec, result), "application/x-ipynb+json",
                                         "gil-lab-io.ipynb"),
                "Download as script": (to_script(result.spec, result), "text/x-python", "gil-lab-io.py")}
    assert [f.label for f in take_home(result, "gil-lab-io")] == list(expected)
    for label, (text, mime, file_name) in expected.items():
        assert label in buttons, f"no {label!r} button: {list(buttons)}"
        # Streamlit names a download by a hash of its bytes, type and file name: equal names, equal files.
        offered = buttons[label].url.rsplit("/", 1)[1].split(".")[0]
        assert offered == _calculate_file_id(text.encode(), mime, file_name), label
