"""End-to-end: the real GIL Lab app, served by ``streamlit run``, driven in headless Chromium.

One server and one browser for the whole module; a fresh browser context per test. Runs are kept
tiny through the widgets' URL query parameters. At teardown the server's whole process group is
stopped and every process it had started (Dask LocalCluster workers, process pools) must be gone:
that is the app's process-leak test.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser_util import (
    CHROMIUM_ARGS,
    StreamlitServer,
    bundled_chromium_available,
    chromium_executable,
)

try:
    from playwright.sync_api import Page, expect, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
except ImportError:  # a developer without the dev requirements; CI must never get here quietly
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)", allow_module_level=True)

pytestmark = pytest.mark.browser

PAGE_LOAD_MS = 60_000
RUN_MS = 120_000
CHART_MS = 30_000

PAGE_NOT_FOUND = '[role="dialog"]:has-text("Page not found")'
ERROR_SELECTORS = {
    "exception box": '[data-testid="stException"]',
    "error alert": '[data-testid="stAlertContentError"]',
    "'Page not found' dialog": PAGE_NOT_FOUND,
}

# Known app bugs, each xfailed at the one assertion it breaks (so every other check still counts).

# url path -> a word its title must contain (the default page is served at "" only).
PAGES = {
    "": "GIL Lab",
    "cpu_bound": "CPU-bound",
    "io_bound": "I/O-bound",
    "numpy_gil": "NumPy",
    "local_cluster": "LocalCluster",
    "takeaways": "Takeaways",
}
# How many "Run experiment" buttons each page shows before any run.
RUN_BUTTONS = {"": 1, "cpu_bound": 1, "io_bound": 1, "numpy_gil": 2, "local_cluster": 1, "takeaways": 4}

RUN_IDS = re.compile(r"^Run \w+ — measured")

SCRIPT_BUSY_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') !== 'notRunning';
}"""
SCRIPT_DONE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning';
}"""

# Streamlit flips the script state to "notRunning" a little before React has drawn the last elements:
# resolve once the DOM has not changed for quietMs (or after maxMs, for pages that animate forever).
SETTLE_JS = """([quietMs, maxMs]) => new Promise(resolve => {
    let timer;
    const done = () => { observer.disconnect(); clearTimeout(cap); resolve(true); };
    const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(done, quietMs); });
    observer.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
    timer = setTimeout(done, quietMs);
    const cap = setTimeout(done, maxMs);
})"""

# True once some Vega-Lite chart has drawn a canvas or svg with a nonzero size (vega-embed is async).
CHART_DRAWN_JS = """() => Array.from(document.querySelectorAll('[data-testid="stVegaLiteChart"]')).some(chart =>
    Array.from(chart.querySelectorAll('canvas, svg')).some(el => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0;
    }))"""


# --- the server and the browser --------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    server = StreamlitServer(log_dir=tmp_path_factory.mktemp("streamlit-server"))
    server.start()
    try:
        server.wait_healthy(timeout_s=60)
    except BaseException:
        server.stop()
        raise
    yield server
    survivors = server.stop(term_grace_s=15, child_grace_s=10)
    assert not survivors, (
        "processes started by the app survived the server's shutdown (now killed):\n  "
        + "\n  ".join(survivors) + f"\n{server.logs()}"
    )
    if server.needed_sigkill:
        import warnings

        warnings.warn("the Streamlit server ignored SIGTERM for 15 s and had to be SIGKILLed", stacklevel=1)


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as p:
        exe = chromium_executable()
        if exe is None and not bundled_chromium_available(p):
            msg = ("no Chromium: install Debian's (apt-get install -y chromium -> /usr/bin/chromium)"
                   " or Playwright's (python -m playwright install chromium)")
            if os.environ.get("CI"):
                pytest.fail(msg + "; browser tests must not be skipped in CI", pytrace=False)
            pytest.skip(msg)
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class AppPage:
    """One browser tab on the app, with the JavaScript errors it has raised so far."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base_url}/{path}", wait_until="domcontentloaded", timeout=PAGE_LOAD_MS)
        self.page.wait_for_selector('[data-testid="stApp"]', timeout=PAGE_LOAD_MS)
        self.wait_script_done()

    def wait_script_done(self, timeout_ms: int = RUN_MS) -> None:
        """Wait until the script run has finished and its output is on screen."""
        self.page.wait_for_function(SCRIPT_DONE_JS, timeout=timeout_ms)
        self.page.evaluate(SETTLE_JS, [750, 8000])

    def assert_clean(self) -> None:
        """No exception box, no error alert, no uncaught JavaScript error."""
        for what, selector in ERROR_SELECTORS.items():
            found = self.page.locator(selector)
            if found.count():
                texts = "\n---\n".join(t[:2000] for t in found.all_inner_texts())
                pytest.fail(f"{what} on {self.page.url}:\n{texts}", pytrace=False)
        assert not self.errors, f"JavaScript errors on {self.page.url}: {self.errors}"

    def assert_chart_drawn(self) -> None:
        self.page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=CHART_MS)
        self.page.wait_for_function(CHART_DRAWN_JS, timeout=CHART_MS)

    def run_experiment(self, nth: int = 0) -> None:
        """Press the nth "Run experiment" button and wait for the rerun and its results ("Run ids: …")."""
        self.page.get_by_role("button", name="Run experiment", exact=True).nth(nth).click()
        # Catch the rerun starting, so that results already on screen (cached settings) are not mistaken
        # for this run's; a run so fast that it is over before the first poll needs no waiting for.
        with contextlib.suppress(PlaywrightTimeoutError):
            self.page.wait_for_function(SCRIPT_BUSY_JS, timeout=5_000, polling=50)
        self.page.get_by_text(RUN_IDS).first.wait_for(timeout=RUN_MS)
        self.wait_script_done()


