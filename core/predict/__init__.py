"""Predict, then measure: the question a page asks before Run, its grading from the verdicts, the class's counts.

:mod:`~core.predict.questions` derives the question from a comparison's arms and pairs, :mod:`~core.predict.grade`
says from the verdicts whether an answer held, and :mod:`~core.predict.store` counts the class's predictions and
outcomes anonymously in SQLite. Nothing here imports Streamlit: the pages draw the question and the graded line.
"""

from __future__ import annotations

from core.predict.grade import OUTCOMES, Grade, Outcome, grade, reason_for
from core.predict.questions import FORMS, KEY, SAME, Choice, Question, arm_key, question_for, related_everywhere
from core.predict.store import MEMORY, ClassStore, ClassStoreUnavailable, Recorded, token_hash

__all__ = [
    "FORMS", "KEY", "MEMORY", "OUTCOMES", "SAME", "Choice", "ClassStore", "ClassStoreUnavailable", "Grade",
    "Outcome", "Question", "Recorded", "arm_key", "grade", "question_for", "reason_for", "related_everywhere",
    "token_hash",
]
