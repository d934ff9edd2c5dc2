"""Property tests of ``ExperimentSpec`` validation: any value in any field is either refused with a
``ValueError`` that names a field, or gives a spec that is in bounds, estimable, hashable and
round-trips.

A spec is the cache key of the app and the parsed form of every CLI flag and URL parameter, so a
value that slips through here (an unhashable list, a truthy string for a bool, a NaN) breaks every
front end at once, and an exception other than ``ValueError`` turns bad input into a traceback.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.measure.estimate import estimate
from core.measure.spec import (
    CLUSTER_SCHEDULERS,
    DISTRIBUTED_SCHEDULERS,
    LIMITS,
    MAX_CLUSTER_THREADS,
    SCHEDULERS,
    ExperimentSpec,
)
from core.workloads import WORKLOADS

FIELDS = [f.name for f in fields(ExperimentSpec)]
INT_FIELDS = list(LIMITS)  # tasks, workers, threads_per_worker, repeats, warmup, chunksize, blas_threads
ADDRESSES = ["tcp://127.0.0.1:8786", "tls://scheduler.example.org:443", "tcp://[::1]:8786", "ws://h"]
NASTY_TEXT = ["", " ", "'; rm -rf /", "<script>alert(1)</script>", "../../etc/passwd", "%00", "\x00", "{{7*7}}",
              "fib ", "FIB", "ﬁb", "thread", "tcp://127.0.0.1:8786\n", "tcp://h:٨٧٨٦", "tcp://h:0", "tcp://h:65536",
              "x" * 10_000]
HUGE_INTS = [2**63, -(2**63), 10**400, -(10**5000)]  # 10**5000 is past Python's int-to-str limit

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- strategies --------------------------------------------------------------------------------------

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324]),
    st.text(max_size=12),
    st.sampled_from(NASTY_TEXT),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.integers()),
    st.just(b"fib"),
)


def near(low: float, high: float) -> st.SearchStrategy:
    """Values in and just around [low, high], as ints and floats: where off-by-one bugs live."""
    return st.one_of(
        st.integers(int(low) - 2, int(high) + 2),
        st.floats(low - 2, high + 2, allow_nan=False),
        st.sampled_from([low, high, low - 1e-9, high + 1e-9, float(low), float(high)]),
    )


size_values = st.one_of(*(near(w.min_size, w.max_size) for w in WORKLOADS.values()))
FIELD_VALUES = {
    "workload": st.one_of(st.sampled_from(list(WORKLOADS)), anything),
    "size": st.one_of(size_values, anything),
    "scheduler": st.one_of(st.sampled_from(SCHEDULERS), anything),
    "reuse_pool": st.one_of(st.booleans(), anything),
    "ship_code": st.one_of(st.booleans(), anything),
    "address": st.one_of(st.none(), st.sampled_from(ADDRESSES), anything),
    **{name: st.one_of(near(*LIMITS[name]), anything) for name in INT_FIELDS},
    # Your own function: only with workload "function", which no drawn workload is (its name is not in
    # WORKLOADS): any value but the defaults must be refused, naming the field.
    "function": st.one_of(st.none(), st.sampled_from(["mymodule:crunch", "os:system"]), anything),
    "function_args": st.one_of(st.just("[]"), st.sampled_from(["[30]", "[", "nan"]), anything),
    "function_kwargs": st.one_of(st.just("{}"), st.sampled_from(['{"n": 1}', "{"]), anything),
    "python": st.one_of(st.none(), st.sampled_from(["3.13", "3.13t", "/bin/sh", "3.13\n", "3"]), anything),
}
assert set(FIELD_VALUES) == set(FIELDS), "a new ExperimentSpec field needs a strategy here"
any_kwargs = st.fixed_dictionaries({}, optional=FIELD_VALUES)


@st.composite
def valid_kwargs(draw: st.DrawFn) -> dict:
    """Arguments that satisfy every documented rule, so construction must succeed."""
    name = draw(st.sampled_from(list(WORKLOADS)))
    wl = WORKLOADS[name]
    if wl.integer_size:
        size = draw(st.integers(int(wl.min_size), int(wl.max_size)))
        size = float(size) if draw(st.booleans()) else size  # 30.0 is a valid fib size too
    else:
        size = draw(st.floats(wl.min_size, wl.max_size))
    scheduler = draw(st.sampled_from(SCHEDULERS))
    workers = draw(st.integers(*LIMITS["workers"]))
    kw = {
        "workload": name, "size": size, "scheduler": scheduler, "workers": workers,
        "tasks": draw(st.integers(*LIMITS["tasks"])), "repeats": draw(st.integers(*LIMITS["repeats"])),
        "warmup": draw(st.integers(*LIMITS["warmup"])),
        "blas_threads": draw(st.one_of(st.none(), st.integers(*LIMITS["blas_threads"]))),
    }
    if scheduler in CLUSTER_SCHEDULERS:
        kw["threads_per_worker"] = draw(st.integers(1, min(LIMITS["threads_per_worker"][1],
                                                           MAX_CLUSTER_THREADS // workers)))
    if scheduler == "processes":
        kw["chunksize"] = draw(st.integers(*LIMITS["chunksize"]))
        kw["reuse_pool"] = draw(st.booleans())
    if scheduler == "external":
        kw["address"] = draw(st.sampled_from(ADDRESSES))
    if scheduler in DISTRIBUTED_SCHEDULERS:
        kw["ship_code"] = draw(st.booleans())
    return kw


# --- the properties ------------------------------------------------------------------------------------


def build(kwargs: dict) -> ExperimentSpec | None:
    """The spec, or None after checking the refusal is a one-line ValueError that names a field."""
    try:
        return ExperimentSpec(**kwargs)
    except ValueError as exc:  # anything else (TypeError, OverflowError, AttributeError) fails the test
        message = str(exc)
        assert any(name in message for name in FIELDS), f"message names no field: {message!r}"
        assert "\n" not in message and len(message) < 400, f"not a short one-line message: {message!r}"
        return None


def check_valid(spec: ExperimentSpec) -> None:
    """Everything downstream relies on: bounds, types, a finite estimate, hashing, round trips."""
    wl = WORKLOADS[spec.workload]
    assert spec.scheduler in SCHEDULERS
    assert wl.min_size <= spec.size <= wl.max_size
    assert type(spec.size) is (int if wl.integer_size else float), spec.size
    for name in INT_FIELDS:
        value = getattr(spec, name)
        if name == "blas_threads" and value is None:
            continue
        low, high = LIMITS[name]
        assert type(value) is int and low <= value <= high, (name, value)
    assert type(spec.reuse_pool) is bool
    assert type(spec.ship_code) is bool and (spec.ship_code or spec.scheduler in DISTRIBUTED_SCHEDULERS)
    assert (spec.address is not None) == (spec.scheduler == "external")
    assert spec.address is None or isinstance(spec.address, str)
    if spec.scheduler in CLUSTER_SCHEDULERS:
        assert spec.workers * spec.threads_per_worker <= MAX_CLUSTER_THREADS
    else:
        assert spec.threads_per_worker == 1
    assert 1 <= spec.concurrency <= MAX_CLUSTER_THREADS
    assert spec.label  # every field renders

    est = estimate(spec)
    for name in ("seconds", "task_s", "per_repeat_s", "setup_s"):
        value = getattr(est, name)
        assert math.isfinite(value) and value >= 0, (name, value)
    assert isinstance(est.memory_bytes, int) and est.memory_bytes >= 0

    # A cache key: hashable, and equal specs hash equal, however they were built.
    as_dict = spec.to_dict()
    again = ExperimentSpec(**as_dict)
    assert again == spec and hash(again) == hash(spec)
    assert spec.replace() == spec and hash(spec.replace()) == hash(spec)
    assert spec.replace(**as_dict) == spec
    from_json = ExperimentSpec(**json.loads(json.dumps(as_dict, allow_nan=False)))
    assert from_json == spec and hash(from_json) == hash(spec)
    assert {spec: 1}[again] == 1


@SETTINGS
@given(any_kwargs)
def test_any_field_values_are_refused_with_a_value_error_or_give_a_sound_spec(kwargs):
    spec = build(kwargs)
    if spec is not None:
        check_valid(spec)


@SETTINGS
@given(valid_kwargs())
def test_documented_valid_values_are_accepted_and_sound(kwargs):
    spec = ExperimentSpec(**kwargs)  # must not raise
    check_valid(spec)


@SETTINGS
@given(valid_kwargs(), st.sampled_from(FIELDS), st.data())
def test_replace_with_any_value_validates_like_construction(kwargs, field, data):
    spec = ExperimentSpec(**kwargs)
    value = data.draw(FIELD_VALUES[field], label=field)
    try:
        changed = spec.replace(**{field: value})
    except ValueError as exc:
        assert any(name in str(exc) for name in FIELDS), str(exc)
        return
    check_valid(changed)
    assert changed == ExperimentSpec(**{**kwargs, field: value})


@pytest.mark.parametrize("value", [10**400, -(10**5000), 2**1000], ids=["1e400", "-1e5000", "2^1000"])
@pytest.mark.parametrize("field", ["size", "tasks", "workers", "blas_threads"])
def test_huge_integers_give_a_short_message_not_an_overflow(field, value):
    with pytest.raises(ValueError, match=field) as info:
        ExperimentSpec(**{field: value})
    assert len(str(info.value)) < 200


@pytest.mark.parametrize("kwargs", [
    {"workload": ["fib"]}, {"workload": {"fib": 1}}, {"scheduler": ["threads"]}, {"reuse_pool": []},
    {"reuse_pool": "no", "scheduler": "processes"}, {"reuse_pool": 1, "scheduler": "processes"},
    {"ship_code": "no", "scheduler": "cluster-processes"}, {"ship_code": 0, "scheduler": "external",
                                                            "address": "tcp://h:1"},
    {"ship_code": False, "scheduler": "threads"},
    {"scheduler": "external", "address": 8786}, {"scheduler": "external", "address": ["tcp://h:1"]},
    {"scheduler": "external", "address": "tcp://127.0.0.1:8786\n"}, {"scheduler": "external", "address": "tcp://h:٨٧٨٦"},
    {"scheduler": "external", "address": "tcp://" + "h" * 10_000 + ":99999"},
])
def test_wrong_types_that_used_to_slip_through_or_crash(kwargs):
    """Regressions: each of these raised TypeError/AttributeError or built an unhashable spec."""
    with pytest.raises(ValueError) as info:
        ExperimentSpec(**kwargs)
    message = str(info.value)
    assert any(name in message for name in kwargs), message
    assert len(message) < 200, message


def test_replace_refuses_unknown_fields_with_a_value_error():
    with pytest.raises(ValueError, match="unknown spec field.*'nope'"):
        ExperimentSpec().replace(nope=1)


def test_integer_sizes_written_as_floats_are_the_same_cache_key():
    a, b = ExperimentSpec(size=30), ExperimentSpec(size=30.0)
    assert a == b and hash(a) == hash(b) and type(b.size) is int
    c, d = ExperimentSpec(workload="sleep", size=1), ExperimentSpec(workload="sleep", size=1.0)
    assert c == d and hash(c) == hash(d) and type(c.size) is float
