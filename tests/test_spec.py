"""ExperimentSpec validation, and the estimate / budget guard that runs before any experiment.

No engine starts here: these tests only build specs and ask for estimates (which calibrate the
workloads once, in well under a second).
"""

from __future__ import annotations

import dataclasses
import math

import pytest

import core
from core import SCHEDULERS, WORKLOADS, ExperimentSpec
from core.kinds.base import check
from core.kinds.run import KIND as RUN
from core.measure.estimate import BudgetError, estimate
from core.measure.spec import LIMITS, MAX_CLUSTER_THREADS

# --- valid specs ------------------------------------------------------------------------------------


def test_defaults_build_and_describe_themselves():
    spec = ExperimentSpec()
    assert spec.workload in WORKLOADS
    assert spec.scheduler in SCHEDULERS
    assert WORKLOADS[spec.workload].min_size <= spec.size <= WORKLOADS[spec.workload].max_size
    assert spec.address is None
    assert spec.workload in spec.label and spec.scheduler in spec.label


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_every_workload_builds_at_its_default_and_bounds(name):
    wl = WORKLOADS[name]
    for size in (wl.default_size, wl.min_size, wl.max_size):
        spec = ExperimentSpec(workload=name, size=size)
        assert spec.size == size


@pytest.mark.parametrize("scheduler", [s for s in SCHEDULERS if s != "external"])
def test_every_local_scheduler_builds_with_defaults(scheduler):
    assert ExperimentSpec(scheduler=scheduler).scheduler == scheduler


def test_integer_workload_sizes_are_normalised_to_int():
    spec = ExperimentSpec(workload="fib", size=25.0)
    assert spec.size == 25
    assert type(spec.size) is int
    # Normalised specs are equal and hash alike: the app caches results on the spec.
    assert spec == ExperimentSpec(workload="fib", size=25)
    assert hash(spec) == hash(ExperimentSpec(workload="fib", size=25))


def test_float_workload_sizes_are_normalised_to_float():
    spec = ExperimentSpec(workload="sleep", size=1)
    assert type(spec.size) is float
    assert spec == ExperimentSpec(workload="sleep", size=1.0)


def test_limits_are_inclusive():
    low, high = LIMITS["tasks"]
    assert ExperimentSpec(tasks=low).tasks == low
    assert ExperimentSpec(tasks=high).tasks == high
    low, high = LIMITS["workers"]
    assert ExperimentSpec(workers=high).workers == high


def test_cluster_shapes_up_to_the_thread_cap_build():
    spec = ExperimentSpec(scheduler="cluster-threads", workers=4, threads_per_worker=16)
    assert spec.workers * spec.threads_per_worker == MAX_CLUSTER_THREADS
    assert spec.concurrency == MAX_CLUSTER_THREADS


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "tcp://scheduler.example.org:8786", "tcp://[::1]:8786",
                                     "tls://10.0.0.5:8786"])
def test_external_accepts_scheduler_addresses(address):
    assert ExperimentSpec(scheduler="external", address=address).address == address


def test_replace_validates_the_copy():
    spec = ExperimentSpec()
    assert spec.replace(tasks=8).tasks == 8
    with pytest.raises(ValueError, match="tasks"):
        spec.replace(tasks=0)


def test_spec_is_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExperimentSpec().tasks = 8  # type: ignore[misc]


def test_to_dict_round_trips():
    spec = ExperimentSpec(workload="sleep", size=0.2, scheduler="processes", workers=2, chunksize=2, reuse_pool=True)
    assert ExperimentSpec(**spec.to_dict()) == spec


# --- invalid specs: ValueError naming the field and what is allowed ------------------------------

FIB = WORKLOADS["fib"]
RANGE_FIB = (f"{FIB.min_size:g}", f"{FIB.max_size:g}")

