"""``python -m core``, driven the way scripts and CI drive it: as a subprocess from the repo root.

Bad input must exit with status 2 and exactly one line on stderr (no traceback). Those runs are
started together, in the background, by one fixture: each costs about a second of interpreter
start-up, and the unreachable-cluster case waits out a 15 s connect timeout while the other CLI
tests run (its test is the last one in this file).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from core import WORKLOADS, machine_info
from tests.helpers import free_port

SCHEDULERS = ["sync", "threads", "processes", "cluster-threads", "cluster-processes"]
REQUIRED_KEYS = {"spec", "machine", "engine", "wall_s", "runs", "tasks"}
TINY = ["--workload", "fib", "--size", "20", "--workers", "2", "--repeats", "1"]


BAD_INPUT = {
    # id: (arguments after "run", a word the one-line error must contain)
    "tasks 0": (["--tasks", "0"], "tasks"),
    "unknown scheduler": (["--scheduler", "foo"], "scheduler"),
    "size not a number": (["--size", "abc"], "size"),
    "unknown workload": (["--workload", "nope"], "workload"),
    "over budget": (["--workload", "fib", "--size", "34", "--tasks", "64", "--scheduler", "sync",
                     "--max-seconds", "1"], "budget"),
    "tiny budget without force": (["--workload", "fib", "--size", "15", "--scheduler", "sync", "--repeats", "1",
                                   "--max-seconds", "0.000001"], "budget"),
    "threads per worker on threads": (["--threads-per-worker", "2", "--scheduler", "threads"], "threads-per-worker"),
    "malformed address": (["--address", "not-an-address"], "address"),
    "address with a local scheduler": (["--address", "tcp://127.0.0.1:8786", "--scheduler", "threads"], "address"),
    "fractional fib size": (["--workload", "fib", "--size", "25.5"], "size"),
    "chunksize on threads": (["--scheduler", "threads", "--chunksize", "4"], "chunksize"),
    "workers 33": (["--workers", "33"], "workers"),
    "no-ship on a local scheduler": (["--scheduler", "threads", "--no-ship"], "--no-ship"),
}
UNREACHABLE = "unreachable cluster"


@pytest.fixture(scope="module")
def bad_input_runs(cli) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every bad-input run, started at once; each test waits only for its own."""
    cases = {case: args for case, (args, _) in BAD_INPUT.items()}
    # Nothing listens on a port we just had the OS pick and released: the connect must time out.
    cases[UNREACHABLE] = ["--address", f"tcp://127.0.0.1:{free_port()}", "--size", "20", "--repeats", "1"]
    procs = {case: cli.start("run", *args) for case, args in cases.items()}
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def assert_one_line_error(run, word: str, status: int = 2) -> None:
    assert run.returncode == status, run
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("python -m core"), lines[0]
    assert word in lines[0], lines[0]
    assert run.stdout.strip() == "", run.stdout


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line_on_stderr(cli, bad_input_runs, case):
    assert_one_line_error(cli.finish(bad_input_runs[case]), BAD_INPUT[case][1])


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_json_output_on_every_scheduler(cli, parse_json, scheduler):
    run = cli("run", "--scheduler", scheduler, "--tasks", "3", "--json", *TINY)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    data = parse_json(run.stdout)  # the whole of stdout is one JSON object
    assert isinstance(data, dict)
    assert set(data) >= REQUIRED_KEYS
    assert data["spec"]["scheduler"] == scheduler
    assert data["spec"]["tasks"] == 3
    assert len(data["tasks"]) == 3
    assert sorted(task["task"] for task in data["tasks"]) == [0, 1, 2]
    assert len(data["runs"]) == 1
    assert data["wall_s"] > 0
    pids = {task["pid"] for task in data["tasks"]}
    if scheduler in ("processes", "cluster-processes"):
        assert run.pid not in pids and os.getpid() not in pids
    else:
        assert pids == {run.pid}  # tasks ran inside the CLI's own process
    assert data["machine"]["logical_cores"] == os.cpu_count()


def test_table_output_shows_the_median(cli):
    run = cli("run", "--scheduler", "threads", "--workload", "fib", "--size", "20", "--tasks", "2", "--repeats", "2")
    assert run.returncode == 0, run.stderr
    assert "median wall" in run.stdout
    assert "fib" in run.stdout and "threads" in run.stdout
    assert not run.stdout.lstrip().startswith("{")


def test_force_runs_a_small_run_over_budget(cli, parse_json):
    # "tiny budget without force" above is the same run, refused without --force.
    run = cli("run", "--workload", "fib", "--size", "15", "--scheduler", "sync", "--repeats", "1",
              "--max-seconds", "0.000001", "--force", "--json")
    assert run.returncode == 0, run.stderr
    # fib(15) is too quick to time, which trips the NaN bug (see test_engines' xfail); read past it.
    data = parse_json(run.stdout.replace("NaN", "null"))
    assert len(data["tasks"]) == 4


def test_workloads_lists_every_workload(cli):
    run = cli("workloads")
    assert run.returncode == 0, run.stderr
    listed = {line.split()[0] for line in run.stdout.splitlines() if line.strip()}
    assert listed == set(WORKLOADS)


def test_machine_prints_this_machine(cli, parse_json):
    run = cli("machine")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    here = machine_info()
    assert data["logical_cores"] == here.logical_cores
    assert data["usable_cores"] == here.usable_cores
    assert data["python_version"] == here.python_version
    assert data["gil_enabled"] == here.gil_enabled


def test_missing_command_exits_2_with_one_line(cli):
    run = cli()
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.strip()]) == 1, run.stderr


def test_unreachable_cluster_exits_1_with_one_line(cli, bad_input_runs):
    # Not bad input (the address is well formed): a run that failed, so status 1, still one line.
    assert_one_line_error(cli.finish(bad_input_runs[UNREACHABLE]), "could not connect", status=1)
