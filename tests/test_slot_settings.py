"""The run slot (one experiment at a time, observable, abandonable) and the settings loader."""

from __future__ import annotations

import threading
import time

import pytest

from core import ExperimentSpec
from core.serve.settings import LOCAL_DEFAULTS, SHARED_DEFAULTS, Settings, load_settings
from core.serve.slot import RunSlot, SlotBusy, SlotStatus

# --- the slot --------------------------------------------------------------------------------------


def _hold_in_thread(slot: RunSlot, seconds: float, label: str = "holder", estimate_s: float = 10.0):
    entered = threading.Event()

    def body() -> None:
        with slot.hold(label, estimate_s):
            entered.set()
            time.sleep(seconds)

    t = threading.Thread(target=body)
    t.start()
    assert entered.wait(10)
    return t


def test_a_waiter_is_told_who_holds_the_slot_and_gets_it_after():
    slot = RunSlot()
    seen: list[SlotStatus] = []
    holder = _hold_in_thread(slot, 0.6, label="fib n = 30 × 4 on threads")
    with slot.hold("me", on_wait=seen.append, poll_s=0.05) as waited:
        assert slot.held_by_me
        assert slot.status().label == "me"
    holder.join()
    assert seen and seen[0].busy and seen[0].label == "fib n = 30 × 4 on threads"
    assert seen[0].waiting == 1 and 0 < seen[0].remaining_s <= 10
    assert "fib n = 30" in seen[0].describe()
    assert waited > 0.2  # it really waited for the holder
    assert not slot.status().busy


def test_giving_up_raises_slot_busy_with_the_holder_named():
    slot = RunSlot()
    holder = _hold_in_thread(slot, 1.0, label="a long sort")
    with pytest.raises(SlotBusy, match="a long sort"), slot.hold("me", max_wait_s=0.2, poll_s=0.05):
        pytest.fail("must not get the slot while it is held")
    holder.join()
    assert slot.status().waiting == 0


def test_a_waiter_that_leaves_holds_nothing():
    """Streamlit stops a script by raising from its calls: a waiter whose on_wait raises must leave cleanly."""
    slot = RunSlot()
    holder = _hold_in_thread(slot, 0.5)

    class SessionGone(BaseException):
        pass

    def leave(status: SlotStatus) -> None:
        raise SessionGone

    with pytest.raises(SessionGone), slot.hold("leaver", on_wait=leave):
        pytest.fail("must not get the slot")
    holder.join()
    assert not slot.status().busy and slot.status().waiting == 0
    with slot.hold("next", max_wait_s=1):  # and the slot is free for the next one
        pass


def test_the_slot_is_reentrant_for_its_holder_and_released_on_errors():
    slot = RunSlot()
    with pytest.raises(RuntimeError), slot.hold("outer", 5):
        with slot.hold("inner") as waited:
            assert waited == 0 and slot.status().label == "outer"
        assert slot.held_by_me
        raise RuntimeError("boom")
    assert not slot.status().busy


