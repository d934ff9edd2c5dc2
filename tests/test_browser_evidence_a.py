"""The GIL trace and Interpreter & BLAS pages in headless Chromium, on the real app (render + one run each).

Uses the browser fixtures of ``tests/browser_fixtures.py``, which give this module its own server
(they are module-scoped), which is stopped, and checked for leaked processes, when the module ends.
"""

from __future__ import annotations

import contextlib

import pytest

from tests.browser_fixtures import RUN_MS, SCRIPT_BUSY_JS
from tests.browser_util import playwright_api

PlaywrightTimeoutError, expect = playwright_api()

pytestmark = pytest.mark.browser


def test_gil_trace_page_renders_and_runs(app):
    app.open_titled("gil_trace?trace-threads=2&trace-seconds=0.1", "GIL trace")
    run = app.page.get_by_role("button", name="Run experiment", exact=True)
    expect(run).to_have_count(1)
    app.assert_clean()
    run.click()
    with contextlib.suppress(PlaywrightTimeoutError):  # a fast run may be over before the first poll
        app.page.wait_for_function(SCRIPT_BUSY_JS, timeout=5_000, polling=50)
    app.page.get_by_text("parallel_fraction", exact=True).first.wait_for(timeout=RUN_MS)
    app.wait_script_done()
    app.assert_chart_drawn()
    # One chart per traced workload (python and numpy by default), each with its lanes.
    expect(app.page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(2)
    app.assert_clean()


def test_interpreter_page_renders_and_runs(app):
    app.open_titled("interpreter?blas-side=200&blas-tasks=2&blas-repeats=1", "Interpreter")
    expect(app.page.get_by_text("BLAS and OpenMP thread pools")).to_have_count(1)
    app.assert_clean()
    app.run_experiment()
    app.assert_chart_drawn()
    app.assert_clean()
