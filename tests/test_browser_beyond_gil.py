"""The Beyond the GIL page in a real browser: it renders, measures, and shows no error (one test, the server and
browser fixtures of tests/browser_fixtures.py)."""

from __future__ import annotations

from tests.browser_fixtures import PAGE_LOAD_MS


def test_beyond_gil_page_renders_and_measures(app):
    app.open("beyond_gil?bg-rounds=7")
    title = app.page.locator("h1").first
    title.wait_for(timeout=PAGE_LOAD_MS)
    assert "Beyond the GIL" in title.inner_text()
    app.run_experiment()
    app.assert_chart_drawn()
    app.assert_clean()