def test_two_experiments_started_together_never_overlap():
    """Real runs from two threads through the one run path: sleeping tasks would overlap freely, so only the
    slot can serialise them."""
    from core.kinds import kind_of
    from core.kinds.base import measure

    spec = ExperimentSpec(workload="sleep", size=0.3, tasks=2, scheduler="threads", workers=2, repeats=1)
    results = []

    def go() -> None:
        results.append(measure(kind_of(spec), spec))

    threads = [threading.Thread(target=go) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.perf_counter() - t0
    assert len(results) == 2
    # Overlapping, both would be done in ~one run's wall; one after the other they need both.
    assert elapsed >= 0.9 * sum(r.wall_s for r in results), (elapsed, [r.wall_s for r in results])


# --- settings --------------------------------------------------------------------------------------


def test_defaults_are_the_safe_shared_ones():
    s = load_settings(secrets={}, environ={})
    assert s == SHARED_DEFAULTS and not s.allow_external_cluster and not s.warnings
    assert s.local_limit("threads") == 30 and s.local_limit("cluster-processes") == 45


def test_local_mode_raises_the_limits_and_env_beats_secrets():
    s = load_settings(secrets={"mode": "local", "max_seconds": 100}, environ={"GIL_LAB_MAX_SECONDS": "200"})
    assert s.mode == "local" and s.max_seconds == 200 and s.allow_external_cluster
    assert s.max_local_seconds == LOCAL_DEFAULTS.max_local_seconds
    table = load_settings(secrets={"gil_lab": {"allow_external_cluster": True}}, environ={})
    assert table.allow_external_cluster and table.mode == "shared"


@pytest.mark.parametrize("name,value", [
    ("GIL_LAB_MAX_SECONDS", "lots"), ("GIL_LAB_MAX_SECONDS", "-5"), ("GIL_LAB_MAX_SECONDS", "nan"),
    ("GIL_LAB_MAX_SECONDS", "1e400"), ("GIL_LAB_MEMORY_FRACTION", "2"), ("GIL_LAB_ALLOW_EXTERNAL_CLUSTER", "maybe"),
    ("GIL_LAB_MODE", "production; rm -rf /"),
])
def test_bad_values_are_ignored_with_a_warning(name, value):
    s = load_settings(secrets=None, environ={name: value})
    assert s.warnings and any(value[:20] in w for w in s.warnings)
    assert s.max_seconds == SHARED_DEFAULTS.max_seconds and s.memory_fraction == SHARED_DEFAULTS.memory_fraction
    assert not s.allow_external_cluster


def test_settings_validate_when_built_directly():
    with pytest.raises(ValueError, match="max_seconds"):
        Settings(max_seconds=0)
    with pytest.raises(ValueError, match="mode"):
        Settings(mode="open")  # type: ignore[arg-type]


def test_waiters_queue_first_come_first_served_and_know_their_place_and_wait():
    """A class clicking at once: each waiter is told its place and the honest wait (the holder's time left plus
    every run ahead of it), and the slot goes to them in the order they came."""
    slot = RunSlot()
    holder = _hold_in_thread(slot, 0.8, label="the running one", estimate_s=30.0)
    order: list[str] = []
    seen: dict[str, list[SlotStatus]] = {"first": [], "second": []}
    lock = threading.Lock()

    def wait(name: str, estimate: float) -> None:
        with slot.hold(name, estimate, on_wait=seen[name].append, check_s=0.05), lock:
            order.append(name)

    first = threading.Thread(target=wait, args=("first", 20.0))
    first.start()
    deadline = time.monotonic() + 5
    while not seen["first"] and time.monotonic() < deadline:
        time.sleep(0.01)
    second = threading.Thread(target=wait, args=("second", 10.0))
    second.start()
    for t in (holder, first, second):
        t.join(10)
    assert order == ["first", "second"]
    assert seen["first"][0].place == 1 and 25 < seen["first"][0].wait_s <= 30
    # The second one, when it joined, had the holder's 30 s (less what it had run) and the first one's 20 s ahead.
    joined = seen["second"][0]
    assert joined.place == 2 and 45 < joined.wait_s <= 50 and "number 2 in the queue" in joined.describe()


def test_a_waiter_draws_rarely_and_checks_cheaply():
    """Waiting costs (almost) nothing: ``on_wait`` (which draws a page) is called when the place changes and then only
    every ``refresh_s``, while the cheap ``should_stop`` probe is asked every ``check_s``."""
    slot = RunSlot()
    holder = _hold_in_thread(slot, 1.0)
    draws: list[SlotStatus] = []
    checks = [0]

    def probe() -> bool:
        checks[0] += 1
        return False

    with slot.hold("me", on_wait=draws.append, should_stop=probe, check_s=0.05, refresh_s=30.0):
        pass
    holder.join()
    assert len(draws) == 1, draws  # told once when it joined; nothing changed after
    assert checks[0] >= 5


def test_a_waiter_whose_session_went_away_gives_up_and_holds_nothing():
    slot = RunSlot()
    holder = _hold_in_thread(slot, 1.0)
    with pytest.raises(SlotBusy, match="went away"), slot.hold("gone", should_stop=lambda: True, check_s=0.05):
        pytest.fail("must not get the slot")
    holder.join()
    assert slot.status().waiting == 0


def test_a_hand_over_does_not_make_every_waiter_redraw():
    """When the slot changes hands every waiter's place changes at once: only the one who is now next is told then
    (all of them redrawing in the measuring process would land on the first rounds of the run that just began)."""
    slot = RunSlot()
    holder = _hold_in_thread(slot, 0.6, label="the running one", estimate_s=5.0)
    seen: dict[str, list[SlotStatus]] = {name: [] for name in ("a", "b", "c")}

    def wait(name: str) -> None:
        with slot.hold(name, 1.0, on_wait=seen[name].append, check_s=0.02, refresh_s=30.0):
            time.sleep(0.3)

    threads = []
    for name in ("a", "b", "c"):
        t = threading.Thread(target=wait, args=(name,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while not seen[name] and time.monotonic() < deadline:
            time.sleep(0.01)
    for t in (holder, *threads):
        t.join(10)
    # c joined third and was told then, when b got the slot (c became next) and never in between: a's turn
    # moved c from place 3 to 2 without a word.
    assert [s.place for s in seen["c"]] == [3, 1], [s.place for s in seen["c"]]
    assert [s.place for s in seen["b"]] == [2, 1], [s.place for s in seen["b"]]