INVALID = {
    # id: (spec fields, substrings the message must contain)
    "tasks=0": ({"tasks": 0}, ("tasks", "1", "64")),
    "tasks=65": ({"tasks": 65}, ("tasks", "1", "64")),
    "workers=0": ({"workers": 0}, ("workers", "1", "32")),
    "workers=33": ({"workers": 33}, ("workers", "1", "32")),
    "repeats=0": ({"repeats": 0}, ("repeats", "1", "100")),
    "tasks=2.5": ({"tasks": 2.5}, ("tasks", "1", "64")),
    "tasks=True": ({"tasks": True}, ("tasks", "1", "64")),
    "fib size below": ({"workload": "fib", "size": FIB.min_size - 1}, ("size", *RANGE_FIB)),
    "fib size above": ({"workload": "fib", "size": FIB.max_size + 1}, ("size", *RANGE_FIB)),
    "sleep size above": ({"workload": "sleep", "size": 60}, ("size", "0.01", "5")),
    "size not a number": ({"size": "30"}, ("size", *RANGE_FIB)),
    "size nan": ({"size": math.nan}, ("size", *RANGE_FIB)),
    "unknown workload": ({"workload": "nope"}, ("workload", *WORKLOADS)),
    "unknown scheduler": ({"scheduler": "gpu"}, ("scheduler", *SCHEDULERS)),
    "threads_per_worker on threads": ({"scheduler": "threads", "threads_per_worker": 2},
                                      ("threads_per_worker", "1", "cluster-threads")),
    "threads_per_worker on sync": ({"scheduler": "sync", "threads_per_worker": 2}, ("threads_per_worker", "1")),
    "threads_per_worker=0 on cluster": ({"scheduler": "cluster-threads", "threads_per_worker": 0},
                                        ("threads_per_worker", "1", "16")),
    "chunksize on threads": ({"scheduler": "threads", "chunksize": 4}, ("chunksize", "processes")),
    "chunksize on cluster": ({"scheduler": "cluster-processes", "chunksize": 2}, ("chunksize", "processes")),
    "reuse_pool on sync": ({"scheduler": "sync", "reuse_pool": True}, ("reuse_pool", "processes")),
    "external without address": ({"scheduler": "external"}, ("address", "tcp://")),
    "address without external": ({"scheduler": "threads", "address": "tcp://127.0.0.1:8786"},
                                  ("address", "external")),
    "address without scheme": ({"scheduler": "external", "address": "127.0.0.1:8786"}, ("address", "tcp://")),
    "address wrong scheme": ({"scheduler": "external", "address": "http://127.0.0.1:8786"}, ("address", "tcp://")),
    "address with space": ({"scheduler": "external", "address": "tcp://a host:8786"}, ("address", "tcp://")),
    "address not an address": ({"scheduler": "external", "address": "not-an-address"}, ("address", "tcp://")),
    "cluster threads over cap": ({"scheduler": "cluster-threads", "workers": 5, "threads_per_worker": 13},
                                 ("workers", "threads_per_worker", str(MAX_CLUSTER_THREADS))),
    "blas_threads=0": ({"blas_threads": 0}, ("blas_threads", "1", "64")),
    "ship_code off on threads": ({"scheduler": "threads", "ship_code": False}, ("ship_code", "external")),
    "ship_code not a bool": ({"scheduler": "cluster-threads", "ship_code": "no"}, ("ship_code", "True or False")),
}


@pytest.mark.parametrize("fields, expected", list(INVALID.values()), ids=list(INVALID))
def test_invalid_spec_raises_value_error_naming_field_and_range(fields, expected):
    with pytest.raises(ValueError) as info:
        ExperimentSpec(**fields)
    message = str(info.value)
    missing = [part for part in expected if part not in message]
    assert not missing, f"message {message!r} does not mention {missing}"


def test_non_integer_fib_size_names_field_and_range():
    with pytest.raises(ValueError) as info:
        ExperimentSpec(workload="fib", size=25.5)
    message = str(info.value)
    assert "size" in message
    assert all(part in message for part in RANGE_FIB), message


def test_non_integer_fib_size_is_rejected():
    """The part of the contract that holds today: 25.5 is refused, and the message says why."""
    with pytest.raises(ValueError, match=r"size.*whole number"):
        ExperimentSpec(workload="fib", size=25.5)


def test_address_with_impossible_port_is_rejected():
    with pytest.raises(ValueError, match="address"):
        ExperimentSpec(scheduler="external", address="tcp://127.0.0.1:99999")


# --- estimate and budget ----------------------------------------------------------------------------


