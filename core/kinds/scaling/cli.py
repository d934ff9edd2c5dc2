"""The ``sweep`` verb: its arguments, its spec, :data:`KIND`, and :func:`scaling_sweep` (one call, one sweep)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from core.kinds.base import KindBase, RunContext, add_option, check, measure
from core.kinds.points import points_cost
from core.kinds.scaling.result import ScalingResult, run_scaling
from core.kinds.scaling.spec import SCALING_SCHEDULERS, SCALING_WORKLOADS, ScalingSpec
from core.measure.estimate import Cost
from core.workloads import WORKLOADS

# --- the kind ----------------------------------------------------------------------------------------------


class ScalingKind(KindBase, name="sweep", title="scaling sweep", spec=ScalingSpec,
                  help="speedup and efficiency vs workers for one engine (strong scaling)"):
    """``python -m core sweep``: speedup and efficiency vs workers for one engine, in interleaved rounds."""

    def cost(self, spec: ScalingSpec) -> Cost:
        specs = spec.experiments()
        return points_cost(specs, spec.repeats, what=f"this sweep ({len(specs)} points)",
                           advice="lower the size, tasks or repeats, or sweep fewer points (the CLI's --force runs"
                                  " it anyway)")

    def run(self, spec: ScalingSpec, ctx: RunContext) -> ScalingResult:
        return run_scaling(spec, ctx)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--workload", default="fib", choices=list(SCALING_WORKLOADS), help="a CPU-bound workload"
                       " (default fib)")
        add_option(p, "size", "workload size (fib n, …); default per workload")
        p.add_argument("--scheduler", default="processes", choices=list(SCALING_SCHEDULERS),
                       help="the engine to scale (default processes)")
        p.add_argument("--workers", default="1,2,4", help="worker counts, e.g. 1,2,4 (1 is always added)")
        add_option(p, "tasks", "total tasks of every point (default: 2 × max workers, divisible by every count)")
        add_option(p, "repeats", "measured rounds, every worker count once per round", 3)
        p.add_argument("--no-sync", action="store_true", help="skip the sync reference point")

    def spec_from_args(self, args: argparse.Namespace) -> ScalingSpec:
        size = args.size if args.size is not None else WORKLOADS[args.workload].default_size
        return ScalingSpec(workload=args.workload, size=size, scheduler=args.scheduler, workers=args.workers,
                           tasks=args.tasks, repeats=args.repeats, include_sync=not args.no_sync)


KIND = ScalingKind()


def scaling_sweep(workload: str = "fib", size: float = 27, scheduler: str = "processes",
                  workers: str | Sequence[int] = (1, 2, 4), tasks: int | None = None, repeats: int = 3, *,
                  include_sync: bool = True, clusters: Any = None, max_seconds: float | None = 60.0,
                  progress: Any = None) -> ScalingResult:
    """Measure speedup and parallel efficiency of ``scheduler`` at each worker count (see :class:`ScalingSpec`).

    ``max_seconds``: refuse (``BudgetError``) a sweep estimated longer, or needing more than half the
    available memory (``None``: no check). ``clusters``, ``progress``: as in :class:`RunContext`.
    """
    spec = ScalingSpec(workload, size, scheduler, workers, tasks, repeats, include_sync)  # type: ignore[arg-type]
    if max_seconds is not None:
        check(KIND.cost(spec), max_seconds)
    ctx = RunContext(clusters=clusters, **({"progress": progress} if progress else {}))
    return measure(KIND, spec, ctx)
