"""The question a page asks before Run, derived from its comparison's arms and pairs.

Two forms, both answered by the comparison's own verdicts (:mod:`core.predict.grade`):

``first``
    "Which finishes first: sync, threads ×4 or processes ×4 — or about the same?" One choice per arm and
    ``same``. Asked only when the verdicts relate every two arms (each arm against the baseline, the pairs
    for the rest): a choice no verdict could ever confirm would teach nothing.
``pair``
    "processes=True 2×1 against processes=False 1×2: faster, about the same, or slower?" About the page's
    first pair (:attr:`CompareSpec.pairs`), or, on a page that teaches each arm against the baseline alone and
    whose arms no verdicts relate all together, about its widest thread pool against the baseline.

Which form a page reads best in is chosen per preset (:data:`FORMS`); the choices always come from the spec,
never from a slider's value, so a changed slider gives a changed question.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from core.kinds.compare.spec import Arm, CompareSpec
from core.presets import PRESETS
from core.spec import CLUSTER_SCHEDULERS, ONE_GIL_SCHEDULERS, PROCESS_POOL_SCHEDULERS

Form = Literal["first", "pair"]

# A key goes into a URL, a widget key and the class database: short, lower case, no spaces.
KEY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,47}$", re.ASCII)
SAME = "same"
PAIR_KEYS = ("faster", SAME, "slower")

# Pages whose lesson is one pair read best asked about that pair: on local-cluster the learner chooses between
# processes=True and processes=False, on beyond-dask between a process pool and a thread pool of another library
# (its four arms are not all related by verdicts), on beyond-dask-io between a library's threads and Dask's.
FORMS: dict[str, Form] = {"local-cluster": "pair", "beyond-dask": "pair", "beyond-dask-io": "pair"}
MAX_FIRST_ARMS = 5  # more choices than this is a quiz, not a prediction


@dataclass(frozen=True)
class Choice:
    """One answer: ``key`` (stable, URL- and database-safe), ``label`` (what the radio shows) and ``arm``
    (the label of the arm it names, ``""`` for ``same`` and a pair's answers)."""

    key: str
    label: str
    arm: str = ""


@dataclass(frozen=True)
class Question:
    """What a page asks before Run about one comparison.

    Attributes
    ----------
    preset : str
        The preset (or page) whose comparison this is: ``start``, ``local-cluster``, …
    page : str
        The page showing it (``start``, ``cpu_bound``, …; the preset's name for a comparison of no preset).
    text : str
        The question.
    form : {"first", "pair"}
        See the module docstring.
    choices : tuple of Choice
    subject : tuple of str
        Arm labels: every arm (``first``), or ``(a, b)`` for "a against b" (``pair``).
    baseline : str
        The comparison's baseline label.
    """

    preset: str
    page: str
    text: str
    form: Form
    choices: tuple[Choice, ...]
    subject: tuple[str, ...]
    baseline: str

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.choices)

    @property
    def fingerprint(self) -> str:
        """A short hash of the question and its choices: a widget keyed by it starts empty for a new comparison."""
        raw = repr((self.preset, self.text, self.choices))
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def choice(self, key: object) -> Choice | None:
        """The choice with this key, or None for anything else (a crafted URL, a stale session)."""
        return next((c for c in self.choices if isinstance(key, str) and c.key == key), None)

    def predicted(self, key: str) -> str:
        """The prediction in words: ``processes ×4 finishes first``, ``about the same``, ``a is faster``."""
        c = self.choice(key)
        if c is None:
            raise ValueError(f"not one of this question's choices: {key[:40]!r}")
        if self.form == "first":
            return f"{c.label} finishes first" if c.arm else "about the same"
        return c.label

    def ignored_line(self, raw: object) -> str:
        """One line for an answer that is not one of the choices (it is ignored)."""
        shown = str(raw)[:40].encode("unicode_escape").decode("ascii")
        return f"The prediction {shown!r} is not one of this question's choices ({', '.join(self.keys)}); ignored."


def arm_key(arm: Arm) -> str:
    """``sync``, ``threads-4``, ``processes-4``, ``cluster-processes-2x1``, ``interpreters-2-py313``."""
    if arm.engine in ("sync", "external"):
        key = arm.engine
    elif arm.engine in CLUSTER_SCHEDULERS:
        key = f"{arm.engine}-{arm.workers}x{arm.threads_per_worker}"
    else:
        key = f"{arm.engine}-{arm.workers}"
    if arm.engine in PROCESS_POOL_SCHEDULERS and not arm.reuse_pool:
        key += "-fresh"  # a new pool each compute: another arm than the warm pool of the same size
    if arm.python:
        key += "-py" + arm.python.replace(".", "")
    return key


def _arm_keys(arms: tuple[Arm, ...]) -> list[str]:
    keys: list[str] = []
    for k, arm in enumerate(arms):
        key = arm_key(arm)
        if key in keys or key == SAME:  # two arms of one shape under different labels: keep keys distinct
            key = f"{key}-{k}"
        keys.append(key)
    return keys


def related_everywhere(spec: CompareSpec) -> bool:
    """Whether the verdicts relate every two arms: each against the baseline, the pairs for the others."""
    labels = [a.label for a in spec.arms]
    pairs = {frozenset(p) for p in spec.pairs}
    return all(frozenset((x, y)) in pairs for i, x in enumerate(labels[1:], 1) for y in labels[i + 1:])


def _join(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


def _pair_subject(spec: CompareSpec) -> tuple[str, str]:
    """The page's first pair, else its widest thread pool (else its last arm) against the baseline."""
    if spec.pairs:
        return spec.pairs[0]
    others = spec.arms[1:]
    threads = [a for a in others if a.engine in ONE_GIL_SCHEDULERS]
    arm = max(threads, key=lambda a: a.workers * a.threads_per_worker) if threads else others[-1]
    return arm.label, spec.baseline.label


def question_for(preset_name: str, spec: CompareSpec) -> Question:
    """The question the page of ``preset_name`` asks about ``spec`` before it runs.

    Parameters
    ----------
    preset_name : str
        A preset of :data:`core.presets.PRESETS` (its page and form are used), or any short name for a comparison
        of no preset (``your-function``): it then gets the default form.
    spec : CompareSpec
        The comparison on screen, sliders applied: the choices come from its arms and pairs.

    Returns
    -------
    Question
    """
    if not KEY.match(preset_name or ""):
        raise ValueError(f"a question's page name must be a short lower-case key (got {str(preset_name)[:40]!r})")
    page = PRESETS[preset_name].page if preset_name in PRESETS else preset_name
    labels = [a.label for a in spec.arms]
    form = FORMS.get(preset_name, "first")
    if form == "first" and not (related_everywhere(spec) and len(labels) <= MAX_FIRST_ARMS):
        form = "pair"
    if form == "first":
        choices = tuple(Choice(k, label, arm=label) for k, label in zip(_arm_keys(spec.arms), labels, strict=True))
        return Question(preset=preset_name, page=page, form="first",
                        text=f"Which finishes first: {_join(labels)} — or about the same?",
                        choices=(*choices, Choice(SAME, "about the same")), subject=tuple(labels),
                        baseline=labels[0])
    a, b = _pair_subject(spec)
    return Question(preset=preset_name, page=page, form="pair", text=f"{a} against {b}: faster, about the same,"
                    " or slower?", choices=(Choice("faster", f"{a} is faster"), Choice(SAME, "about the same"),
                                            Choice("slower", f"{a} is slower")), subject=(a, b), baseline=labels[0])
