"""Overhead anatomy (``core.kinds.overhead``) on real engines at small sizes, and its CLI verb.

Assertions are about physics with wide margins, never absolute times: a LocalCluster's per-task cost
(messages to a scheduler and back) dwarfs a thread pool's; a pool started for a compute costs more
than one already running; a 4-task graph with chunksize 6 runs in one process.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from core.kinds.overhead import (
    OVERHEAD_ENGINES,
    BreakEvenSpec,
    ChunksizeSpec,
    PerTaskSpec,
    StartupSpec,
    extrapolate_break_even,
    measure_break_even,
    measure_chunksize,
    measure_per_task,
    measure_startup,
    noop_graph,
    parse_sizes,
    sweep_sizes,
)
from tests.helpers import new_children as _new_children
from tests.helpers import workers_alive as _workers_alive

# --- specs and helpers (no engines) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda: PerTaskSpec(tasks=5), "tasks"),
        (lambda: PerTaskSpec(tasks=20_001), "tasks"),
        (lambda: PerTaskSpec(engines=("threads", "gpu")), "engines"),
        (lambda: PerTaskSpec(engines=()), "engines"),
        (lambda: PerTaskSpec(engines=("sync", "sync")), "engines"),
        (lambda: PerTaskSpec(workers=0), "workers"),
        (lambda: PerTaskSpec(graph="dict"), "graph"),
        (lambda: StartupSpec(cases=("processes-forever",)), "cases"),
        (lambda: StartupSpec(repeats=11), "repeats"),
        (lambda: ChunksizeSpec(n=40), "n"),
        (lambda: ChunksizeSpec(chunksizes=(6, 6)), "chunksizes"),
        (lambda: BreakEvenSpec(sizes=(20,)), "sizes"),
        (lambda: BreakEvenSpec(sizes=(10, 20)), "sizes"),
        (lambda: BreakEvenSpec(engines=("sync",)), "engines"),
        (lambda: BreakEvenSpec(tasks=True), "tasks"),
        (lambda: BreakEvenSpec(engines=("joblib-loky",)), "engines"),  # one loky executor per process
    ],
)
def test_bad_specs_name_the_field(make, word):
    with pytest.raises(ValueError, match=word):
        make()


def test_specs_are_hashable_and_normalised():
    spec = PerTaskSpec(engines=["threads", "sync"])
    assert spec.engines == ("threads", "sync") and hash(spec) == hash(PerTaskSpec(engines=("threads", "sync")))
    assert BreakEvenSpec(sizes=[24, 18]).sizes == (18, 24)
    assert sweep_sizes(18, 30, 4) == (18, 22, 26, 30)  # the largest n is always swept
    assert parse_sizes("18:24:3") == (18, 21, 24) and parse_sizes("20,25") == (20, 25)
    with pytest.raises(ValueError, match="--sizes"):
        parse_sizes("18-30")


def test_noop_graphs_have_one_task_per_no_op_and_unique_keys():
    import dask

    single = noop_graph(50, "single")
    assert len(single) == 1 and len(dict(single[0].__dask_graph__())) == 51  # 50 no-ops + their count
    assert dask.compute(*single, scheduler="sync") == (50,)
    listed = noop_graph(50, "list")
    assert len({d.key for d in listed}) == 50
    assert noop_graph(1)[0].key != noop_graph(1)[0].key  # a fresh token: never a cached result


def test_budget_refuses_huge_measurements():
    from core.kinds.base import check
    from core.kinds.overhead import KIND

    with pytest.raises(ValueError, match="budget"):
        check(KIND.cost(PerTaskSpec(tasks=20_000, repeats=10)), max_seconds=10)
    assert check(KIND.cost(PerTaskSpec(engines=("sync",), tasks=100, repeats=1)), max_seconds=10).seconds < 10


def test_extrapolation_follows_fib_growth_and_needs_parallel_lanes():
    # 1 s of fixed overhead, 0.1 s of sync work at n = 30 on 2 lanes: sync must grow past 2 s → n ≈ 37.
    n, overhead = extrapolate_break_even([24, 30], sync_wall_s=0.1, engine_wall_s=1.05, lanes=2)
    assert overhead == pytest.approx(1.0) and 35 <= n <= 38
    assert extrapolate_break_even([24, 30], 0.1, 1.05, lanes=1)[0] is None


# --- real measurements ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def per_task(registry):
    spec = PerTaskSpec(engines=("sync", "threads", "cluster-threads"), tasks=200, workers=2, repeats=2)
    return measure_per_task(spec, clusters=registry)


def test_per_task_overhead_is_positive_and_a_cluster_costs_more_than_threads(per_task):
    summary = per_task.summary.set_index("scheduler")
    assert list(summary.index) == ["sync", "threads", "cluster-threads"]
    assert (per_task.runs["per_task_us"] > 0).all()
    assert (summary["per_task_min_us"] <= summary["per_task_us"]).all()
    assert (summary["per_task_us"] <= summary["per_task_max_us"]).all()
    # Every distributed task is a round trip through a scheduler: typically 20-50× a thread pool's cost.
    assert per_task.per_task_us("cluster-threads") > 3 * per_task.per_task_us("threads")
    assert len(per_task.runs) == 3 * 2
    assert {"engine", "per_task_us", "fixed_s", "compute_s", "setup_s"} <= set(per_task.summary.columns)
    assert set(per_task.references["scheduler"]) == {"threads", "cluster-threads", "cluster-processes"}


def test_per_task_result_is_strict_json_with_machine(per_task, parse_json):
    data = parse_json(per_task.to_json())
    assert data["kind"] == "per_task" and data["machine"]["usable_cores"] >= 1
    assert data["spec"]["engines"] == ["sync", "threads", "cluster-threads"]
    assert {row["scheduler"] for row in data["summary"]} == {"sync", "threads", "cluster-threads"}


def test_a_fresh_pool_costs_every_compute_what_a_reused_one_costs_once(parse_json):
    result = measure_startup(StartupSpec(cases=("threads", "processes", "processes-reused"), workers=1, repeats=1))
    fresh, reused, threads = (result.row(c) for c in ("processes", "processes-reused", "threads"))
    assert fresh.paid == "every compute" and reused.paid == "once"
    # Both start an interpreter; after that the reused pool costs next to nothing per compute.
    assert fresh.per_compute_s > 10 * reused.per_compute_s
    assert fresh.startup_s > 10 * threads.startup_s
    data = parse_json(result.to_json())
    assert data["kind"] == "startup" and len(data["runs"]) == 3


def test_chunksize_six_puts_four_tasks_in_one_process_and_one_spreads_them(parse_json):
    # fib(25) is long enough (~10 ms) that the second process picks up a task before the first is free.
    result = measure_chunksize(ChunksizeSpec(n=25, tasks=4, workers=2, repeats=1, chunksizes=(6, 1)))
    assert result.distinct_pids(6) == 1
    assert result.distinct_pids(1) > 1
    assert set(result.tasks["chunksize"]) == {6, 1} and len(result.tasks) == 2 * 4
    assert parse_json(result.to_json())["kind"] == "chunksize"


def test_break_even_result_structure(registry, parse_json):
    spec = BreakEvenSpec(sizes=(15, 17), tasks=2, workers=2, repeats=1, engines=("threads", "cluster-threads"))
    result = measure_break_even(spec, clusters=registry)
    assert len(result.summary) == 3 * 2  # sync and two engines at two sizes
    assert set(result.summary["n"]) == {15, 17}
    assert (result.summary.loc[result.summary["scheduler"] == "sync", "speedup"] == 1).all()
    crossings = result.crossings.set_index("scheduler")
    assert list(crossings.index) == ["threads", "cluster-threads"]
    assert (crossings["lanes"] == 1).all()  # one GIL: pure-Python fib has one lane on both
    for scheduler in ("threads", "cluster-threads"):
        n = result.break_even_n(scheduler)
        assert n is None or n in (15, 17)
    data = parse_json(result.to_json())
    assert data["kind"] == "break_even" and data["spec"]["sizes"] == [15, 17]
    assert {"break_even_n", "first_faster_n", "extrapolated_n", "overhead_s"} <= set(data["crossings"][0])


# --- the CLI verb ---------------------------------------------------------------------------------------

BAD_ARGS = {
    "too few tasks": (["--tasks", "5"], "tasks"),
    "too many tasks": (["--tasks", "20001"], "tasks"),
    "tasks not a number": (["--tasks", "many"], "tasks"),
    "unknown scheduler": (["--scheduler", "gpu"], "scheduler"),
    "zero workers": (["--workers", "0"], "workers"),
    "break-even on sync": (["--scheduler", "sync", "--break-even"], "break-even"),
    "break-even on loky": (["--scheduler", "joblib-loky", "--break-even"], "engines"),
    "bad sizes": (["--scheduler", "threads", "--break-even", "--sizes", "3:4:1"], "sizes"),
    "over budget": (["--tasks", "20000", "--repeats", "10", "--max-seconds", "5"], "budget"),
}


@pytest.fixture(scope="module")
def bad_runs(cli) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every bad-argument run, started at once (each costs an interpreter start)."""
    procs = {case: cli.start("overhead", *args) for case, (args, _) in BAD_ARGS.items()}
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("case", list(BAD_ARGS))
def test_cli_bad_arguments_exit_2_with_one_line(cli, bad_runs, case):
    run = cli.finish(bad_runs[case])
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core: error:"), run.stderr
    assert BAD_ARGS[case][1] in lines[0]
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_cli_json_schema(cli, parse_json):
    run = cli("overhead", "--scheduler", "threads", "--tasks", "100", "--repeats", "1", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert set(data["per_task_us"]) == {"threads"} and data["per_task_us"]["threads"] > 0
    assert set(data["startup_s"]) == {"threads"} and data["startup_s"]["threads"] >= 0
    assert {"engines", "startup", "docs", "machine", "tasks", "repeats", "workers"} <= set(data)
    row = data["engines"][0]
    assert {"per_task_min_us", "per_task_max_us", "fixed_s", "repeats"} <= set(row)
    assert data["tasks"] == 100 and data["machine"]["usable_cores"] >= 1


def test_cli_table_names_every_engine_of_all():
    # --scheduler all is covered by the JSON test's schema; here only the table's labels, in-process.
    from core.kinds.overhead import GRAPH_FORM_LABELS, report_table

    fake_row = {"engine": "threads", "scheduler": "threads", "per_task_us": 40.0, "per_task_min_us": 35.0,
                "per_task_max_us": 50.0, "fixed_s": 1e-3}
    start_row = {"label": "threads: a new thread pool", "startup_s": 3e-5, "startup_min_s": 2e-5,
                 "startup_max_s": 4e-5, "per_compute_s": 1e-6, "teardown_s": 1e-4}
    out = {"machine": {"usable_cores": 2, "logical_cores": 2, "python_version": "3.11", "dask_version": "x",
                       "distributed_version": "y"}, "docs": [{"scheduler": "threads", "per_task_us": 50.0}],
           "tasks": 100, "graph": "single", "workers": 2, "repeats": 1, "engines": [fake_row], "startup": [start_row]}
    text = report_table(out)
    assert "40 µs per task" in text and "Dask's docs: 50 µs" in text and GRAPH_FORM_LABELS["single"] in text
    assert set(OVERHEAD_ENGINES) >= {"sync", "threads", "processes", "cluster-threads", "cluster-processes"}


def test_report_is_strict_json(per_task, parse_json):
    from core.kinds.overhead import report

    startup = measure_startup(StartupSpec(cases=("sync", "threads"), repeats=1))
    out = report(per_task, startup)
    text = json.dumps(out, allow_nan=False)
    assert parse_json(text)["per_task_us"].keys() == {"sync", "threads", "cluster-threads"}


# --- the pools beyond Dask ------------------------------------------------------------------------------


def test_the_pools_beyond_dask_have_their_per_task_cost_and_start_up_measured_and_closed(parse_json):
    """N no-op calls on each pool beyond Dask, beside Dask's threads: a process pool's round trip (pickling
    a call and its result through a pipe) costs more than a thread pool's hand-over, and every pool started
    for the measurement is gone afterwards (loky's reusable executor included)."""
    before = _workers_alive()
    beyond = ("futures-threads", "futures-processes", "multiprocessing", "joblib-threads", "joblib-loky")
    result = measure_per_task(PerTaskSpec(engines=("threads", *beyond), tasks=200, workers=2, repeats=2,
                                          chunksize=1))
    summary = result.summary.set_index("scheduler")
    assert list(summary.index) == ["threads", *beyond]
    assert summary["per_task_us"].notna().all() and (summary["compute_s"] > 0).all()
    assert "plain calls" in summary.loc["futures-processes", "detail"]
    # A call to another process and back vs a queue hand-over in one process: typically 10×; 1.5× is safe. Two
    # repeats of 200 calls are short: a burst of another program inside the thread pool's few milliseconds once
    # made it 343 µs a call against 71 µs for the process pool (a fresh clone's run): measure once more.
    if not result.per_task_us("futures-processes") > 1.5 * result.per_task_us("futures-threads"):
        result = measure_per_task(PerTaskSpec(engines=("threads", *beyond), tasks=200, workers=2, repeats=2,
                                              chunksize=1))
    assert result.per_task_us("futures-processes") > 1.5 * result.per_task_us("futures-threads")
    assert {row["scheduler"] for row in parse_json(result.to_json())["summary"]} == {"threads", *beyond}
    startup = measure_startup(StartupSpec(cases=("futures-threads", "futures-processes"), workers=1, repeats=1))
    threads, processes = startup.row("futures-threads"), startup.row("futures-processes")
    assert processes.paid == "once" and processes.startup_s > 10 * threads.startup_s  # an interpreter to start
    assert not _new_children(before)  # loky's reusable executor included


def test_cli_overhead_of_one_pool_beyond_dask(cli, parse_json):
    run = cli("overhead", "--scheduler", "multiprocessing", "--tasks", "100", "--repeats", "1", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert set(data["per_task_us"]) == {"multiprocessing"} and set(data["startup_s"]) == {"multiprocessing"}
