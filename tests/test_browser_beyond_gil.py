"""The Beyond the GIL page in a real browser: it renders, measures, and shows no error (one test, the server and
browser fixtures of tests/browser_fixtures.py)."""

from __future__ import annotations


def test_beyond_gil_page_renders_and_measures(app):
    app.open_titled("beyond_gil?bg-rounds=7", "Beyond the GIL")
    app.run_experiment()
    app.assert_chart_drawn()
    app.assert_clean()
