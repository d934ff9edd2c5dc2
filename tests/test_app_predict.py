"""Predict, then measure, in the app: the question, Run, the line that grades it, Takeaways, the class view.

Real app (AppTest), real comparisons on the I/O-bound page at tiny sizes: four 10 ms sleeps on 8 threads
against sync is faster whatever else the machine does (the waits overlap), so "faster" is graded right and
"slower" wrong; three rounds are too few for any claim, so the same comparison with 3 rounds is undecided. The
class database is a real SQLite file in ``tmp_path`` (a read-only tmpfs and a file of garbage for its failures).
Settings are read once per server (``st.cache_resource``): each test clears that cache before and after.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.predict import ClassStore
from tests.app_helpers import many_sessions, open_page, press

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
IO = {"sleep": "0.01", "tasks": "4", "workers": "8", "rounds": "7"}
KEY = "pr3dict-Instructor-key"


@pytest.fixture(autouse=True)
def class_db(tmp_path, monkeypatch) -> Iterator[Path]:
    path = tmp_path / "class.sqlite3"
    monkeypatch.setenv("GIL_LAB_CLASS_DB", str(path))
    monkeypatch.delenv("GIL_LAB_INSTRUCTOR_KEY", raising=False)
    st.cache_resource.clear()
    yield path
    st.cache_resource.clear()


def texts(at: AppTest) -> str:
    parts = [c.value for c in at.caption] + [m.value for m in at.markdown]
    parts += [e.value for kind in (at.success, at.warning, at.error, at.info) for e in kind]
    return "\n".join(str(p) for p in parts)


def radio(at: AppTest, panel: str) -> Any:
    [r] = [r for r in at.radio if r.key and r.key.startswith(f"{panel}-predict-")]
    return r


def predict(at: AppTest, panel: str, answer: str) -> AppTest:
    radio(at, panel).set_value(answer).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def total(path: Path) -> int:
    return int(ClassStore(str(path), create=False).counts()["count"].sum())


def test_predict_run_and_the_line_grades_it_right_then_wrong(class_db):
    at = open_page("pages/io_bound.py", **IO)
    q = radio(at, "io")
    assert q.value is None and "threads ×8 against sync" in q.label  # optional, nothing chosen
    assert [b for b in at.button if b.label == "Run experiment"][0].disabled is False
    press(predict(at, "io", "faster"), "Run experiment")
    [line] = [s.value for s in at.success]
    assert line.startswith("You predicted threads ×8 is faster: it held") and "waits overlapped" in line
    assert total(class_db) == 1
    at.run()  # a rerun of the same page and result is not counted again
    assert total(class_db) == 1
    # A second visitor: the stored result waits for Run, so that they can predict before it is on screen.
    other = open_page("pages/io_bound.py", **IO)
    assert "measured already, so the result is instant" in texts(other)
    assert not [c for c in other.caption if c.value.startswith("Run `")]  # no result shown yet
    press(predict(other, "io", "slower"), "Run experiment")
    assert any(w.value.startswith("You predicted threads ×8 is slower: it did not hold") for w in other.warning)
    assert total(class_db) == 2
    # An answer changed once the result is on screen waits for a fresh measurement.
    predict(other, "io", "same")
    assert "press **Measure again** to test your prediction" in texts(other)
    assert total(class_db) == 2
    counts = ClassStore(str(class_db)).counts()
    assert counts[["page", "choice", "outcome", "count"]].values.tolist() == [["io_bound", "faster", "right", 1],
                                                                               ["io_bound", "slower", "wrong", 1]]


def test_too_few_rounds_leave_the_prediction_undecided(class_db):
    at = open_page("pages/io_bound.py", **{**IO, "rounds": "3"})
    press(predict(at, "io", "faster"), "Run experiment")
    [line] = [i.value for i in at.info if i.value.startswith("You predicted")]
    assert "the data did not decide" in line and "undecided" in line
    assert not [s for s in at.success if "You predicted" in s.value]
    assert ClassStore(str(class_db)).counts()["outcome"].tolist() == ["undecided"]


def test_moving_a_slider_resets_the_prediction():
    at = predict(open_page("pages/io_bound.py", **IO), "io", "faster")
    before = radio(at, "io")
    assert before.value == "faster"
    at.slider(key="tasks").set_value(5).run()
    after = radio(at, "io")
    assert after.key != before.key and after.value is None


def test_a_crafted_answer_is_ignored_with_one_line():
    at = open_page("pages/io_bound.py", **IO, predict="'; DROP TABLE counts; --")
    assert radio(at, "io").value is None
    assert sum("is not one of this question's choices" in c.value for c in at.caption) == 1
    ok = open_page("pages/io_bound.py", **IO, predict="faster")
    assert radio(ok, "io").value == "faster"


def test_takeaways_show_what_you_predicted_and_what_was_measured():
    at = press(predict(open_page("pages/io_bound.py", **IO), "io", "faster"), "Run experiment")
    at.switch_page("pages/takeaways.py").run()
    assert not at.exception
    shown = texts(at)
    assert "**You predicted** threads ×8 is faster; **measured:** threads ×8 against sync: faster" in shown
    assert "it held" in shown and "No prediction of yours on that page yet" in shown  # the other lessons
    [table] = at.dataframe
    assert table.value["it held"].tolist() == ["it held"]


def test_thirty_concurrent_sessions_are_all_counted_once(class_db):
    # One visitor measures; thirty more arrive at once with an answer in their link (?predict=) and press Run,
    # each graded from the stored result, each counted once by the class store.
    press(predict(open_page("pages/io_bound.py", **IO), "io", "faster"), "Run experiment")
    answers = ["faster", "same", "slower"]
    lines: list[str] = []
    errors: list[str] = []
    barrier = threading.Barrier(30)

    def visitor(k: int) -> None:
        try:
            at = AppTest.from_file(APP, default_timeout=180)
            at.switch_page("pages/io_bound.py")
            for name, value in {**IO, "predict": answers[k % 3]}.items():
                at.query_params[name] = value
            at.run()
            barrier.wait(timeout=120)
            at.button(key="io-run").click().run()
            at.run()  # a rerun: not counted again
            lines.extend(e.value for kind in (at.success, at.warning) for e in kind if "You predicted" in e.value)
            errors.extend(str(e.value) for e in at.exception)
        except Exception as exc:  # the assertion below names it
            errors.append(f"{type(exc).__name__}: {exc}")

    with many_sessions():
        threads = [threading.Thread(target=visitor, args=(k,)) for k in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    assert not errors, errors[:3]
    assert len(lines) == 30  # every session's line, still there on its rerun
    counts = ClassStore(str(class_db)).counts()
    assert int(counts["count"].sum()) == 31
    assert dict(zip(counts["choice"], counts["count"], strict=True)) == {"faster": 11, "same": 10, "slower": 10}
    assert set(counts.loc[counts["choice"] == "faster", "outcome"]) == {"right"}


def instructor(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("GIL_LAB_INSTRUCTOR_KEY", KEY)
    st.cache_resource.clear()
    return open_page("pages/instructor.py")


def navigation(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The titles of the pages the router puts in the navigation (the real ``st.navigation``, watched)."""
    seen: list[str] = []
    real = st.navigation

    def watched(pages: Any, **kwargs: Any) -> Any:
        seen[:] = [p.title for group in pages.values() for p in group]
        return real(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", watched)
    return seen


def test_the_instructor_page_is_hidden_without_the_key_and_its_url_says_it_is_off(monkeypatch):
    pages = navigation(monkeypatch)
    open_page("pages/start.py")
    assert "Takeaways" in pages and "Instructor" not in pages
    asked = AppTest.from_file(APP, default_timeout=60)
    asked.query_params["instructor"] = "1"  # the page's old link: ?instructor
    asked.run()
    assert any("Instructor page (the class view) is off" in w.value for w in asked.warning)
    # Reached anyway (a stale link), the page itself says it is off and asks for nothing.
    page = AppTest.from_file(str(Path(APP).parent / "pages" / "instructor.py"), default_timeout=60).run()
    assert any("class view is off" in i.value for i in page.info)
    assert not [t for t in page.text_input if t.key == "instructor-key"]
    # With the key set, it is in the navigation.
    shown = instructor(monkeypatch)
    assert pages[-1] == "Instructor" and [t.value for t in shown.title] == ["Instructor: the class's predictions"]
    assert [t for t in shown.text_input if t.key == "instructor-key"]
    assert not any("is off" in w.value for w in shown.warning)


def test_the_instructor_sees_the_class_counts_with_the_key_and_a_restart_keeps_them(monkeypatch, class_db):
    press(predict(open_page("pages/io_bound.py", **IO), "io", "faster"), "Run experiment")
    st.cache_resource.clear()  # a restarted server: a new class store on the same file
    at = instructor(monkeypatch)
    assert [t.value for t in at.title] == ["Instructor: the class's predictions"]
    [field] = [t for t in at.text_input if t.key == "instructor-key"]
    field.set_value("wrong-key").run()
    assert any("not this server's instructor key" in e.value for e in at.error)
    assert not at.get("vega_lite_chart")
    field.set_value(KEY).run()
    assert not at.error and "1 prediction(s) counted, 1 of them right" in texts(at)
    assert "1 right, 0 wrong, 0 undecided" in texts(at)
    assert len(at.get("vega_lite_chart")) == 1
    assert KEY not in texts(at)
    # The reset asks for a confirmation first.
    [button] = [b for b in at.button if b.key == "instructor-reset"]
    assert button.disabled
    at.checkbox(key="instructor-confirm").check().run()
    press(at, "Reset counts")
    assert any("1 prediction(s) forgotten" in s.value for s in at.success)
    assert total(class_db) == 0


def test_a_corrupt_class_database_leaves_the_page_working_with_one_line(class_db):
    class_db.write_bytes(os.urandom(2048))
    at = press(predict(open_page("pages/io_bound.py", **IO), "io", "faster"), "Run experiment")
    assert any(s.value.startswith("You predicted") for s in at.success)  # graded all the same
    off = [c.value for c in at.caption if c.value.startswith(":material/group_off: Class view off")]
    assert len(off) == 1 and "not a usable SQLite file" in off[0]
    assert any(c.value.startswith("Run `") for c in at.caption)  # the result is on screen


@pytest.fixture
def read_only_db(tmp_path, monkeypatch) -> Iterator[Path]:
    """The class database on a read-only tmpfs (as root), or in a folder without write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    elif subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
                        capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs")
    monkeypatch.setenv("GIL_LAB_CLASS_DB", str(folder / "class.sqlite3"))
    st.cache_resource.clear()
    try:
        yield folder
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], check=False)
        else:
            folder.chmod(0o755)


def test_a_read_only_disk_counts_in_memory_and_says_so(read_only_db, monkeypatch):
    at = press(predict(open_page("pages/io_bound.py", **IO), "io", "faster"), "Run experiment")
    assert any(s.value.startswith("You predicted") for s in at.success)
    assert not [c for c in at.caption if "Class view off" in c.value]
    monkeypatch.setenv("GIL_LAB_INSTRUCTOR_KEY", KEY)
    from pages.shell import resources

    resources.settings.clear()  # the key, read again; the class store (in memory) is kept, as on a server
    board = open_page("pages/instructor.py")
    [field] = [t for t in board.text_input if t.key == "instructor-key"]
    field.set_value(KEY).run()
    shown = texts(board)
    assert "is read-only: counts are kept in memory" in shown and "1 prediction(s) counted" in shown
    assert not (read_only_db / "class.sqlite3").exists()
