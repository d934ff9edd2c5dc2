"""Whether a prediction held, read from the comparison's verdicts only.

Every answer is a claim about *relations* between arms, and the verdicts are the relations the data decided:
each arm against the baseline (:attr:`ComparisonResult.verdicts`) and the page's pairs
(:attr:`ComparisonResult.pair_verdicts`); "b against a" is the inverse of "a against b" (``faster`` ↔
``slower``, ``not-faster`` ↔ ``not-slower``). A claim is

* **right** when decided verdicts say exactly it: "X finishes first" when X is ``faster`` than every other arm,
  "about the same" when every two arms are ``same``, "a is faster" when a's verdict against b is ``faster``;
* **wrong** when a decided verdict excludes it: X is ``not-faster``, ``same`` or ``slower`` than some arm; some
  arm is ``faster`` or ``slower`` than another when "about the same" was predicted;
* **undecided** otherwise. ``not-faster`` (at most 1.2×) leaves open whether an arm is about the same or slower,
  and ``not-slower`` whether it is about the same or faster: they neither confirm nor refute "about the same". An
  ``undecided`` verdict never grades anything.

The reason given is the result's own sentence (:meth:`ComparisonResult.explain`) for the verdict that decided:
the GIL, the start-up, the core count, or what would decide an undecided one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.predict.questions import SAME, Question

if TYPE_CHECKING:
    from core.kinds.compare.result import ComparisonResult
    from core.kinds.compare.verdicts import Verdict

Outcome = Literal["right", "wrong", "undecided"]
OUTCOMES: tuple[Outcome, ...] = ("right", "wrong", "undecided")

_INVERSE = {"faster": "slower", "slower": "faster", "not-faster": "not-slower", "not-slower": "not-faster",
            "same": "same", "undecided": "undecided"}
_NOT_FASTER = ("not-faster", "same", "slower")  # decided: x is not faster than y
_NOT_SLOWER = ("not-slower", "same", "faster")


@dataclass(frozen=True)
class Grade:
    """A graded prediction.

    Attributes
    ----------
    outcome : {"right", "wrong", "undecided"}
    answer : str
        The choice's key.
    predicted : str
        The prediction in words (``processes ×4 finishes first``).
    measured : str
        What the verdicts say about it (``processes ×4 finished first``).
    sentence : str
        One line: the prediction, whether it held, what was measured.
    reason : str
        The result's own sentence for the verdict that decided (Markdown bold removed); ``""`` if it has none.
    """

    outcome: Outcome
    answer: str
    predicted: str
    measured: str
    sentence: str
    reason: str


@dataclass(frozen=True)
class _Relation:
    x: str
    y: str
    verdict: str | None  # x against y; None: no verdict relates them
    source: Verdict | None


def _relation(result: ComparisonResult, x: str, y: str) -> _Relation:
    base = result.labels[0]
    if y == base:
        v = next(v for v in result.verdicts if v.label == x)
        return _Relation(x, y, v.verdict, v)
    if x == base:
        v = next(v for v in result.verdicts if v.label == y)
        return _Relation(x, y, _INVERSE[v.verdict], v)
    for v in result.pair_verdicts:
        if (v.label, v.against) == (x, y):
            return _Relation(x, y, v.verdict, v)
        if (v.label, v.against) == (y, x):
            return _Relation(x, y, _INVERSE[v.verdict], v)
    return _Relation(x, y, None, None)


def _words(r: _Relation) -> str:
    """``processes ×4 against threads ×4: faster: at least 1.62×`` (as the verdict was decided)."""
    if r.source is None:
        return f"no verdict relates {r.x} and {r.y}"
    v = r.source
    other = v.against or (r.y if v.label == r.x else r.x)  # no "against": the other one is the baseline
    return f"{v.label} against {other}: {v.claim}"


def reason_for(result: ComparisonResult, v: Verdict | None) -> str:
    """The result's sentence about verdict ``v`` (its pair sentence, or its sentence against the baseline)."""
    if v is None:
        return ""
    others = [label for label in result.labels if label != v.label]
    for s in result.explain():
        if not s.startswith(f"**{v.label}**"):
            continue
        named = [o for o in others if f"**{o}**" in s]
        if (v.against and named == [v.against]) or (not v.against and not named):
            return s.replace("**", "")
    return ""


