"""End-to-end: the real GIL Lab app, served by ``streamlit run``, driven in headless Chromium.

One server and one browser for the whole module; a fresh browser context per test. Runs are kept
tiny through the widgets' URL query parameters. At teardown the server's whole process group is
stopped and every process it had started (Dask LocalCluster workers, process pools) must be gone:
that is the app's process-leak test.
"""

from __future__ import annotations

import contextlib
import re

import pytest

from tests.browser_fixtures import PAGE_NOT_FOUND, RUN_IDS, RUN_MS, fresh_server
from tests.browser_util import playwright_api

PlaywrightTimeoutError, expect = playwright_api()

pytestmark = pytest.mark.browser

PAGES = {
    "": "GIL Lab",
    "cpu_bound": "CPU-bound",
    "io_bound": "I/O-bound",
    "numpy_gil": "NumPy",
    "local_cluster": "LocalCluster",
    "takeaways": "Takeaways",
}
RUN_BUTTONS = {"": 1, "cpu_bound": 1, "io_bound": 1, "numpy_gil": 2, "local_cluster": 1, "takeaways": 4}

# --- the tests -------------------------------------------------------------------------------------


def test_deep_link_on_fresh_server(chromium, tmp_path_factory):
    """A visitor whose shared link wakes the server lands on their page, under the router.

    Until ``st.navigation`` has run once, Streamlit treats ``pages/`` as an old-style multipage folder
    and would run the page file alone (no shared sidebar) or say "Page not found"; ``pages/shell/__init__.py``
    switches that off on first import and reruns.
    """
    with fresh_server(chromium, tmp_path_factory.mktemp("streamlit-fresh")) as ui:
        ui.open("cpu_bound?n=21")
        expect(ui.page.locator("h1").first).to_contain_text("CPU-bound")
        sidebar = ui.page.get_by_test_id("stSidebarUserContent")
        expect(sidebar.get_by_text("This machine", exact=True)).to_be_visible()  # the router's sidebar
        expect(ui.page.get_by_role("link", name="Overhead anatomy")).to_have_count(1)  # its navigation
        assert ui.page.locator(PAGE_NOT_FOUND).count() == 0
        assert "n=21" in ui.page.url  # the settings in the link survived
        ui.assert_clean()


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "default")
def test_page_renders(app, path):
    app.open_titled(path, PAGES[path])
    expect(app.page.get_by_role("button", name="Run experiment", exact=True)).to_have_count(RUN_BUTTONS[path])
    if path == "":
        app.assert_chart_drawn()  # the schematic, before any run
    app.assert_clean()


def test_cpu_bound_run(app):
    app.open("cpu_bound?n=20&tasks=2&workers=2&rounds=7")
    app.run_experiment()
    app.assert_chart_drawn()
    app.assert_clean()


def test_rounds_arrive_live_and_the_verdicts_are_shown(app):
    """The rounds show up while they are measured (the latest about once a second: numbers on screen long before
    the end), then the verdicts."""
    app.open("cpu_bound?n=24&tasks=2&workers=2&rounds=40")  # ~2-3 s: the live view is drawn about once a second
    app.page.get_by_role("button", name="Run experiment", exact=True).click()
    live = app.page.get_by_text(re.compile(r"^Round \d+ — verdicts so far"))
    seen: set[str] = set()
    done = app.page.get_by_text(RUN_IDS)
    while not done.count():
        with contextlib.suppress(PlaywrightTimeoutError):
            live.first.wait_for(timeout=1_000)
            seen.add(live.first.inner_text(timeout=1_000).split(" —")[0])
    assert len(seen) >= 2, f"the page showed no live rounds before the results (saw {seen})"
    app.wait_script_done()
    body = app.page.locator("body").inner_text()
    assert re.search(r"\b(faster|same|slower|undecided)\b", body) and "95 % CI" in body
    assert "other programs used" in body  # the noise line beside the comparison
    app.assert_chart_drawn()
    app.assert_clean()


def test_io_bound_run(app):
    app.open("io_bound?sleep=0.1&tasks=2&workers=2&rounds=7")
    app.run_experiment()
    app.assert_chart_drawn()
    app.assert_clean()


def test_local_cluster_run(app):
    app.open("local_cluster?n=18&tasks=2&t-workers=1&t-threads=2&p-workers=2&p-threads=1&rounds=7")
    app.run_experiment()
    app.assert_chart_drawn()
    app.assert_clean()


def test_local_cluster_map_pitfall(app):
    app.open("local_cluster?n=18&tasks=2&t-workers=1&t-threads=2&p-workers=2&p-threads=1&rounds=7")
    app.page.get_by_role("button", name="Count the tasks client.map really runs").click()
    app.page.get_by_text("1 task run", exact=True).wait_for(timeout=RUN_MS)
    app.wait_script_done()
    app.assert_clean()


def test_numpy_kernel_run(app):
    app.open("numpy_gil?kernel=numpy-sort&size-numpy-sort=1&np-tasks=2&np-workers=2&rounds=7")
    app.run_experiment(nth=0)  # the kernel's button; the second one is the data-transfer section's
    app.assert_chart_drawn()
    app.assert_clean()


def test_bad_query_params_fall_back(app):
    app.open_titled("cpu_bound?n=banana&tasks=9999", "CPU-bound")
    expect(app.page.get_by_role("button", name="Run experiment", exact=True)).to_have_count(1)
    app.assert_clean()
    # The sliders ignored the bad values: each shows a number from its own range.
    for label in ("fib n", "Tasks"):
        slider = app.page.locator(f'input[type="range"][aria-label="{label}"]')
        expect(slider).to_have_count(1)
        value, low, high = (slider.get_attribute(a) for a in ("value", "min", "max"))
        assert float(low) <= float(value) <= float(high), f"slider {label!r} shows {value} (range {low}-{high})"
