"""The kinds of measurement, one module each, all following :mod:`core.kinds.base`'s protocol.

==================  ========================================================================
``run``             one engine, repeated (:mod:`core.kinds.run`)
``compare``         several engines on the same tasks in interleaved rounds, with verdicts
                    (:mod:`core.kinds.compare`) — the lab's main kind
``sweep``           speedup vs workers for one engine, every worker count a point of the same
                    interleaved rounds (:mod:`core.kinds.scaling`)
``transfer``        what shipping a payload to tasks costs, by size and engine (:mod:`core.kinds.transfer`)
``overhead``        per-task cost, start-up, chunksize and break-even n (:mod:`core.kinds.overhead`;
                    each part has its own spec, which is how the page measures one part at a time)
``gil-trace``       threads taking turns on the GIL, traced in a child process (:mod:`core.kinds.gil_trace`)
``blas``            Dask threads × BLAS threads: pinned vs the library's default (:mod:`core.kinds.blas`)
==================  ========================================================================

:mod:`core.kinds.points` is what the sweeping kinds share (points measured in interleaved rounds, their
cost); :mod:`core.kinds.interpreter` is a report, not a measurement (the ``interpreter`` info verb).
:data:`KINDS` maps each CLI verb to its module; :func:`kind` imports it on first use (the modules
import nothing heavy at import time, so ``python -m core --help`` and bad input stay fast).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

KINDS: dict[str, str] = {
    "run": "core.kinds.run",
    "compare": "core.kinds.compare",
    "sweep": "core.kinds.scaling",
    "transfer": "core.kinds.transfer",
    "overhead": "core.kinds.overhead",
    "gil-trace": "core.kinds.gil_trace",
    "blas": "core.kinds.blas",
}


def kind(name: str) -> Any:
    """The :class:`~core.kinds.base.Kind` registered as ``name``."""
    if name not in KINDS:
        raise ValueError(f"unknown kind of measurement {name!r}: use one of {', '.join(KINDS)}")
    return import_module(KINDS[name]).KIND


def kind_of(spec: Any) -> Any:
    """The kind whose spec type (or one of whose spec types) ``spec`` is."""
    for name in KINDS:
        k = kind(name)
        if isinstance(spec, k.spec_type):
            return k
    raise TypeError(f"no kind of measurement takes a {type(spec).__name__}")
