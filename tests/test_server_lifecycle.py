"""The real app's processes over a server's life: bounded while it serves, all gone after SIGTERM.

``streamlit run`` is started in its own process group and driven in headless Chromium. A
``LocalCluster(processes=True)`` run starts worker processes (children of the server); reloads, page
switches, a fresh measurement and a closed browser session must not add to them (clusters are cached
per shape, pools close after each run). Then the server alone gets SIGTERM, as a container runtime or
``systemctl stop`` would send it, in the middle of a cluster run: the server must exit and every
process it ever started must be gone within ~15 s, without anyone signalling the children.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time

import psutil
import pytest

from tests.browser_util import (
    StreamlitServer,
    playwright_api,
    tail,
)
from tests.helpers import alive as _alive

PlaywrightTimeoutError, _ = playwright_api()

pytestmark = pytest.mark.browser

PAGE_MS = 60_000
RUN_MS = 120_000
EXIT_GRACE_S = 15
# Small settings: a 2-worker processes=True cluster (plus a 1×2 processes=False one, in-process).
CLUSTER_PAGE = "local_cluster?n=18&tasks=2&t-workers=1&t-threads=2&p-workers=2&p-threads=1&rounds=7"
# Same clusters, several seconds of fib per engine: SIGTERM lands while the processes=True workers compute.
LONG_RUN_PAGE = "local_cluster?n=27&tasks=16&t-workers=1&t-threads=2&p-workers=2&p-threads=1&rounds=10"

SCRIPT_DONE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning';
}"""


def _cmd(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:160]
    except psutil.Error:
        return "?"


def descendants(server: StreamlitServer) -> dict[int, str]:
    """Live descendants of the server: pid -> command line."""
    return {p.pid: _cmd(p) for p in server.children() if _alive(p)}


def workers(procs: dict[int, str]) -> set[int]:
    """The spawned worker processes among ``procs`` (LocalCluster workers, process pools)."""
    return {pid for pid, cmd in procs.items() if "spawn_main" in cmd}


def wait_until_computing(pids: set[int], timeout_s: float) -> float | None:
    """Wait until one of ``pids`` burns CPU (more than half of a 0.25 s window); None on timeout."""
    procs = [psutil.Process(pid) for pid in pids]

    def cpu() -> list[float]:
        out = []
        for proc in procs:
            try:
                times = proc.cpu_times()
                out.append(times.user + times.system)
            except psutil.Error:
                out.append(0.0)
        return out

    deadline = time.monotonic() + timeout_s
    last = cpu()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu()
        if any(b - a > 0.125 for a, b in zip(last, now, strict=True)):
            return time.monotonic()
        last = now
    return None


def describe(procs: dict[int, str]) -> str:
    return "\n  ".join(f"{pid}: {cmd}" for pid, cmd in sorted(procs.items())) or "(none)"


class Tab:
    def __init__(self, browser, base_url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(PAGE_MS)
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.page.goto(f"{self.base_url}/{path}", wait_until="domcontentloaded")
        self.page.wait_for_selector('[data-testid="stApp"]')
        self.wait_done()

    def wait_done(self, timeout_ms: int = RUN_MS) -> None:
        self.page.wait_for_function(SCRIPT_DONE_JS, timeout=timeout_ms)
        self.page.wait_for_timeout(500)  # the last elements are drawn a moment after the state flips

    def press(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).first.click()
        with contextlib.suppress(PlaywrightTimeoutError):  # the rerun starting (too fast to see is fine)
            self.page.wait_for_function(f"() => !({SCRIPT_DONE_JS})()", timeout=5_000, polling=50)

    def run(self, name: str = "Run experiment") -> None:
        self.press(name)
        self.page.get_by_text(re.compile(r"^Run \w+ — measured")).first.wait_for(timeout=RUN_MS)
        self.wait_done()

    def close(self) -> None:
        self.context.close()


def test_processes_stay_bounded_and_sigterm_leaves_nothing(chromium, tmp_path):
    # The long run must never be refused: its estimate comes from a calibration at the server's start, and one
    # made in a busy moment of CI put it over the shared default budget (its Run button disabled).
    server = StreamlitServer(log_dir=tmp_path, env={"GIL_LAB_MAX_SECONDS": "600", "GIL_LAB_MAX_LOCAL_SECONDS": "600"})
    server.start()
    try:
        server.wait_healthy(timeout_s=60)
        tab = Tab(chromium, server.url)
        tab.open("")  # a fresh server's first session enters through the main page (see test_browser)
        tab.open(CLUSTER_PAGE)
        tab.run()
        after_run = descendants(server)
        cluster_workers = workers(after_run)
        assert len(cluster_workers) >= 2, f"expected the 2 cluster workers among:\n  {describe(after_run)}"
        bound = len(after_run)

        def check(step: str) -> None:
            now = descendants(server)
            assert len(now) <= bound, f"after {step}: {len(now)} processes, was {bound}:\n  {describe(now)}"
            assert workers(now) <= cluster_workers, f"after {step}: new worker processes:\n  {describe(now)}"

        for i in range(2):
            tab.page.reload(wait_until="domcontentloaded")
            tab.wait_done()
            check(f"reload {i + 1}")
            for path in ("cpu_bound", "takeaways"):
                tab.open(path)
            tab.open(CLUSTER_PAGE)
            check(f"page switches, round {i + 1}")
        tab.run("Measure again")  # a fresh measurement on the same cached clusters
        check("a second measurement")
        tab.close()  # the session ends; the clusters are cached for the next visitor, not restarted
        time.sleep(1)
        check("the session ended")

        # SIGTERM the server alone, in the middle of a cluster run.
        tab = Tab(chromium, server.url)
        tab.open(LONG_RUN_PAGE)
        tab.press("Run experiment")
        busy_since = wait_until_computing(cluster_workers, timeout_s=120)
        assert busy_since is not None, f"the cluster workers never started computing\n{server.logs()}"
        before = descendants(server)
        os.kill(server.proc.pid, signal.SIGTERM)
        try:
            code = server.proc.wait(timeout=EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server ignored SIGTERM for {EXIT_GRACE_S} s\n{server.logs()}")
        tab.close()
        procs = [psutil.Process(pid) for pid in before if psutil.pid_exists(pid)]
        _, alive = psutil.wait_procs(procs, timeout=EXIT_GRACE_S)
        alive = [p for p in alive if _alive(p)]
        assert not alive, (
            f"processes outlived the server (exit code {code}) by {EXIT_GRACE_S} s:\n  "
            + describe({p.pid: _cmd(p) for p in alive}) + f"\n{server.logs()}"
        )
        # The clusters were closed by the app's exit hook, not torn down under a dying interpreter.
        log = tail(server.stderr_path, 20_000).splitlines()
        errors = [line for line in log if "distributed" in line and "ERROR" in line]
        assert not errors, "distributed logged errors while the server stopped:\n" + "\n".join(errors)
    finally:
        survivors = server.stop(term_grace_s=10, child_grace_s=5)
    assert not survivors, "left behind (now killed):\n  " + "\n  ".join(survivors)
