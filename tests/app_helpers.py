"""Helpers for the tests of the pages, run in this process with Streamlit's AppTest."""

from __future__ import annotations

import json
from pathlib import Path

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
