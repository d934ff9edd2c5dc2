"""Scaling and data-transfer sweeps (`core.kinds.scaling`, `core.kinds.transfer`), measured for real; their CLI verbs.

Physics with wide margins (the machine is a shared 2-core box): more worker processes finish fib
sooner up to the core count; shipping a payload to processes costs time that grows with its size,
while threads read it in place. Timing assertions use the fastest repeat (the least disturbed by
other programs) and measure once more before failing. Arithmetic is checked exactly.
"""

from __future__ import annotations

import math

import pytest

from core.kinds.points import parse_counts
from core.kinds.scaling import (
    SCALING_COLUMNS,
    amdahl,
    default_tasks,
    default_worker_counts,
    describe_scaling,
    fit_serial_fraction,
    scaling_specs,
    scaling_sweep,
)
from core.kinds.transfer import TRANSFER_COLUMNS, describe_transfer, transfer_sweep
from core.measure.estimate import BudgetError
from core.measure.machine import machine_info
from tests.helpers import new_children as _new_children
from tests.helpers import physics
from tests.helpers import workers_alive as _workers_alive

CORES = machine_info().usable_cores


def needs_two_cores() -> None:
    if CORES < 2:
        pytest.skip("process parallelism needs at least 2 usable cores")


# --- pure parts: parsing, defaults, the Amdahl fit ---------------------------------------------------


@pytest.mark.parametrize("text", ["1,x", "0", "999", "2,2", "", ",", "1,,2", "1.5"])
def test_bad_worker_lists_are_refused_naming_the_field(text):
    with pytest.raises(ValueError, match="workers"):
        parse_counts(text, "workers", 1, 8)


def test_worker_lists_parse_sorted():
    assert parse_counts(" 4, 1,2 ", "workers", 1, 8) == (1, 2, 4)
    assert parse_counts([2, 1], "workers", 1, 8) == (1, 2)


def test_default_tasks_divide_evenly_or_are_flagged():
    for counts in [(1, 2), (1, 2, 4), (1, 2, 3, 4), (1, 2, 3, 4, 5, 6)]:
        tasks = default_tasks(counts)
        assert all(tasks % w == 0 for w in counts), (counts, tasks)
        assert tasks >= 2 * max(counts)
    assert default_tasks((1, 2, 3, 4)) == 12
    # lcm(1..8) = 840 is over the 64-task limit: 2 × 8 instead, and not every count divides it.
    assert default_tasks(tuple(range(1, 9))) == 16
    assert default_worker_counts(4, 2) == (1, 2, 3, 4)
    assert default_worker_counts(16, 4) == (1, 2, 4, 8, 16)


def test_scaling_specs_add_the_baseline_and_keep_the_total_fixed():
    specs = scaling_specs("fib", 20, "processes", "2,4", tasks=8, repeats=1, include_sync=True)
    assert [s.scheduler for s in specs] == ["sync", "processes", "processes", "processes"]
    assert [s.workers for s in specs[1:]] == [1, 2, 4]  # 1 worker added: it is the baseline
    assert {s.tasks for s in specs} == {8}  # strong scaling
    assert all(s.reuse_pool for s in specs[1:])  # pool start-up stays out of wall
    cluster = scaling_specs("fib", 20, "cluster-processes", "1,2", repeats=1, include_sync=False)
    assert {s.warmup for s in cluster} == {1}
    with pytest.raises(ValueError, match="tasks"):
        scaling_specs("fib", 20, "processes", "1,4", tasks=2)
    with pytest.raises(ValueError, match="CPU-bound"):
        scaling_specs("sleep", 0.1, "threads", "1,2")
    with pytest.raises(ValueError, match="scheduler"):
        scaling_specs("fib", 20, "sync", "1,2")


def test_amdahl_fit_recovers_a_known_serial_fraction():
    workers = [1, 2, 4, 8, 16]
    speedup = [float(amdahl(0.2, min(w, 8))) for w in workers]
    f, points = fit_serial_fraction(workers, speedup, cores=8)
    assert f == pytest.approx(0.2, abs=1e-3) and points == 3  # p = 2, 4, 8 (16 workers still 8 cores)
    # Two cores: one informative point, f = 2/S(2) − 1.
    f2, points2 = fit_serial_fraction([1, 2, 4], [1.0, 1.6, 1.6], cores=2)
    assert f2 == pytest.approx(2 / 1.6 - 1, abs=1e-3) and points2 == 1
    # Superlinear and slower-than-serial speedups clip to the ends of [0, 1].
    assert fit_serial_fraction([1, 2], [1.0, 2.5], cores=2)[0] == 0.0
    assert fit_serial_fraction([1, 2], [1.0, 0.7], cores=2)[0] == 1.0
    f_none, p_none = fit_serial_fraction([1], [1.0], cores=2)
    assert math.isnan(f_none) and p_none == 0


def test_a_sweep_over_the_budget_is_refused_before_running():
    with pytest.raises(BudgetError, match="sweep"):
        scaling_sweep("fib", 34, "processes", "1,2,4", tasks=64, repeats=20, max_seconds=5)


