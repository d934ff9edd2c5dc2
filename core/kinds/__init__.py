"""The kinds of measurement, one module each, all following :mod:`core.kinds.base`'s protocol.

==================  ========================================================================
``run``             one engine, repeated (:mod:`core.kinds.run`)
``compare``         several engines on the same tasks in interleaved rounds, with verdicts
                    (:mod:`core.kinds.compare`) — the lab's main kind
==================  ========================================================================

:data:`KINDS` maps each CLI verb to its module; :func:`kind` imports it on first use (the modules
import nothing heavy at import time, so ``python -m core --help`` and bad input stay fast).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

KINDS: dict[str, str] = {
    "run": "core.kinds.run",
    "compare": "core.kinds.compare",
}


def kind(name: str) -> Any:
    """The :class:`~core.kinds.base.Kind` registered as ``name``."""
    if name not in KINDS:
        raise ValueError(f"unknown kind of measurement {name!r}: use one of {', '.join(KINDS)}")
    return import_module(KINDS[name]).KIND


def kind_of(spec: Any) -> Any:
    """The kind whose spec type ``spec`` is."""
    for name in KINDS:
        k = kind(name)
        if isinstance(spec, k.spec_type):
            return k
    raise TypeError(f"no kind of measurement takes a {type(spec).__name__}")