def test_package_does_not_shadow_the_estimate_submodule():
    """``core.measure.estimate`` is the submodule (a lazy export of the same name would flip between the two)."""
    import core.measure.estimate as module

    assert core.check is check
    assert core.measure.estimate is module and module.estimate is estimate


def test_package_exports_the_budget_guard():
    assert core.check is check
    assert core.BudgetError is BudgetError


def test_estimate_grows_with_size_and_tasks():
    base = ExperimentSpec(workload="fib", size=25, tasks=4, scheduler="sync", repeats=1)
    small = estimate(base)
    assert small.seconds > 0 and small.task_s > 0
    assert estimate(base.replace(size=30)).seconds > small.seconds
    assert estimate(base.replace(tasks=16)).seconds > small.seconds
    assert estimate(base.replace(repeats=3)).seconds > small.seconds
    sleep = ExperimentSpec(workload="sleep", size=0.2, tasks=4, scheduler="threads", repeats=1)
    assert estimate(sleep.replace(size=2.0)).seconds > estimate(sleep).seconds
    assert estimate(sleep.replace(tasks=16)).seconds > estimate(sleep).seconds


def test_estimate_knows_the_gil():
    """Threads cannot speed up a GIL-holding workload; sleeping threads overlap."""
    fib = ExperimentSpec(workload="fib", size=28, tasks=8, scheduler="sync", workers=4, repeats=1)
    sync, threads = estimate(fib), estimate(fib.replace(scheduler="threads"))
    assert threads.per_repeat_s >= 0.9 * sync.per_repeat_s
    sleep = ExperimentSpec(workload="sleep", size=1.0, tasks=4, scheduler="sync", workers=4, repeats=1)
    assert estimate(sleep.replace(scheduler="threads")).per_repeat_s < 0.5 * estimate(sleep).per_repeat_s


def test_estimate_counts_cluster_start_only_when_needed():
    spec = ExperimentSpec(workload="fib", size=20, tasks=2, scheduler="cluster-processes", workers=2, repeats=1)
    cold, warm = estimate(spec), estimate(spec, cluster_running=True)
    assert cold.setup_s > 0
    assert warm.setup_s == 0
    assert cold.seconds > warm.seconds


def test_the_budget_check_returns_the_estimate_when_within_budget():
    spec = ExperimentSpec(workload="fib", size=20, tasks=2, scheduler="sync", repeats=1)
    cost = check(RUN.cost(spec), 60)
    assert cost.seconds == pytest.approx(estimate(spec).seconds)


def test_the_budget_check_refuses_a_huge_run_and_says_how_long():
    assert issubclass(BudgetError, ValueError)
    huge = ExperimentSpec(workload="fib", size=34, tasks=64, scheduler="sync", repeats=20)
    seconds = estimate(huge).seconds
    assert seconds > 60
    with pytest.raises(BudgetError) as info:
        check(RUN.cost(huge), 60)
    message = str(info.value)
    assert f"{seconds:,.0f} s" in message
    assert "60 s" in message


def test_memory_guard_refuses_an_impossible_memory_spec():
    big = ExperimentSpec(workload="numpy-sort", size=40, tasks=8, scheduler="threads", workers=8, repeats=1)
    need = estimate(big).memory_bytes
    assert need > 0
    with pytest.raises(BudgetError, match="MB") as info:
        check(RUN.cost(big), 1e9, memory_limit_bytes=need)  # needs all of it; half is allowed
    assert "MB available" in str(info.value)
    # The same spec passes when memory is plentiful, and a spec that needs no memory always passes.
    assert check(RUN.cost(big), 1e9, memory_limit_bytes=4 * need).seconds > 0
    assert check(RUN.cost(ExperimentSpec(workload="fib", size=20, repeats=1)), 60, memory_limit_bytes=1).seconds > 0


def test_memory_estimate_counts_payload_copies_in_processes():
    spec = ExperimentSpec(workload="transfer", size=50, tasks=4, scheduler="threads", workers=2, repeats=1)
    shared = estimate(spec).memory_bytes
    copied = estimate(spec.replace(scheduler="processes")).memory_bytes
    assert shared >= 50 * 1_000_000
    assert copied > shared
