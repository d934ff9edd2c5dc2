"""Wording every kind shares: durations in the unit that reads best, and what the interpreter changes.

The sentences about a measurement are written by its kind, from its own numbers (each result's
``explain()``), so a noisy run gets an honest description and never canned text that contradicts
the chart beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.fmt import duration as fmt_duration

if TYPE_CHECKING:
    from core.measure.machine import MachineInfo

__all__ = ["cluster_line", "fmt_duration", "interpreter_note"]  # fmt_duration: its old home, kept


def cluster_line(engine: dict[str, Any]) -> str | None:
    """``2 workers on 2 hosts (10.0.0.2, 10.0.0.3) · 2 threads · 25 GB · Python 3.11.7 · dask …``.

    From a distributed engine's info (:func:`core.engines.environment.describe`); None for an engine
    that has no cluster. A version the workers do not share is shown as every value they have.
    """
    workers = engine.get("workers")
    if not isinstance(workers, list) or not workers:
        return None
    hosts = sorted({str(w["host"]) for w in workers})
    shown = ", ".join(hosts[:4]) + (f" and {len(hosts) - 4} more" if len(hosts) > 4 else "")
    n, h = len(workers), len(hosts)
    parts = [f"{n} worker{'s' if n != 1 else ''} on {h} host{'s' if h != 1 else ''} ({shown})",
             f"{sum(int(w['threads']) for w in workers)} threads"]
    memory = [w["memory_limit_bytes"] for w in workers if w.get("memory_limit_bytes")]
    if memory:
        parts.append(f"{sum(memory) / 1e9:.1f} GB memory limit")

    def values(get: Any) -> str:
        return "/".join(sorted({str(get(w) or "none") for w in workers}))

    parts.append(f"Python {values(lambda w: w.get('python'))}")
    for package in ("dask", "distributed", "cloudpickle", "numpy"):
        parts.append(f"{package} {values(lambda w, p=package: (w.get('packages') or {}).get(p))}")
    parts.append("task code shipped by value" if engine.get("ship_code", True) else "task code imported there")
    return " · ".join(parts)


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
