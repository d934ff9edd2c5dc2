"""No start-up inside the first click: a fresh server starts the start page's process pool in the background.

Real parts: the real app through AppTest, a real spawn pool started by the app's warm start, the first click's
real comparison.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.engines import close_all_clusters
from core.engines.local import close_all_pools
from core.serve.slot import RUN_SLOT

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


@pytest.fixture
def fresh_server(monkeypatch):
    """The app as a fresh server's first visitor meets it: empty caches, the warm start on (its default)."""
    monkeypatch.setenv("GIL_LAB_WARM_START", "true")
    close_all_pools()
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
    close_all_pools()
    close_all_clusters()


def _warm_pools(workers: int) -> list[object]:
    """The app's warm pools of ``workers`` processes that have started."""
    from core.engines.local import LIVE_POOLS

    return [p for p in list(LIVE_POOLS) if p.workers == workers and p.pool is not None and not p.closed]


def _wait_for_the_slot(timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while RUN_SLOT.status().busy:
        assert time.monotonic() < deadline, f"the warm start still holds the slot: {RUN_SLOT.status().describe()}"
        time.sleep(0.1)


def test_the_first_click_finds_the_start_pages_pool_warm(fresh_server):
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()  # the first page of a fresh server: the warm start begins, holding the run slot
    assert not at.exception, [e.value for e in at.exception]
    # The warm start holds the slot while it starts the pool (about 0.4 s here with light workers, so it may be
    # over already): either it is still starting, or a started 4-worker pool is there.
    status = RUN_SLOT.status()
    assert (status.busy and status.label.startswith("starting 4 worker processes")) or _warm_pools(4), status
    _wait_for_the_slot()
    assert _warm_pools(4)
    [run] = [b for b in at.button if b.label == "Run experiment"]
    run.click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    result = at.session_state["last-start"]
    [pool] = [a for a in result.arms if a.spec.scheduler == "processes"]
    assert pool.spec.reuse_pool and pool.setup_s == 0  # started before the click, not inside it
    assert not any("Starting **processes" in s for s in result.explain())


def test_a_click_during_the_warm_start_waits_for_it_instead_of_paying_it(fresh_server):
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    t0 = time.monotonic()
    [run] = [b for b in at.button if b.label == "Run experiment"]
    run.click().run()  # at once: the warm start is still going
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    result = at.session_state["last-start"]
    [pool] = [a for a in result.arms if a.spec.scheduler == "processes"]
    assert pool.setup_s == 0, "the click started its own pool instead of waiting for the warm one"
    assert time.monotonic() - t0 < 170


def test_the_warm_start_is_off_when_the_setting_says_so(monkeypatch):
    monkeypatch.setenv("GIL_LAB_WARM_START", "false")
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert not RUN_SLOT.status().busy
    st.cache_resource.clear()
