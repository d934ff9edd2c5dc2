"""Wording every kind shares: durations in the unit that reads best, and what the interpreter changes.

The sentences about a measurement are written by its kind, from its own numbers (each result's
``explain()``), so a noisy run gets an honest description and never canned text that contradicts
the chart beside it.
"""

from __future__ import annotations

import math

from core.measure.machine import MachineInfo


def fmt_duration(seconds: float) -> str:
    """``12 µs``, ``3.4 ms``, ``1.31 s``: a duration in the unit that reads best (``n/a`` if not finite)."""
    if not math.isfinite(seconds):
        return "n/a"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def interpreter_note(machine: MachineInfo) -> str | None:
    """What to tell a learner whose interpreter runs without the GIL, or ``None`` on a standard CPython.

    The lab's lessons ("threads take turns on pure Python") hold only while the GIL is on. A free-threaded
    build (3.13t / 3.14t) with the GIL disabled runs Python threads in parallel; the pages must say so
    rather than contradict what the user's own measurements show.
    """
    if machine.gil_enabled:
        return None
    return (
        f"This server runs a free-threaded CPython {machine.python_version} with the GIL **disabled**. Python"
        " threads here can run bytecode on several cores at once, so pure-Python work such as fib may speed up"
        " on the threads engines too. Where a page explains the GIL, it describes standard CPython; the"
        " measurements show what happens on this interpreter."
    )