# --- real sweeps --------------------------------------------------------------------------------------


def _process_sweep():
    # fib(29) ≈ 60 ms: 8 of them are ~0.5 s of work on one worker, long enough to dwarf dispatch.
    return scaling_sweep("fib", 29, "processes", [1, 2], tasks=8, repeats=4, include_sync=False, max_seconds=None)


def _two_beat_one(result) -> bool:
    """Two workers' fastest repeat clearly under one worker's (a real second core, not a shared one)."""
    best = result.frame.set_index("workers")["wall_min_s"]
    return bool(best[2] < 0.85 * best[1])


def test_process_sweep_gets_faster_up_to_the_cores_and_its_arithmetic_holds(parse_json):
    needs_two_cores()
    before = _workers_alive()
    # Another program holding a core takes the second worker's: then the machine cannot show the effect.
    result = physics(_process_sweep, _two_beat_one, busy_cores=0.5, busy=lambda r: r.noise.busy,
                     what="2 process workers beating 1")
    assert not _new_children(before), "the sweep's process pools must be shut down"

    f = result.frame
    assert list(f.columns) == SCALING_COLUMNS
    assert list(f["workers"]) == [1, 2] and set(f["tasks"]) == {8} and f["balanced"].all()
    base = f["wall_s"].iloc[0]
    assert f["speedup"].tolist() == pytest.approx((base / f["wall_s"]).tolist())
    assert f["efficiency"].tolist() == pytest.approx((f["speedup"] / f["workers"]).tolist())
    assert f["speedup_min"].tolist() == pytest.approx((base / f["wall_max_s"]).tolist())
    assert f["ideal_speedup"].tolist() == [float(min(w, CORES)) for w in f["workers"]]
    assert (f["wall_min_s"] <= f["wall_s"]).all() and (f["wall_s"] <= f["wall_max_s"]).all()
    assert 0.0 <= result.serial_fraction <= 1.0 and result.fit_points == 1
    assert f["amdahl_speedup"].tolist() == pytest.approx(
        [float(amdahl(result.serial_fraction, min(w, CORES))) for w in f["workers"]])
    assert (f["setup_s"] > 0).all(), "each worker count starts its pool before the timed repeats"
    assert result.sync_wall_s is None and f["speedup_vs_sync"].isna().all()
    assert result.machine.usable_cores == CORES
    assert len(result.runs) == 2 * result.repeats

    data = parse_json(result.to_json())
    assert data["kind"] == "scaling" and data["baseline"].startswith("the 1-worker run")
    assert [row["workers"] for row in data["rows"]] == [1, 2]
    assert data["rows"][0]["speedup_vs_sync"] is None  # NaN became null: strict JSON
    assert "usable_cores" in data["machine"] and data["fit_caveat"]
    assert any("Amdahl" in s for s in describe_scaling(result))


@pytest.mark.parametrize("scheduler", ["futures-processes", "multiprocessing"])
def test_the_pools_beyond_dask_scale_too_and_close_their_pools(scheduler):
    """The GIL is Python's: the standard library's process pools scale like Dask's, and a thread pool does not."""
    needs_two_cores()
    before = _workers_alive()
    sweep = physics(lambda: scaling_sweep("fib", 27, scheduler, [1, 2], tasks=4, repeats=4, include_sync=False,
                                          max_seconds=None),
                    _two_beat_one, busy_cores=0.5, busy=lambda r: r.noise.busy, what=f"2 {scheduler} workers beating 1")
    assert (sweep.frame["setup_s"] > 0).all()  # one pool per worker count, started before its rounds
    def threads_speedup() -> float:
        threads = scaling_sweep("fib", 25, "futures-threads", [1, 2], tasks=4, repeats=4, include_sync=False,
                                max_seconds=None)
        return float(threads.frame.set_index("workers")["speedup"][2])

    # One GIL: two threads take turns. Threads of one process also run the same code at different speeds here
    # (fib 11.2 ms in one thread, 15.5 ms in another, measured side by side): a new pair of pools gets new threads.
    speedup = threads_speedup()
    if not speedup < 1.3:
        speedup = threads_speedup()
    assert speedup < 1.3, speedup
    assert _workers_alive() <= before


def test_joblib_loky_is_not_swept_its_executor_is_one_per_process():
    with pytest.raises(ValueError, match="scheduler must be one of"):
        scaling_specs("fib", 25, "joblib-loky", [1, 2])


def test_cluster_sweep_excludes_start_up_and_closes_its_clusters(parse_json):
    needs_two_cores()
    before = _workers_alive()
    result = scaling_sweep("fib", 24, "cluster-processes", "1,2", tasks=4, repeats=1, include_sync=True,
                           max_seconds=None)
    f = result.frame
    # Each worker count is a new LocalCluster shape whose start-up is setup, not wall.
    assert (f["setup_s"] > 0.1).all(), f[["workers", "setup_s", "wall_s"]]
    assert result.sync_wall_s is not None and f["speedup_vs_sync"].notna().all()
    assert not _new_children(before), "the sweep's own LocalClusters must be closed"
    parse_json(result.to_json())


