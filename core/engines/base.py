"""What every engine shares: the errors a run can end with, the watch that stops it, the Engine protocol.

Like ``dask/local.py``, which runs every local scheduler through ``get_async`` with the executor
injected, GIL Lab runs every engine through one run path (:mod:`core.measure.run`): only the small
:class:`Engine` objects differ, and each one says how to start, how to compute a list of delayed tasks,
and how to stop. Timing, per-task evidence and result building are therefore identical for all
engines, which is what makes their numbers comparable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from dask.delayed import Delayed, delayed

from core.progress import Progress
from core.progress import quiet as _quiet


class EngineError(RuntimeError):
    """An engine could not start or run (e.g. an external cluster is unreachable)."""


class RunCancelled(EngineError):
    """The run was stopped because ``should_stop()`` said so; nothing of it is left running."""


class RunTimeout(EngineError):
    """The run went past its ``deadline_s`` and was stopped; the message names the limit."""


class WorkerLost(EngineError):
    """A worker died or left during the run, so some tasks ran twice: the measurement is discarded."""


# A step (a round of a comparison, a repeat of a run) is hung once it takes this many times the slowest step
# before it, and at least STALL_FLOOR_S: a loaded machine slows every step alike, a hang only one.
STALL_FACTOR = 5.0
STALL_FLOOR_S = 10.0


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
        self._step_t0: float | None = None
        self._step_limit_s: float | None = None
        self._step_usual_s = 0.0

    def start(self) -> None:
        """Start the deadline's clock (after the engine's start-up: a cluster start is not compute)."""
        self.t0 = time.perf_counter()

    def stage(self, where: str, index: int, total: int) -> None:
        self.where, self.index, self.total = where, index, max(total, 1)

    def step(self, usual_s: float | None) -> None:
        """A new step begins (a round, a repeat) that usually takes about ``usual_s`` (None: no limit of its own).

        The step counts as hung, and the run is stopped, only once it has taken :data:`STALL_FACTOR` times
        the slowest step measured before it, and at least :data:`STALL_FLOOR_S`. A limit derived from the
        run's own steps keeps up with a loaded machine: a round that takes three times its estimate because
        twenty-nine other sessions share the server is still a round, and the whole-run ``deadline_s`` (a
        hard cap for runs that truly hang) stays far away.
        """
        self._step_t0 = time.perf_counter()
        self._step_usual_s = usual_s or 0.0
        self._step_limit_s = None if usual_s is None else max(STALL_FLOOR_S, STALL_FACTOR * usual_s)

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
        if self._step_limit_s is not None and self._step_t0 is not None:
            took = time.perf_counter() - self._step_t0
            if took > self._step_limit_s:
                raise RunTimeout(
                    f"{self.where} had taken {took:.1f} s where the slowest step before it took"
                    f" {self._step_usual_s:.2f} s: it was stopped as hung (limit {self._step_limit_s:.0f} s)"
                )

    def heartbeat(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` tasks of the current repeat, then :meth:`check`."""
        self.notify(f"{self.where}: {done} of {total} tasks done", (self.index + done / max(total, 1)) / self.total)
        self.check()



class _Shared:
    def __repr__(self) -> str:
        return "<shared payload>"


SHARED = _Shared()
"""Stands for :attr:`Work.payload` in a task's arguments (one node of a Dask graph, one object for a pool)."""


@dataclass(frozen=True, eq=False)
class Work:
    """One compute's tasks, in the two forms engines take them.

    Dask engines compute :meth:`delayed` (impure tasks with explicit keys, the shared payload one graph
    node); the pools beyond Dask run :meth:`calls`, plain ``(function, args)`` pairs. Both come from the
    same function and arguments, so every engine runs exactly the same tasks. Each form is built once
    (the run path builds both before its stopwatch starts, as it built the graph before).
    """

    func: Callable[..., Any]
    args: tuple[tuple[Any, ...], ...]
    keys: tuple[str, ...]
    payload: Any = None
    payload_key: str = "payload"
    task: Callable[..., Delayed] | None = None  # how a graph's task references func: delayed(func) by default

    def delayed(self) -> list[Delayed]:
        return self._graph

    def calls(self) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        return self._calls

    @cached_property
    def _graph(self) -> list[Delayed]:
        shared = delayed(self.payload, name=self.payload_key) if self.payload is not None else None
        task = self.task or delayed(self.func)
        return [task(*(shared if a is SHARED else a for a in args), dask_key_name=key)
                for args, key in zip(self.args, self.keys, strict=True)]

    @cached_property
    def _calls(self) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        return [(self.func, tuple(self.payload if a is SHARED else a for a in args)) for args in self.args]

    def __len__(self) -> int:
        return len(self.args)


def as_delayed(work: Work | Sequence[Delayed]) -> list[Delayed]:
    """What a Dask engine computes: a :class:`Work`'s graph, or a plain list of Delayed (the overhead kind's)."""
    return work.delayed() if isinstance(work, Work) else list(work)


def as_calls(work: Work | Sequence[Delayed]) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
    """What a plain pool runs: a :class:`Work`'s calls (a Dask graph has no plain form)."""
    if not isinstance(work, Work):
        raise EngineError("the pools beyond Dask run plain calls: hand them a Work, not a list of Delayed")
    return work.calls()


def pool_info(processes: int, threads_per_process: int) -> dict[str, Any]:
    """What :meth:`Engine.info` says of a pool: its worker processes and the threads in each."""
    return {"n_workers": processes, "threads_per_worker": threads_per_process,
            "total_threads": processes * threads_per_process}


Compute = Callable[[Any], list[Any]]
"""``compute(work)``: a :class:`Work` (or, for Dask engines, a plain list of Delayed) -> its task results."""


class Engine(Protocol):
    """What the run path needs from an engine.

    ``setup`` returns the seconds it spent on one-time start-up (0 if reused). ``repeat`` is a
    context manager around one measured compute: entering it is that repeat's start-up (the
    ``processes`` scheduler starts a new pool on every compute), the yielded function computes one
    :class:`Work` (Dask engines also take a plain list of delayed tasks), and leaving it is the
    repeat's teardown.
    """

    def setup(self) -> float: ...

    def repeat(self) -> AbstractContextManager[Compute]: ...

    def verify(self) -> None:
        """Raise if the repeat that just ended cannot be trusted (called outside every stopwatch)."""

    def info(self) -> dict[str, Any]: ...

    def close(self) -> None: ...
