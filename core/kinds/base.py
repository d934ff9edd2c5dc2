"""The measurement protocol: what every kind of measurement implements, and the one way to run any of them.

Every measurement in the lab, from a comparison of engines to a GIL trace, is a **kind** that goes
the same way (as pyperf's one ``Runner`` times a function, a command or a statement alike):

``spec`` → :meth:`Kind.cost` → :func:`measure` (budget check, run slot, :meth:`Kind.run` with a
:class:`RunContext`) → a **result** with tidy frames, ``to_dict`` / ``to_json``, ``explain()`` (the
sentences, written from its own numbers), ``charts()`` and ``text()`` (the terminal's table).

The CLI's verbs (:mod:`core.cli`), the app's one run panel and result store (``pages/shell/panel.py``,
:mod:`core.serve.store`) and the presets are written once, against this protocol. To add a kind: one
module in ``core/kinds/`` with a frozen spec, a result, and a :class:`Kind` object registered in
:data:`core.kinds.KINDS`; plus its page.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from core.measure.estimate import BudgetError, Cost
from core.progress import Progress
from core.progress import quiet as _quiet
from core.serve.slot import RUN_SLOT, SlotStatus


@dataclass
class RunContext:
    """Everything a run gets from its caller, the same for every kind.

    Attributes
    ----------
    clusters : ClusterSource, optional
        Where LocalCluster engines get their clusters (a :class:`core.engines.ClusterRegistry`, or the
        app's cached handles); the process-wide registry when None.
    progress : callable
        ``progress(message, fraction_done)``, called from the running thread only.
    on_partial : callable, optional
        ``on_partial(result)`` with the result so far, for kinds measured in rounds (live results).
    should_stop : callable, optional
        ``should_stop()`` returning True stops the run at its next check (a closed browser tab).
    deadline_s : float, optional
        Seconds the run may take once started; past it the run stops with ``RunTimeout``.
    max_wait_s : float, optional
        How long to queue for the run slot behind another run (``SlotBusy`` after that).
    on_wait : callable, optional
        ``on_wait(status)`` while queueing: who holds the slot, and about how long is left.
    """

    clusters: Any = None
    progress: Progress = _quiet
    on_partial: Callable[[Any], None] | None = None
    should_stop: Callable[[], bool] | None = None
    deadline_s: float | None = None
    max_wait_s: float | None = None
    on_wait: Callable[[SlotStatus], None] | None = None

    def watch(self) -> Any:
        """A fresh :class:`core.engines.Watch` for this context (imported late: it loads Dask)."""
        from core.engines import Watch

        return Watch(self.progress, self.should_stop, self.deadline_s)


@runtime_checkable
class Result(Protocol):
    """What every kind's result offers (frozen dataclasses carrying their machine and start time).

    Optional: ``metrics()`` (``(label, value, note, help)`` tuples for the page's metric row), ``noise``
    (a :class:`core.measure.noise.Noise`), ``warnings()`` (one line each: the CLI prints them on stderr,
    a page shows them with ``st.warning``; they are in the JSON too), and, for kinds measured in rounds
    whose partial results reach ``RunContext.on_partial``, ``live_table()`` / ``live_chart()`` (what a page
    redraws each round) and ``progress_line()`` (what the terminal prints each round).
    """

    def to_dict(self) -> dict[str, Any]: ...

    def explain(self) -> list[str]: ...

    def charts(self) -> list[tuple[str, Any]]: ...

    def text(self) -> str: ...

    def frames(self) -> dict[str, Any]: ...


class Kind(Protocol):
    """A kind of measurement: its name (the CLI verb), its spec type, how to cost, parse and run it."""

    name: ClassVar[str]
    title: ClassVar[str]
    spec_type: ClassVar[type | tuple[type, ...]]  # a tuple: a kind measured in parts, each part its own spec

    def cost(self, spec: Any) -> Cost: ...

    def run(self, spec: Any, ctx: RunContext) -> Any: ...

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def spec_from_args(self, args: argparse.Namespace) -> Any: ...


def strict_json(payload: Any, indent: int | None = None) -> str:
    """JSON with no NaN or Infinity tokens: non-finite floats become ``null`` (scripts parse strict JSON)."""
    return json.dumps(_strict(payload), indent=indent, allow_nan=False)


def _strict(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:  # numpy scalars, and pandas' missing value of nullable columns
        import numpy as np
        import pandas as pd

        if value is pd.NA:
            return None

        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return float(value) if math.isfinite(float(value)) else None
    except ImportError:
        pass
    return value


class StrictJson:
    """``to_json`` for a result whose ``to_dict`` is JSON-ready: strict JSON, no NaN or Infinity tokens."""

    def to_json(self, indent: int | None = None) -> str:
        return strict_json(self.to_dict(), indent)  # type: ignore[attr-defined]


def records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as strict-JSON-ready dicts (NaN and missing values become ``None``)."""
    return _strict(frame.to_dict(orient="records"))


def machine_line(machine: Any, gil: str | None = None) -> str:
    """The terminal's one line about the machine a result was measured on."""
    return (f"machine: {machine.usable_cores} usable of {machine.logical_cores} logical cores · Python"
            f" {machine.python_version} (GIL {gil or machine.gil_label}) · dask {machine.dask_version}"
            f" · distributed {machine.distributed_version}")


def check(cost: Cost, max_seconds: float, *, uncancellable_s: float | None = None,
          memory_fraction: float | None = None, memory_limit_bytes: int | None = None) -> Cost:
    """``cost`` if it fits the limits, else :class:`BudgetError` saying what is over and what to change.

    Parameters
    ----------
    cost : Cost
        The measurement's estimate.
    max_seconds : float
        The most the whole measurement may take.
    uncancellable_s : float, optional
        The most one piece that cannot be stopped once started may take (a compute on a local engine).
    memory_fraction, memory_limit_bytes
        The share of the available memory (default: what is free now) one measurement may need.
    """
    from core.measure.estimate import MEMORY_FRACTION, fmt_seconds
    from core.measure.machine import available_memory_bytes

    fraction = MEMORY_FRACTION if memory_fraction is None else memory_fraction
    limit = memory_limit_bytes if memory_limit_bytes is not None else available_memory_bytes()
    if limit is not None and cost.memory_bytes > fraction * limit:
        raise BudgetError(
            f"{cost.what} would need about {cost.memory_bytes / 1e6:,.0f} MB, more than {fraction:.0%} of the"
            f" {limit / 1e6:,.0f} MB available: lower the size, tasks or workers"
        )
    if uncancellable_s is not None and cost.longest_uncancellable_s > uncancellable_s:
        raise BudgetError(
            f"one compute of {cost.what} on a local engine is estimated at {fmt_seconds(cost.longest_uncancellable_s)}"
            f" s, over the {fmt_seconds(uncancellable_s)} s allowed here for a piece that cannot be cancelled once"
            " started: lower the size or tasks"
        )
    if cost.seconds > max_seconds:
        raise BudgetError(
            f"{cost.what} is estimated at {fmt_seconds(cost.seconds)} s, over the {fmt_seconds(max_seconds)} s budget:"
            f" {cost.advice}"
        )
    return cost


@contextmanager
def run_slot(label: str, estimate_s: float, ctx: RunContext | None = None) -> Iterator[float]:
    """Hold the run slot, the one place the lab takes it: one measurement at a time in this process.

    Two runs at once would share the cores and measure each other, so every measurement (:func:`measure`,
    :func:`measure_all`), the app's warm start and the cluster demos queue here. Waiting callers are told
    what holds the slot and about how long it has left (``ctx.on_wait``, else ``ctx.progress``); a caller
    that gives up (``ctx.should_stop``) or waits past ``ctx.max_wait_s`` holds nothing. The slot is
    reentrant, so a measurement made of other measurements holds it once. Yields the seconds waited.
    """
    ctx = ctx or RunContext()

    def waiting(status: SlotStatus) -> None:
        if ctx.on_wait is not None:
            ctx.on_wait(status)
        else:
            ctx.progress(f"Waiting for another experiment to finish (runs never overlap: they would share cores):"
                         f" {status.describe()}", 0.0)

    def gave_up() -> bool:
        if ctx.should_stop is not None and ctx.should_stop():
            from core.engines import RunCancelled

            raise RunCancelled("the run was stopped on request while it waited for another one")
        return False

    expected = 0.0 if RUN_SLOT.held_by_me else estimate_s
    with RUN_SLOT.hold(label, estimate_s=expected, max_wait_s=ctx.max_wait_s, on_wait=waiting,
                       should_stop=gave_up) as waited:
        yield waited


def measure(kind: Kind, spec: Any, ctx: RunContext | None = None) -> Any:
    """Run ``spec`` of ``kind`` in the run slot (:func:`run_slot`): the one run path of every kind."""
    ctx = ctx or RunContext()
    with run_slot(getattr(spec, "label", kind.title), 0.0 if RUN_SLOT.held_by_me else kind.cost(spec).typical_s,
                  ctx):
        return kind.run(spec, ctx)


def measure_all(jobs: list[tuple[Kind, Any]], ctx: RunContext | None = None, *, label: str = "an experiment",
                estimate_s: float = 0.0, each: Callable[[int], None] | None = None) -> tuple[list[Any], float]:
    """Run several ``(kind, spec)`` jobs behind one wait for the run slot; ``(results, seconds waited)``.

    A page that shows several measurements behind one button queues once, not once per measurement (a
    visitor would otherwise lose their place between them). ``each(i)`` is called before job ``i`` starts.
    """
    ctx = ctx or RunContext()
    with run_slot(label, estimate_s, ctx) as waited:
        results = []
        for i, (kind, spec) in enumerate(jobs):
            if each is not None:
                each(i)
            results.append(measure(kind, spec, ctx))
    return results, waited