def new_app_page(browser, base_url: str) -> tuple[object, AppPage]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(PAGE_LOAD_MS)
    ui = AppPage(page, base_url)
    page.on("pageerror", lambda exc: ui.errors.append(str(exc)))
    return context, ui


@pytest.fixture
def app(chromium, app_server, request, tmp_path_factory):
    if not app_server.warmed:
        # The first session after a server start must enter through the main page, or Streamlit shows a
        # spurious "Page not found" (see test_deep_link_on_fresh_server). Every later session may deep-link.
        context, ui = new_app_page(chromium, app_server.url)
        ui.open("")
        context.close()
        app_server.warmed = True
    context, ui = new_app_page(chromium, app_server.url)
    page = ui.page
    failed_before = request.session.testsfailed
    yield ui
    if request.session.testsfailed > failed_before:  # this test's call phase failed: keep a picture
        shots = Path(os.environ.get("BROWSER_SHOTS_DIR") or tmp_path_factory.getbasetemp() / "browser-shots")
        shots.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name) + ".png"
        try:
            page.screenshot(path=str(shots / name), full_page=True)
            print(f"\nscreenshot of the failure: {shots / name}")
        except Exception as exc:  # a screenshot is a courtesy; never mask the real failure
            print(f"\nno screenshot: {exc}")
    context.close()


# --- the tests -------------------------------------------------------------------------------------


def test_deep_link_on_fresh_server(chromium, tmp_path_factory):
    """A visitor whose shared link wakes the server lands on their page, under the router.

    Until ``st.navigation`` has run once, Streamlit treats ``pages/`` as an old-style multipage folder
    and would run the page file alone (no shared sidebar) or say "Page not found"; ``pages/common.py``
    switches that off on first import and reruns.
    """
    server = StreamlitServer(log_dir=tmp_path_factory.mktemp("streamlit-fresh"))
    server.start()
    try:
        server.wait_healthy(timeout_s=60)
        context, ui = new_app_page(chromium, server.url)
        try:
            ui.open("cpu_bound?n=21")
            expect(ui.page.locator("h1").first).to_contain_text("CPU-bound")
            sidebar = ui.page.get_by_test_id("stSidebarUserContent")
            expect(sidebar.get_by_text("This machine", exact=True)).to_be_visible()  # the router's sidebar
            expect(ui.page.get_by_role("link", name="Overhead anatomy")).to_have_count(1)  # its navigation
            assert ui.page.locator(PAGE_NOT_FOUND).count() == 0
            assert "n=21" in ui.page.url  # the settings in the link survived
            ui.assert_clean()
        finally:
            context.close()
    finally:
        assert not server.stop(), "the fresh server left processes behind"


@pytest.mark.parametrize("path", list(PAGES), ids=lambda p: p or "default")
def test_page_renders(app, path):
    app.open(path)
    title = app.page.locator("h1").first
    title.wait_for(timeout=PAGE_LOAD_MS)
    assert PAGES[path] in title.inner_text(), f"/{path} shows {title.inner_text()!r}: wrong page (or not found)"
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
    app.open("cpu_bound?n=banana&tasks=9999")
    title = app.page.locator("h1").first
    title.wait_for(timeout=PAGE_LOAD_MS)
    assert "CPU-bound" in title.inner_text()
    expect(app.page.get_by_role("button", name="Run experiment", exact=True)).to_have_count(1)
    app.assert_clean()
    # The sliders ignored the bad values: each shows a number from its own range.
    for label in ("fib n", "Tasks"):
        slider = app.page.locator(f'input[type="range"][aria-label="{label}"]')
        expect(slider).to_have_count(1)
        value, low, high = (slider.get_attribute(a) for a in ("value", "min", "max"))
        assert float(low) <= float(value) <= float(high), f"slider {label!r} shows {value} (range {low}-{high})"
