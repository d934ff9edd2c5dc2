"""What every engine shares: the errors a run can end with, the watch that stops it, the Engine protocol.

Like ``dask/local.py``, which runs every local scheduler through ``get_async`` with the executor
injected, GIL Lab runs every engine through one run path (:mod:`core.measure.run`): only the small
:class:`Engine` objects differ, and each one says how to start, how to compute a list of delayed tasks,
and how to stop. Timing, per-task evidence and result building are therefore identical for all
engines, which is what makes their numbers comparable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from dask.delayed import Delayed

Progress = Callable[[str, float], None]
"""Callback ``progress(message, fraction_done)`` for front ends (the app's status box, the CLI)."""

class EngineError(RuntimeError):
    """An engine could not start or run (e.g. an external cluster is unreachable)."""


class RunCancelled(EngineError):
    """The run was stopped because ``should_stop()`` said so; nothing of it is left running."""


class RunTimeout(EngineError):
    """The run went past its ``deadline_s`` and was stopped; the message names the limit."""


class WorkerLost(EngineError):
    """A worker died or left during the run, so some tasks ran twice: the measurement is discarded."""


def _quiet(message: str, fraction: float) -> None:
    """The default progress callback: say nothing."""


class Watch:
    """One run's progress reports, stop requests and deadline.

    The run loop calls :meth:`check` between repeats (every engine) and a distributed engine calls
    :meth:`heartbeat` between wait slices. ``progress`` and ``should_stop`` are called from the
    thread that called :func:`run_experiment` only (Streamlit's calls must come from the script
    thread), and whatever they raise propagates unchanged.
    """

    def __init__(
        self,
        notify: Progress = _quiet,
        should_stop: Callable[[], bool] | None = None,
        deadline_s: float | None = None,
    ) -> None:
        self.notify = notify
        self.should_stop = should_stop
        self.deadline_s = deadline_s
        self.t0: float | None = None
        self.where = "start-up"
        self.index = 0
        self.total = 1

    def start(self) -> None:
        """Start the deadline's clock (after the engine's start-up: a cluster start is not compute)."""
        self.t0 = time.perf_counter()

    def stage(self, where: str, index: int, total: int) -> None:
        self.where, self.index, self.total = where, index, max(total, 1)

    def check(self) -> None:
        """Raise :class:`RunCancelled` or :class:`RunTimeout` if the run must stop now."""
        if self.should_stop is not None and self.should_stop():
            raise RunCancelled(f"the run was stopped on request (at {self.where})")
        if self.deadline_s is not None and self.t0 is not None:
            elapsed = time.perf_counter() - self.t0
            if elapsed > self.deadline_s:
                raise RunTimeout(
                    f"the run exceeded its time limit of {self.deadline_s:g} s and was stopped after"
                    f" {elapsed:.1f} s (at {self.where})"
                )

    def heartbeat(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` tasks of the current repeat, then :meth:`check`."""
        self.notify(f"{self.where}: {done} of {total} tasks done", (self.index + done / max(total, 1)) / self.total)
        self.check()



Compute = Callable[[list[Delayed]], list[Any]]


class Engine(Protocol):
    """What the run path needs from an engine.

    ``setup`` returns the seconds it spent on one-time start-up (0 if reused). ``repeat`` is a
    context manager around one measured compute: entering it is that repeat's start-up (the
    ``processes`` scheduler starts a new pool on every compute), the yielded function computes a list
    of delayed tasks, and leaving it is the repeat's teardown.
    """

    def setup(self) -> float: ...

    def repeat(self) -> AbstractContextManager[Compute]: ...

    def verify(self) -> None:
        """Raise if the repeat that just ended cannot be trusted (called outside every stopwatch)."""

    def info(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
