"""The browser tests' server, browser and tab fixtures, shared by every tests/test_browser*.py module.

Registered as a plugin in ``tests/conftest.py``, so the modules ask for ``app``, ``app_server`` and
``chromium`` by name without importing them from each other. The server and the browser are
module-scoped: each browser module gets its own server, stopped, and checked for leaked processes,
when the module ends. Playwright is imported only inside the fixtures: the other tests never need it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser_util import (
    CHROMIUM_ARGS,
    StreamlitServer,
    bundled_chromium_available,
    chromium_executable,
)

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
# How many "Run experiment" buttons each page shows before any run.

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
    from playwright.sync_api import sync_playwright

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

    page: Any  # playwright's Page
    base_url: str
    errors: list[str] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base_url}/{path}", wait_until="domcontentloaded", timeout=PAGE_LOAD_MS)
        self.page.wait_for_selector('[data-testid="stApp"]', timeout=PAGE_LOAD_MS)
        self.wait_script_done()

    def open_titled(self, path: str, title: str) -> None:
        """Open ``path`` and check its page title holds ``title`` (else it is the wrong page, or not found)."""
        self.open(path)
        heading = self.page.locator("h1").first
        heading.wait_for(timeout=PAGE_LOAD_MS)
        shown = heading.inner_text()
        assert title in shown, f"/{path} shows {shown!r}: wrong page (or not found)"

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
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        with contextlib.suppress(PlaywrightTimeoutError):
            self.page.wait_for_function(SCRIPT_BUSY_JS, timeout=5_000, polling=50)
        self.page.get_by_text(RUN_IDS).first.wait_for(timeout=RUN_MS)
        self.wait_script_done()


@contextlib.contextmanager
def fresh_server(browser, log_dir: Path, env: dict[str, str] | None = None) -> Any:
    """A server of its own, started now (its first visitor is the test's), and one tab on it: yields the tab.

    On the way out the tab is closed and the server stopped; a server that leaves a process behind fails.
    """
    server = StreamlitServer(log_dir=log_dir, env=env or {})
    server.start()
    try:
        server.wait_healthy(timeout_s=60)
        context, ui = new_app_page(browser, server.url)
        try:
            yield ui
        finally:
            context.close()
    finally:
        assert not server.stop(), "the fresh server left processes behind"


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