def _transfer():
    return transfer_sweep("1,30", "threads,processes", tasks=4, workers=2, repeats=2, max_seconds=None)


def test_transfer_grows_with_payload_under_processes_but_not_threads(parse_json):
    result = _transfer()

    def walls(r, scheduler):
        rows = r.frame[r.frame["scheduler"] == scheduler].set_index("mb")["wall_min_s"]
        return float(rows[1]), float(rows[30])

    def holds(r) -> bool:
        p1, p30 = walls(r, "processes")
        t1, t30 = walls(r, "threads")
        return p30 > 3 * p1 and t30 < 0.5 * p30 and (t30 - t1) < 0.25 * (p30 - p1)

    if not holds(result):
        result = _transfer()
    p1, p30 = walls(result, "processes")
    t1, t30 = walls(result, "threads")
    shown = result.frame[["scheduler", "mb", "wall_s", "wall_min_s", "compute_s"]]
    assert p30 > 3 * p1, shown  # 120 MB pickled, piped and unpickled vs 4 MB
    assert t30 < 0.5 * p30, shown  # nothing copied
    assert (t30 - t1) < 0.25 * (p30 - p1), shown  # threads' growth (the checksum) is small beside the copies

    f = result.frame
    assert list(f.columns) == TRANSFER_COLUMNS and len(f) == 4
    assert f["throughput_mb_s"].tolist() == pytest.approx((f["mb"] * f["tasks"] / f["compute_s"]).tolist())
    assert result.growth("processes") > result.growth("threads")
    data = parse_json(result.to_json())
    assert data["kind"] == "transfer" and {r["scheduler"] for r in data["rows"]} == {"threads", "processes"}
    assert len(describe_transfer(result)) == 2


# --- the CLI verbs ----------------------------------------------------------------------------------------

BAD_SWEEP = {
    "letter in workers": ["--workers", "1,x"],
    "zero workers": ["--workers", "0"],
    "too many workers": ["--workers", "999"],
    "duplicate workers": ["--workers", "1,2,2"],
    "empty workers": ["--workers", ""],
    "tasks fewer than workers": ["--workers", "1,4", "--tasks", "2"],
    "over budget": ["--size", "34", "--tasks", "64", "--repeats", "20", "--max-seconds", "1"],
}
BAD_TRANSFER = {
    "zero MB": ["--sizes", "0"],
    "duplicate sizes": ["--sizes", "1,1"],
    "unknown engine": ["--schedulers", "threads,gpu"],
}


@pytest.fixture(scope="module")
def bad_runs(cli):
    procs = {("sweep", k): cli.start("sweep", *a) for k, a in BAD_SWEEP.items()}
    procs.update({("transfer", k): cli.start("transfer", *a) for k, a in BAD_TRANSFER.items()})
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("verb, case", [("sweep", k) for k in BAD_SWEEP] + [("transfer", k) for k in BAD_TRANSFER])
def test_cli_bad_arguments_exit_2_with_one_line(cli, bad_runs, verb, case):
    run = cli.finish(bad_runs[(verb, case)])
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core: error:"), run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_cli_sweep_json_has_one_row_per_worker_count(cli, parse_json):
    run = cli("sweep", "--workload", "fib", "--size", "22", "--scheduler", "processes", "--workers", "2",
              "--repeats", "1", "--no-sync", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert [r["workers"] for r in data["rows"]] == [1, 2]  # 1 is added: the baseline
    for row in data["rows"]:
        assert {"workers", "wall_s", "wall_min_s", "wall_max_s", "speedup", "efficiency", "ideal_speedup",
                "amdahl_speedup", "setup_s"} <= set(row)
    assert data["rows"][0]["speedup"] == 1.0 and data["tasks"] == 4
    assert {"serial_fraction", "machine", "fit_caveat", "runs"} <= set(data)


def test_cli_transfer_json_and_table(cli, parse_json):
    run = cli("transfer", "--sizes", "1,5", "--schedulers", "threads,processes", "--tasks", "2", "--repeats", "1",
              "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert [(r["scheduler"], r["mb"]) for r in data["rows"]] == [
        ("threads", 1), ("threads", 5), ("processes", 1), ("processes", 5)]
    assert all({"wall_s", "compute_s", "throughput_mb_s", "wall_min_s", "wall_max_s"} <= set(r) for r in data["rows"])
    table = cli("transfer", "--sizes", "1", "--schedulers", "threads", "--tasks", "2", "--repeats", "1")
    assert table.returncode == 0 and "throughput_mb_s" in table.stdout and "MB/s" in table.stdout


def test_cli_help_lists_the_verbs(cli):
    run = cli("--help")
    assert run.returncode == 0 and "sweep" in run.stdout and "transfer" in run.stdout