def _line(outcome: Outcome, predicted: str, measured: str) -> str:
    held = {"right": "it held", "wrong": "it did not hold", "undecided": "the data did not decide"}[outcome]
    return f"You predicted {predicted}: {held} — {measured}."


def grade(question: Question, answer_key: str, result: ComparisonResult) -> Grade:
    """Grade the answer ``answer_key`` to ``question`` against ``result``'s verdicts (module docstring).

    Parameters
    ----------
    question : Question
        Asked about ``result.spec`` (:func:`core.predict.question_for`).
    answer_key : str
        One of ``question.keys``.
    result : ComparisonResult
        A complete comparison; a partial one (still running) grades ``undecided``.

    Raises
    ------
    ValueError
        For an answer that is not one of the choices, or a result of another comparison.
    """
    choice = question.choice(answer_key)
    if choice is None:
        raise ValueError(question.ignored_line(answer_key))
    missing = [label for label in question.subject if label not in result.labels]
    if missing:
        raise ValueError(f"the result is of another comparison: it has no arm {missing[0]!r}")
    predicted = question.predicted(answer_key)
    if not result.complete:
        return Grade("undecided", answer_key, predicted, "the comparison has not finished",
                     _line("undecided", predicted, "the comparison has not finished"), "")
    if question.form == "pair":
        outcome, measured, source = _grade_pair(question, answer_key, result)
    elif choice.arm:
        outcome, measured, source = _grade_first(question, choice.arm, result)
    else:
        outcome, measured, source = _grade_same(question, result)
    return Grade(outcome, answer_key, predicted, measured, _line(outcome, predicted, measured),
                 reason_for(result, source))


def _grade_pair(question: Question, key: str, result: ComparisonResult) -> tuple[Outcome, str, Verdict | None]:
    r = _relation(result, *question.subject)
    wanted, refuting = {"faster": ("faster", _NOT_FASTER), "slower": ("slower", _NOT_SLOWER),
                        SAME: ("same", ("faster", "slower"))}[key]
    outcome: Outcome = ("right" if r.verdict == wanted else "wrong" if r.verdict in refuting else "undecided")
    return outcome, _words(r), r.source


def _winner(question: Question, result: ComparisonResult) -> str | None:
    for x in question.subject:
        if all(_relation(result, x, y).verdict == "faster" for y in question.subject if y != x):
            return x
    return None


def _grade_first(question: Question, arm: str, result: ComparisonResult) -> tuple[Outcome, str, Verdict | None]:
    relations = [_relation(result, arm, y) for y in question.subject if y != arm]
    # The page's own pair first, when it decides: it is the sentence the page leads with.
    relations.sort(key=lambda r: not (r.source is not None and r.source.against))
    against = next((r for r in relations if r.verdict in _NOT_FASTER), None)
    if against is not None:
        winner = _winner(question, result)
        measured = f"{winner} finished first" if winner else _words(against)
        return "wrong", measured, against.source
    if all(r.verdict == "faster" for r in relations):
        return "right", f"{arm} finished first", relations[0].source
    open_ = next(r for r in relations if r.verdict != "faster")
    return "undecided", _words(open_), open_.source


def _grade_same(question: Question, result: ComparisonResult) -> tuple[Outcome, str, Verdict | None]:
    labels = question.subject
    relations = [_relation(result, x, y) for i, x in enumerate(labels) for y in labels[i + 1:]]
    relations.sort(key=lambda r: not (r.source is not None and r.source.against))
    differ = next((r for r in relations if r.verdict in ("faster", "slower")), None)
    if differ is not None:
        winner = _winner(question, result)
        return "wrong", f"{winner} finished first" if winner else _words(differ), differ.source
    if all(r.verdict == "same" for r in relations):
        return "right", "every engine took about the same time", relations[0].source
    open_ = next(r for r in relations if r.verdict != "same")
    return "undecided", _words(open_), open_.source
