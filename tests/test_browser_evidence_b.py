"""The Overhead anatomy and Scaling & data transfer pages in headless Chromium (render + one small run each).

The browser fixtures of ``tests/browser_fixtures.py`` give this module its own server (they are
module-scoped), stopped and checked for leaked processes when the module ends.
"""

from __future__ import annotations

import contextlib

import pytest

from tests.browser_fixtures import RUN_MS, SCRIPT_BUSY_JS
from tests.browser_util import playwright_api

PlaywrightTimeoutError, expect = playwright_api()

pytestmark = pytest.mark.browser

CHARTS = '[data-testid="stVegaLiteChart"]'


def _open(app, path: str, title: str) -> None:
    app.open_titled(path, title)
    app.assert_clean()


def test_overhead_page_measures_per_task_cost(app):
    _open(app, "overhead?pt-tasks=100&pt-repeats=1&pt-engines=sync&pt-engines=threads", "Overhead anatomy")
    expect(app.page.locator(CHARTS)).to_have_count(0)  # a page load measures nothing
    app.page.get_by_role("button", name="Run experiment", exact=True).first.click()
    with contextlib.suppress(PlaywrightTimeoutError):  # a fast run may be over before the first poll
        app.page.wait_for_function(SCRIPT_BUSY_JS, timeout=5_000, polling=50)
    app.page.locator(CHARTS).first.wait_for(timeout=RUN_MS)
    app.wait_script_done()
    app.assert_chart_drawn()
    app.assert_clean()


def test_scaling_page_runs_a_small_transfer_sweep(app):
    _open(app, "scaling?xf-engines=threads&xf-engines=processes&xf-sizes=1&xf-tasks=2&xf-workers=2&xf-repeats=1",
          "Scaling")
    expect(app.page.locator(CHARTS)).to_have_count(0)
    # The second panel on the page (data transfer).
    app.page.get_by_role("button", name="Run experiment", exact=True).nth(1).click()
    with contextlib.suppress(PlaywrightTimeoutError):
        app.page.wait_for_function(SCRIPT_BUSY_JS, timeout=5_000, polling=50)
    app.page.locator(CHARTS).first.wait_for(timeout=RUN_MS)
    app.wait_script_done()
    app.assert_chart_drawn()
    app.assert_clean()
