"""Browser and server plumbing shared by ``bench.app`` and ``bench.load``.

The server is ``tests.browser_util.StreamlitServer`` (``streamlit run streamlit_app.py --server.headless
true --server.port P`` in its own process group, stopped with its whole group); the browser is
headless Chromium (Debian's ``/usr/bin/chromium`` when present) with the tests' flags.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from tests.browser_util import CHROMIUM_ARGS, StreamlitServer, chromium_executable

__all__ = ["CHROMIUM_ARGS", "StreamlitServer", "chromium_executable", "launch_args", "start_server",
           "wait_healthy_fast", "tree_memory", "RENDERED_JS", "RESULTS_JS", "ERRORS_JS", "ARM_BUSY_JS",
           "SEEN_BUSY_JS",
           "NEW_RESULTS_JS", "RUN_IDS_JS"]

# The page has rendered: the script run is over and the page title (st.title -> h1) is on screen.
RENDERED_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const h1 = document.querySelector('h1');
    return !!h1 && h1.offsetParent !== null && h1.textContent.trim().length > 0;
}"""

# Results are on screen: the caption "Run <id> — measured …" (pages.shell.results.show).
RESULTS_JS = """() => Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
    .some(el => /^Run \\S+ — measured/.test(el.innerText.trim()))"""

# Texts of error boxes on the page (an exception, st.error), empty when clean.
ERRORS_JS = """() => Array.from(document.querySelectorAll(
        '[data-testid="stException"], [data-testid="stAlertContentError"]'))
    .map(el => el.innerText.slice(0, 500))"""

# Before a click: start recording whether the script goes busy (a MutationObserver sees every change of
# the state attribute, however brief, so even an instant cached rerun is caught).
ARM_BUSY_JS = """() => {
    window.__benchBusy = false;
    if (window.__benchObserver) window.__benchObserver.disconnect();
    const app = document.querySelector('[data-testid="stApp"]');
    window.__benchObserver = new MutationObserver(() => {
        if (app.getAttribute('data-test-script-state') !== 'notRunning') window.__benchBusy = true;
    });
    window.__benchObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

# After the click: the script went busy and is done again, with results on screen.
SEEN_BUSY_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return window.__benchBusy === true && !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
            .some(el => /^Run \\S+ — measured/.test(el.innerText.trim()));
}"""


def launch_args() -> dict[str, object]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    exe = chromium_executable()
    return {"executable_path": exe, "args": CHROMIUM_ARGS, "headless": True} if exe else {
        "args": CHROMIUM_ARGS, "headless": True}


def start_server(port: int, log_dir: Path) -> StreamlitServer:
    server = StreamlitServer(log_dir=log_dir, port=port)
    server.start()
    return server


def wait_healthy_fast(server: StreamlitServer, timeout_s: float = 90.0) -> None:
    """Like ``StreamlitServer.wait_healthy`` but polling every 50 ms, for start-up timing."""
    assert server.proc is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.proc.returncode}\n{server.logs()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as resp:
                if resp.read().decode(errors="replace").strip() == "ok":
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"streamlit not healthy at {server.url} after {timeout_s:.0f} s\n{server.logs()}")


def tree_memory(pid: int) -> dict[str, float]:
    """Memory of process ``pid`` and all its descendants, in MB (10⁶ bytes).

    ``rss_mb`` sums resident set sizes: shared pages (Python's own code, libraries) are counted once per
    process, so it overstates the total (an upper bound). ``uss_mb`` sums unique set sizes: memory that
    would be freed if the process exited (a lower bound). ``pss_mb`` shares each shared page among its
    users: the best single estimate of what the process tree really occupies.
    """
    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    totals = {"rss_mb": 0.0, "uss_mb": 0.0, "pss_mb": 0.0, "processes": 0.0}
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        totals["rss_mb"] += info.rss / 1e6
        totals["uss_mb"] += info.uss / 1e6
        totals["pss_mb"] += getattr(info, "pss", 0) / 1e6
        totals["processes"] += 1
    return totals

# Like SEEN_BUSY_JS, and the results are new: the run ids differ from ``before`` (the caption's text
# before the click, or null). A "Measure again" on a page already showing results must not count the
# old results as its own.
NEW_RESULTS_JS = """(before) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (window.__benchBusy !== true || !app || app.getAttribute('data-test-script-state') !== 'notRunning') {
        return false;
    }
    const el = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
        .find(e => /^Run \\S+ — measured/.test(e.innerText.trim()));
    return !!el && el.innerText.trim().split(' — ')[0] !== before;
}"""

# The "Run <id>" part of the results caption (before the " — measured …" tail), or null.
RUN_IDS_JS = """() => {
    const el = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
        .find(e => /^Run \\S+ — measured/.test(e.innerText.trim()));
    return el ? el.innerText.trim().split(' — ')[0] : null;
}"""
