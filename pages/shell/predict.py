"""Predict, then measure: the question above the Run button, the graded line once the result is in.

The question and the grading are :mod:`core.predict`'s; this module draws them and records each graded
prediction once in the class store (anonymous counts, :class:`core.predict.ClassStore`). Answering is optional
and never blocks Run; the radio is keyed by the comparison, so moving a slider starts a new, empty prediction.
A class store that fails (read-only disk, locked, corrupt) turns the class view off with one caption line: the
page goes on.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import streamlit as st

from core.predict import ClassStore, Question, grade, question_for
from pages.shell.resources import settings

SESSION = "predict-session"  # a random id per browser session: part of the token that counts a prediction once
RECORDS = "predictions"  # {panel key: what the learner predicted and what was measured}, for the Takeaways page
QUERY = "predict"  # ?predict=KEY pre-selects an answer; anything else in it is ignored with one line
SHOWN = "predict-shown"  # {(panel key, run id): the answer the result was first shown with (None: none)}


@st.cache_resource(show_spinner=False)
def class_store() -> ClassStore:
    """The server's one class store (``class_db`` setting); in memory, and saying so, on a read-only disk."""
    return ClassStore(settings().class_db, memory_fallback=True)


def question(preset_name: str, spec: Any) -> Question | None:
    """The page's question about ``spec``, or None where there is none (not a comparison)."""
    if getattr(spec, "arms", None) is None:
        return None
    try:
        return question_for(preset_name, spec)
    except ValueError:
        return None


def _widget_key(key: str, spec: Any) -> str:
    # Keyed by the whole comparison (sliders, engines, rounds): a changed one is a new question, asked afresh.
    return f"{key}-predict-" + hashlib.sha256(repr(spec).encode()).hexdigest()[:12]


def reveal(key: str, spec: Any) -> None:
    """Remember that this session pressed Run for ``spec`` on panel ``key``: its result may show from now on."""
    st.session_state[_widget_key(key, spec) + "-revealed"] = True


def revealed(key: str, spec: Any) -> bool:
    """Whether this session pressed Run for ``spec`` on panel ``key`` (a stored result waits until it does)."""
    return bool(st.session_state.get(_widget_key(key, spec) + "-revealed"))


def prediction(q: Question, key: str, spec: Any) -> str | None:
    """Ask ``q`` above the run panel ``key``; return the chosen key (None: no prediction, which is fine)."""
    wkey = _widget_key(key, spec)
    held = st.session_state.get(wkey)
    if held is not None and q.choice(held) is None:  # a crafted or stale session value
        del st.session_state[wkey]
        st.caption(q.ignored_line(held))
    index = None
    asked = st.query_params.get(QUERY)
    if asked is not None and wkey not in st.session_state:
        if q.choice(asked) is None:
            st.caption(q.ignored_line(asked))
        else:
            index = q.keys.index(asked)
    labels = {c.key: c.label for c in q.choices}
    return st.radio(f"**Predict first:** {q.text}", q.keys, index=index, key=wkey, horizontal=True,
                    format_func=labels.__getitem__,
                    help="Optional: Run works without an answer. The measurement then says whether it held.")


def _token(key: str, result: Any) -> str:
    # One count per learner and question: the question belongs to one comparison (its settings), so pressing
    # Measure again, or answering again, adds a measurement, not a second learner.
    session = st.session_state.setdefault(SESSION, secrets.token_hex(16))
    return f"{session}:{_widget_key(key, result.spec)}"


def verdict_line(q: Question, answer: str | None, result: Any, key: str) -> None:
    """Say whether the prediction held (from the verdicts), keep it for Takeaways, count it once for the class.

    A prediction is graded only for a result it was made before: an answer given, or changed, once this result
    was on screen waits for a fresh measurement (a stored result waits for Run, so a first answer always counts).
    """
    if not getattr(result, "complete", False):
        return
    first = st.session_state.setdefault(SHOWN, {}).setdefault((key, result.run_id), answer)
    if answer is None:
        return
    if q.choice(answer) is None:
        st.caption(q.ignored_line(answer))
        return
    if first != answer:
        st.caption(":material/replay: You answered after this result was on screen: press **Measure again** to test"
                   " your prediction on a fresh measurement.")
        return
    try:
        g = grade(q, answer, result)
    except ValueError as exc:  # a result of another comparison: nothing to grade
        st.caption(f"Your prediction is not graded: {exc}.")
        return
    show = {"right": st.success, "wrong": st.warning, "undecided": st.info}[g.outcome]
    icon = {"right": ":material/check_circle:", "wrong": ":material/cancel:", "undecided": ":material/help:"}
    show(g.sentence + (f" {g.reason}" if g.reason else ""), icon=icon[g.outcome])
    st.session_state.setdefault(RECORDS, {})[key] = {
        "page": q.page, "preset": q.preset, "question": q.text, "predicted": g.predicted, "measured": g.measured,
        "outcome": g.outcome, "run_id": result.run_id}
    store = class_store()
    recorded = store.record(q, answer, g.outcome, _token(key, result))
    if recorded.status == "unavailable":
        st.caption(f":material/group_off: Class view off: {recorded.line}.")
    elif recorded.status == "ignored":
        st.caption(recorded.line)
