"""Helpers for the tests of the pages, run in this process with Streamlit's AppTest."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def open_page(page: str, *, timeout: float = 180, **query: str) -> AppTest:
    """The app opened at ``page`` (a path like ``pages/cpu_bound.py``) with ``query`` as its URL's parameters."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    if page != "pages/start.py":
        at.switch_page(page)
    # Set after the page switch, which (as in a browser) starts the new page with a clean URL.
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> list[dict]:
    """Vega-Lite specs of every Altair chart on the page (AppTest exposes the element's proto)."""
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def marks(spec: dict) -> set[str]:
    """Every mark type used anywhere in a (layered / concatenated / faceted) spec."""
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            mark = node.get("mark")
            if mark is not None:
                found.add(mark if isinstance(mark, str) else mark.get("type"))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(spec)
    return found


def press(at: AppTest, label: str) -> AppTest:
    """Click the one button labelled ``label`` and rerun; the page must show no exception."""
    [button] = [b for b in at.button if b.label == label]
    button.click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@contextlib.contextmanager
def many_sessions() -> Iterator[None]:
    """Let several AppTest sessions run at once in this process, as a server's sessions do; undone afterwards.

    ``AppTest.run`` installs a process-global mock ``Runtime`` when a script run starts and sets it back to
    ``None`` when it ends: with sessions in threads, one session's end pulls the runtime from under another's
    script, which then fails in Streamlit's own clean-up ("Runtime hasn't been created!"). The real server has
    one runtime for all sessions, and so do these, from the first mock on.

    AppTest also reads every widget's value back from the session before a rerun; a widget whose id the
    session no longer holds (the tree changed between runs) raises KeyError inside the harness, not in the app
    (streamlit/streamlit#12566, open; the fix proposed upstream, #13929, skips such a stale id). One of 30
    sessions met it once: the stale id is skipped, as a browser does, which sends only the widgets it shows.

    And each AppTest compiles the scripts in a cache of its own, where the server has one (under one lock):
    Python 3.11's compiler is not safe to run in many threads at once ("AST constructor recursion depth
    mismatch", python/cpython#106905), so the sessions compile one at a time, as the server's do.

    Last, ``AppTest.run`` waits for its script by polling it every millisecond (``require_widgets_deltas``:
    ``time.sleep(0.001)`` in a loop). A browser waits on its websocket and costs the server nothing, but 29
    AppTest visitors queued behind one measurement are 29 000 wake-ups a second in the process that measures:
    ``bench/load`` saw the first comparisons served (29 queued) take 1.2-1.4x their time alone and the last
    ones (few queued) 1.0-1.06x. Here the sessions wait with a back-off up to 50 ms, which delays each
    visitor's results by at most that.
    """
    import threading

    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import element_tree, local_script_runner

    kept: list[Any] = []
    instance, exists = Runtime.__dict__["instance"], Runtime.__dict__["exists"]
    reads = element_tree.get_widget_state

    def keep_instance(cls: type[Runtime]) -> Runtime:
        if cls._instance is not None:
            kept[:] = [cls._instance]
            return cls._instance
        if kept:
            return kept[0]
        raise RuntimeError("Runtime hasn't been created!")

    def tolerant(node: Any) -> Any:
        try:
            return reads(node)
        except KeyError:
            return None

    compile_one = threading.Lock()
    bytecode = ScriptCache.get_bytecode

    def one_at_a_time(self: ScriptCache, script_path: str) -> Any:
        with compile_one:
            return bytecode(self, script_path)

    polls = local_script_runner.require_widgets_deltas

    def patiently(runner: Any, timeout: float = 3) -> None:
        t0, pause = time.monotonic(), 0.001
        while time.monotonic() - t0 < timeout:
            if runner.script_stopped():
                return
            time.sleep(pause)
            pause = min(0.05, pause * 2)
        runner.request_stop()  # past the timeout: as the harness does, stop the script and say so
        runner.join()
        raise RuntimeError(f"AppTest script run timed out after {timeout}(s)")

    Runtime.instance = classmethod(keep_instance)  # type: ignore[method-assign,assignment]
    Runtime.exists = classmethod(lambda cls: cls._instance is not None or bool(kept))  # type: ignore[method-assign]
    element_tree.get_widget_state = tolerant  # type: ignore[assignment]
    ScriptCache.get_bytecode = one_at_a_time  # type: ignore[method-assign]
    local_script_runner.require_widgets_deltas = patiently
    try:
        yield
    finally:
        Runtime.instance, Runtime.exists = instance, exists  # type: ignore[method-assign]
        element_tree.get_widget_state = reads  # type: ignore[assignment]
        ScriptCache.get_bytecode = bytecode  # type: ignore[method-assign]
        local_script_runner.require_widgets_deltas = polls
