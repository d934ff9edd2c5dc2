"""End-to-end on the start page: pick a prediction, Run, see the line that grades it, and the class count.

A real ``streamlit run`` of its own (its class database in ``tmp_path``), headless Chromium (the browser fixtures
plugin). The start preset's verdicts depend on the machine, so the line is checked for its form and one of the
three outcomes, and the class store for exactly one count of that answer.
"""

from __future__ import annotations

import os
import re

import pytest

from core.predict import ClassStore
from tests.browser_fixtures import fresh_server

try:
    from playwright.sync_api import expect
except ImportError:  # a developer without the dev requirements; CI must never get here quietly
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)", allow_module_level=True)

pytestmark = pytest.mark.browser

GRADED = re.compile(r"^You predicted processes ×4 finishes first: (it held|it did not hold|the data did not decide)")


def test_predict_run_and_the_graded_line_on_the_start_page(chromium, tmp_path_factory):
    folder = tmp_path_factory.mktemp("class-db")
    db = folder / "class.sqlite3"
    with fresh_server(chromium, tmp_path_factory.mktemp("streamlit-predict"), {"GIL_LAB_CLASS_DB": str(db)}) as ui:
        ui.open("")
        question = ui.page.get_by_test_id("stRadio")
        expect(question).to_contain_text("Which finishes first: sync, threads ×4 or processes ×4")
        question.get_by_text("processes ×4", exact=True).click()
        ui.wait_script_done()
        ui.run_experiment()
        line = ui.page.get_by_text(GRADED)
        expect(line.first).to_be_visible()
        ui.assert_clean()
        counts = ClassStore(str(db), create=False).counts()
        assert counts[["page", "choice", "count"]].values.tolist() == [["start", "processes-4", 1]], counts
        outcome = GRADED.match(line.first.inner_text()).group(1)
        assert counts["outcome"].tolist() == [{"it held": "right", "it did not hold": "wrong",
                                               "the data did not decide": "undecided"}[outcome]]
