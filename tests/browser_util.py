"""Helpers for the browser tests: run the real Streamlit app, find a Chromium, stop everything cleanly.

Kept apart from ``test_browser.py`` so the tests read as what they check, not how a server is started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.helpers import alive as _alive
from tests.helpers import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def tail(path: Path, chars: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return text if len(text) <= chars else "…" + text[-chars:]


def _describe(proc: psutil.Process) -> str:
    try:
        return f"pid {proc.pid} (pgid {os.getpgid(proc.pid)}): {' '.join(proc.cmdline())[:200]}"
    except (psutil.Error, OSError):
        return f"pid {proc.pid}"


@dataclass
class StreamlitServer:
    """``streamlit run streamlit_app.py`` in its own process group, with its output in files."""

    log_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    needed_sigkill: bool = False
    warmed: bool = False  # a browser session has run the main page once (see the tests' ``app`` fixture)
    env: dict[str, str] = field(default_factory=dict)  # settings for this server (GIL_LAB_*), over the defaults

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / "streamlit.stdout.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "streamlit.stderr.log"

    def logs(self) -> str:
        return f"--- server stderr ---\n{tail(self.stderr_path)}\n--- server stdout ---\n{tail(self.stdout_path)}"

    def start(self) -> None:
        env = dict(os.environ)
        env.pop("GIL_LAB_MAX_SECONDS", None)  # the app's own default budget, as a visitor gets it
        env.pop("GIL_LAB_WARM_START", None)  # and its warm start (the in-process AppTest tests turn it off)
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [
            sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
            "--server.headless", "true",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
        ]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,
            )

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        """Poll ``/_stcore/health`` until it says "ok"; fail with the server's output otherwise."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise AssertionError(f"streamlit exited with code {code} before it was healthy\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    body = resp.read().decode(errors="replace").strip()
                if body == "ok":
                    return
                last = f"health said {body!r}"
            except (urllib.error.URLError, OSError) as exc:
                last = repr(exc)
            time.sleep(0.25)
        raise AssertionError(f"streamlit not healthy at {self.url} after {timeout_s:.0f} s ({last})\n{self.logs()}")

    def children(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, term_grace_s: float = 15.0, child_grace_s: float = 10.0) -> list[str]:
        """SIGTERM the whole group, SIGKILL it if still up after ``term_grace_s``.

        Returns a description of every descendant (collected right before stopping) still alive
        ``child_grace_s`` after the server is gone. Those survivors are then killed, so a failing
        run leaves no strays behind, but the caller should fail the test on a non-empty list.
        """
        if self.proc is None:
            return []
        descendants = self.children()
        pgid = self.proc.pid  # start_new_session: the server leads its own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=term_grace_s)
        except subprocess.TimeoutExpired:
            self.needed_sigkill = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        deadline = time.monotonic() + child_grace_s
        survivors = [p for p in descendants if _alive(p)]
        while survivors and time.monotonic() < deadline:
            time.sleep(0.2)
            survivors = [p for p in survivors if _alive(p)]
        described = [_describe(p) for p in survivors]
        for p in survivors:  # clean up after reporting: never leave strays on the machine
            with contextlib.suppress(psutil.Error):
                p.kill()
        return described


def chromium_executable() -> str | None:
    """The Chromium to drive: $CHROMIUM, else Debian's, else None (use Playwright's bundled one)."""
    override = os.environ.get("CHROMIUM")
    if override and Path(override).exists():
        return override
    if Path(DEBIAN_CHROMIUM).exists():
        return DEBIAN_CHROMIUM
    return None


def bundled_chromium_available(playwright) -> bool:
    try:
        return Path(playwright.chromium.executable_path).exists()
    except Exception:  # playwright raises if its browser registry knows no chromium build
        return False


def playwright_api() -> tuple[Any, Any]:
    """``(TimeoutError, expect)`` of Playwright's sync API, or skip the calling test module without it.

    A developer without the dev requirements gets a skip; CI, which installs them, must never get here
    quietly, so there the ImportError is raised.
    """
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
        from playwright.sync_api import expect
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)", allow_module_level=True)
    return PlaywrightTimeoutError, expect
