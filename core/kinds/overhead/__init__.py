"""``overhead``: what parallelism costs on this machine before any useful work is done.

One kind of measurement in four parts, a module each (``per_task``, ``startup``, ``chunksize``,
``break_even``; ``common`` is what they share), each a frozen spec → a frozen result with tidy frames,
its own sentences and charts, and the machine's metadata. A page measures one part at a time (each section
passes its part's spec to the one run panel); ``python -m core overhead`` measures the per-task and
start-up parts, and the break-even sweep with ``--break-even`` (:class:`OverheadSpec`):

* **per-task overhead** (:func:`measure_per_task`): each engine computes a graph of N no-op tasks and a
  graph of one. The one-task compute is the engine's fixed cost per ``compute`` (a round trip to the
  scheduler, submitting a batch); the difference, divided by the N − 1 extra tasks, is what one more
  task costs. Dask's docs quote ~50 µs per task for the threaded scheduler and ~1 ms for distributed
  (:data:`DOCS_FIGURES`); the result puts this machine's figures next to them.
* **start-up** (:func:`measure_startup`): a spawn process pool started for every compute (what Dask's
  ``processes`` scheduler does) versus one pool reused; a ``LocalCluster`` with ``processes=False`` and
  ``processes=True`` until its ``Client`` sees every worker.
* **the chunksize effect** (:func:`measure_chunksize`): Dask's processes scheduler sends ready tasks in
  batches of ``chunksize`` (6 by default), so 4 ready tasks go to ONE process; with 1 they spread.
* **break-even task size** (:func:`measure_break_even`): the smallest fib ``n`` from which a process
  engine beats ``sync`` on this machine.

The chunksize and break-even parts are comparisons (over chunksizes; over fib n, every engine next to
sync): their points are measured in interleaved rounds (:mod:`core.kinds.points`), so a burst of load
on the shared machine hits every point alike. Every engine comes from :mod:`core.engines`, so the
numbers describe the same engines the other pages use; every pool and cluster started here is closed
before the function returns (clusters passed in by the caller stay the caller's). The caller holds the
run slot (:func:`core.kinds.base.measure` does).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.kinds.base import KindBase, RunContext, StrictJson, add_option, records
from core.kinds.overhead.break_even import (
    BreakEvenResult,
    BreakEvenSpec,
    break_even_chart,
    break_even_cost,
    break_even_lines,
    extrapolate_break_even,
    measure_break_even,
    sweep_sizes,
)
from core.kinds.overhead.chunksize import ChunksizeResult, ChunksizeSpec, chunksize_cost, measure_chunksize
from core.kinds.overhead.common import (
    ADVICE,
    ALL_STARTUP_CASES,
    BEYOND_DASK_ENGINES,
    BREAK_EVEN_ENGINES,
    DASK_DEFAULT_CHUNKSIZE,
    DOCS_FIGURES,
    GRAPH_FORM_LABELS,
    GRAPH_FORMS,
    OVERHEAD_ENGINES,
    PARALLEL_ENGINES,
    PER_TASK_ENGINES,
    STARTUP_CASES,
    STARTUP_LABELS,
    noop_graph,
    references_frame,
)
from core.kinds.overhead.per_task import (
    PerTaskResult,
    PerTaskSpec,
    measure_per_task,
    per_task_cost,
    per_task_head,
    per_task_lines,
    per_task_overhead_chart,
)
from core.kinds.overhead.startup import (
    StartupResult,
    StartupSpec,
    measure_startup,
    startup_chart,
    startup_cost,
    startup_lines,
)
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo
from core.spec import SCHEDULERS, short_repr

__all__ = [
    "ALL_STARTUP_CASES", "BEYOND_DASK_ENGINES", "BREAK_EVEN_ENGINES", "PER_TASK_ENGINES",
    "DASK_DEFAULT_CHUNKSIZE", "DOCS_FIGURES", "GRAPH_FORMS", "GRAPH_FORM_LABELS", "KIND", "OVERHEAD_ENGINES",
    "PARALLEL_ENGINES", "STARTUP_CASES", "STARTUP_LABELS", "BreakEvenResult", "BreakEvenSpec", "ChunksizeResult",
    "ChunksizeSpec", "OverheadResult", "OverheadSpec", "PerTaskResult", "PerTaskSpec", "StartupResult", "StartupSpec",
    "break_even_chart", "extrapolate_break_even", "measure_break_even", "measure_chunksize", "measure_per_task",
    "measure_startup", "noop_graph", "parse_sizes", "per_task_overhead_chart", "references_frame", "report",
    "report_table", "specs_from_args", "startup_chart", "sweep_sizes",
]

# --- the CLI's set: per-task and start-up, with the break-even sweep on request ----------------------------


@dataclass(frozen=True)
class OverheadSpec:
    """What ``python -m core overhead`` measures: the per-task and start-up parts, and optionally break-even."""

    per_task: PerTaskSpec = field(default_factory=PerTaskSpec)
    startup: StartupSpec = field(default_factory=StartupSpec)
    break_even: BreakEvenSpec | None = None

    @property
    def label(self) -> str:
        return f"overhead anatomy ({self.per_task.tasks} no-op tasks{', break-even' if self.break_even else ''})"

    def parts(self) -> list[Any]:
        return [self.per_task, self.startup] + ([self.break_even] if self.break_even is not None else [])


@dataclass(frozen=True)
class OverheadResult(StrictJson):
    """The per-task and start-up results (and the break-even sweep's) of one ``overhead`` measurement."""

    spec: OverheadSpec
    per_task: PerTaskResult
    startup: StartupResult
    break_even: BreakEvenResult | None = None

    @property
    def machine(self) -> MachineInfo:
        return self.per_task.machine

    @property
    def noise(self) -> Any:
        return self.per_task.noise

    @property
    def run_id(self) -> str:
        return self.per_task.run_id

    @property
    def started_at(self) -> str:
        return self.per_task.started_at

    def parts(self) -> list[Any]:
        return [self.per_task, self.startup] + ([self.break_even] if self.break_even is not None else [])

    def to_dict(self) -> dict[str, Any]:
        """The ``overhead --json`` object (:func:`report`)."""
        return report(self.per_task, self.startup, self.break_even)


    def metrics(self) -> list[tuple[str, str, str, str]]:
        return self.per_task.metrics()

    def explain(self) -> list[str]:
        return [s for part in self.parts() for s in part.explain()]

    def charts(self) -> list[tuple[str, Any]]:
        return [c for part in self.parts() for c in part.charts()]

    def captions(self) -> dict[str, str]:
        return {k: v for part in self.parts() for k, v in part.captions().items()}

    def frames(self) -> dict[str, pd.DataFrame]:
        out = {f"per-task {k}": v for k, v in self.per_task.frames().items()}
        out.update({f"start-up {k}": v for k, v in self.startup.frames().items()})
        if self.break_even is not None:
            out.update({f"break-even {k}": v for k, v in self.break_even.frames().items()})
        return out

    def text(self) -> str:
        return report_table(self.to_dict())


def report(per_task: PerTaskResult, startup: StartupResult, break_even: BreakEvenResult | None = None) -> dict:
    """One JSON-ready object for the CLI: ``per_task_us`` and ``startup_s`` by engine, spreads and details.

    ``per_task_us`` and ``startup_s`` map an engine (a start-up case for ``startup_s``) to its median;
    ``engines`` and ``startup`` hold the spread and every figure; ``docs`` Dask's quoted figures.
    """
    engines = records(per_task.summary)
    starts = records(startup.summary)
    out: dict[str, Any] = {
        "per_task_us": {row["scheduler"]: row["per_task_us"] for row in engines},
        "startup_s": {row["case"]: row["startup_s"] for row in starts},
        "per_compute_startup_s": {row["case"]: row["per_compute_s"] for row in starts},
        "tasks": per_task.spec.tasks,
        "workers": per_task.spec.workers,
        "repeats": per_task.spec.repeats,
        "graph": per_task.spec.graph,
        "chunksize": per_task.spec.chunksize,
        "engines": engines,
        "startup": starts,
        "docs": records(references_frame()),
        "machine": per_task.machine.to_dict(),
        "run_ids": {"per_task": per_task.run_id, "startup": startup.run_id},
    }
    if break_even is not None:
        out["break_even"] = break_even.to_dict()
        out["run_ids"]["break_even"] = break_even.run_id
    return out


def report_table(out: dict[str, Any]) -> str:
    """The CLI's plain-text view of :func:`report`."""
    lines = [*per_task_head(out["tasks"], out["graph"], out["workers"], out["repeats"], out["machine"]), "",
             *per_task_lines(out["engines"], out["docs"]), "", *startup_lines(out["startup"])]
    if "break_even" in out:
        lines += ["", *break_even_lines(out["break_even"])]
    return "\n".join(lines)


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"18:30:3"`` (start:stop:step, stop included) or ``"18,24,30"`` as a tuple of fib n."""
    try:
        if ":" in text:
            start, stop, step = (int(part) for part in text.split(":"))
            return sweep_sizes(start, stop, step)
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"--sizes must be START:STOP:STEP or a comma list of fib n, e.g. 18:30:3 (got {short_repr(text)})"
        ) from None


def startup_cases_for(scheduler: str) -> tuple[str, ...]:
    """The start-up cases of one engine (``processes`` has two: a pool per compute, and one reused)."""
    if scheduler == "all":
        return STARTUP_CASES
    return ("processes", "processes-reused") if scheduler == "processes" else (scheduler,)


def specs_from_args(args: Any) -> OverheadSpec:
    """The spec of ``python -m core overhead``'s arguments; ``ValueError`` names the bad one."""
    scheduler = args.scheduler
    engines = OVERHEAD_ENGINES if scheduler == "all" else (scheduler,)
    per_task = PerTaskSpec(engines=engines, tasks=args.tasks, workers=args.workers, repeats=args.repeats,
                           chunksize=args.chunksize, graph=args.graph)
    startup = StartupSpec(cases=startup_cases_for(scheduler), workers=args.workers, repeats=args.repeats)
    break_even = None
    if not args.break_even and (args.sizes is not None or args.fib_tasks is not None):
        # Silently ignoring them would start a different (and longer) measurement than the one asked for.
        raise ValueError("--sizes and --fib-tasks only apply with --break-even")
    if args.break_even:
        if scheduler == "sync":
            raise ValueError("--break-even compares a parallel engine with sync: pick another --scheduler (or all)")
        sweep = ("processes", "cluster-processes") if scheduler == "all" else (scheduler,)
        break_even = BreakEvenSpec(sizes=parse_sizes(args.sizes or "18:30:3"),
                                   tasks=4 if args.fib_tasks is None else args.fib_tasks, workers=args.workers,
                                   repeats=args.repeats, engines=sweep)
    return OverheadSpec(per_task=per_task, startup=startup, break_even=break_even)


# --- the kind ----------------------------------------------------------------------------------------------

_COSTS: dict[type, Callable[[Any], Cost]] = {PerTaskSpec: per_task_cost, StartupSpec: startup_cost,
                                            ChunksizeSpec: chunksize_cost, BreakEvenSpec: break_even_cost}


class OverheadKind(KindBase, name="overhead", title="overhead measurement",
                   spec=(OverheadSpec, PerTaskSpec, StartupSpec, ChunksizeSpec, BreakEvenSpec),
                   help="what parallelism costs here: per-task overhead and start-up by engine"):
    """``python -m core overhead``; on the page, each of its four parts on its own (one spec type per part)."""

    def cost(self, spec: Any) -> Cost:
        if isinstance(spec, OverheadSpec):
            parts = [self.cost(p) for p in spec.parts()]
            return Cost(seconds=sum(p.seconds for p in parts), memory_bytes=max(p.memory_bytes for p in parts),
                        longest_uncancellable_s=max(p.longest_uncancellable_s for p in parts),
                        what="this measurement", advice=ADVICE)
        return _COSTS[type(spec)](spec)

    def run(self, spec: Any, ctx: RunContext) -> Any:
        if isinstance(spec, OverheadSpec):
            break_even = self.run(spec.break_even, ctx) if spec.break_even is not None else None
            return OverheadResult(spec, self.run(spec.per_task, ctx), self.run(spec.startup, ctx), break_even)
        if isinstance(spec, PerTaskSpec):
            return measure_per_task(spec, clusters=ctx.clusters, progress=ctx.progress)
        if isinstance(spec, StartupSpec):
            return measure_startup(spec, progress=ctx.progress)
        if isinstance(spec, ChunksizeSpec):
            return measure_chunksize(spec, ctx=ctx)
        return measure_break_even(spec, ctx=ctx)

    def add_arguments(self, over: argparse.ArgumentParser) -> None:
        over.add_argument("--scheduler", default="all", choices=[*(s for s in SCHEDULERS if s != "external"), "all"],
                          help="the engine to measure, or all of Dask's (default all); the pools beyond Dask"
                               " (futures-*, multiprocessing, joblib-*) by name")
        add_option(over, "workers", "threads, processes or cluster workers", 2)
        add_option(over, "tasks", "no-op tasks per graph, 10 to 20000", 1000)
        add_option(over, "repeats", "measured repeats; the median is reported", 3)
        add_option(over, "chunksize", "processes and the process pools beyond Dask: tasks per submission (default 6,"
                   " Dask's); joblib's batch_size", 6)
        over.add_argument("--graph", default="single", choices=["single", "list"],
                          help="single: one graph of N tasks; list: dask.compute(*N delayed) (default single)")
        over.add_argument("--break-even", action="store_true",
                          help="also sweep fib n to find where processes beat sync")
        over.add_argument("--sizes", help="with --break-even: fib n as START:STOP:STEP or a list (default 18:30:3)")
        over.add_argument("--fib-tasks", type=int, help="with --break-even: fib tasks per run (default 4)")

    def spec_from_args(self, args: argparse.Namespace) -> OverheadSpec:
        return specs_from_args(args)


KIND = OverheadKind()
