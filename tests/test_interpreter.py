"""The interpreter and BLAS panel: real interpreter facts, real BLAS pools, a real (tiny) matmul comparison."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig

import pytest

from core.kinds.blas import blas_experiment_specs, run_blas_experiment
from core.kinds.interpreter import (
    BlasPool,
    InterpreterInfo,
    blas_default_threads,
    blas_info,
    interpreter_info,
    interpreter_report,
)
from core.measure.machine import usable_cores
from core.workloads import numpy_matmul


def _blas_threads_now() -> int:
    return max(p.num_threads for p in blas_info() if p.user_api == "blas")


def test_interpreter_info_describes_this_interpreter():
    info = interpreter_info()
    assert isinstance(info, InterpreterInfo)
    assert info.implementation == platform.python_implementation()
    assert info.version == platform.python_version()
    assert info.executable == sys.executable and info.build and info.compiler
    assert info.free_threaded_build == bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    probe = getattr(sys, "_is_gil_enabled", None)
    assert info.gil_enabled == (True if probe is None else probe())
    if not info.free_threaded_build:
        assert info.gil_enabled and info.gil_label == "enabled"
    assert info.switch_interval_s == sys.getswitchinterval()
    assert 1 <= info.usable_cores <= info.logical_cores == (os.cpu_count() or 1)
    assert info.usable_cores == usable_cores()
    assert set(info.to_dict()) >= {"gil_enabled", "free_threaded_build", "switch_interval_s", "usable_cores"}


def test_blas_info_reports_numpys_blas():
    pools = blas_info()
    assert pools and all(isinstance(p, BlasPool) for p in pools)
    blas = [p for p in pools if p.user_api == "blas"]
    assert blas, f"NumPy's BLAS should be visible to threadpoolctl: {pools}"
    assert all(p.num_threads >= 1 and p.internal_api and p.library for p in blas)
    default = blas_default_threads()
    assert isinstance(default, int) and default >= 1


def test_none_restores_the_library_default_after_a_pinned_run_in_the_same_process():
    default = blas_default_threads()
    numpy_matmul(64, 1)
    assert _blas_threads_now() == 1
    numpy_matmul(64, None)
    assert _blas_threads_now() == default


def test_experiment_specs_pin_one_arm_and_leave_the_other_at_the_default():
    (pinned_label, pinned), (default_label, default) = blas_experiment_specs(side=200, tasks=2, workers=2, repeats=1)
    assert pinned.blas_threads == 1 and default.blas_threads is None
    assert pinned.replace(blas_threads=None) == default
    assert pinned.scheduler == "threads" and pinned.workload == "numpy-matmul"
    assert "pinned" in pinned_label and str(blas_default_threads()) in default_label
    with pytest.raises(ValueError, match="size"):
        blas_experiment_specs(side=10)


def test_pinned_and_default_matmul_runs(registry):
    exp = run_blas_experiment(side=200, tasks=2, workers=2, repeats=1, clusters=registry)
    assert exp.blas_threads == (1, blas_default_threads())
    pinned, default = exp.results
    assert pinned.values == pytest.approx(default.values)  # same products, whatever the threads
    rows = exp.summary()
    assert [r["blas_threads"] for r in rows] == [1, blas_default_threads()]
    for row in rows:
        assert row["wall_s"] > 0 and row["dask_threads"] == 2
        assert 0 < row["cpu_share"] <= 1.05
    cores = usable_cores()
    assert rows[0]["oversubscription"] == pytest.approx(2 / cores)
    assert rows[1]["oversubscription"] == pytest.approx(2 * blas_default_threads() / cores)


def test_cli_interpreter_json_and_text(cli, parse_json):
    run = cli("interpreter", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert set(data) == {"interpreter", "blas", "blas_default_threads"}
    assert data["interpreter"]["version"] == platform.python_version()
    assert data["interpreter"]["switch_interval_s"] == pytest.approx(0.005)  # a fresh process: CPython's default
    assert any(p["user_api"] == "blas" for p in data["blas"])
    assert data["blas_default_threads"] >= 1
    text = cli("interpreter")
    assert text.returncode == 0 and "gil_enabled" in text.stdout and "BLAS" in text.stdout


def test_cli_interpreter_bad_args_exit_2(cli):
    run = cli("interpreter", "--bogus")
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1


def test_report_is_plain_data():
    import json

    report = interpreter_report()
    json.dumps(report, allow_nan=False)
