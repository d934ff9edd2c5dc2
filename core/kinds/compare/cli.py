"""The ``compare`` verb: its arguments, and the spec they ask for (a preset or engines of your choosing)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from core.kinds.base import KindBase, RunContext, add_option, add_workload_options
from core.kinds.compare.presets import PRESETS, preset
from core.kinds.compare.result import ComparisonResult
from core.kinds.compare.run import cost, run_compare
from core.kinds.compare.spec import DEFAULT_BUDGET_S, Arm, CompareSpec, Rounds, parse_arms
from core.kinds.run import NO_SHIP_HELP, add_function_arguments, function_fields
from core.measure.estimate import Cost
from core.measure.stats import MAX_ROUNDS
from core.spec import (
    CHUNKSIZE_SCHEDULERS,
    DISTRIBUTED_SCHEDULERS,
    PROCESS_POOL_SCHEDULERS,
)
from core.workloads import FUNCTION, WORKLOADS

FUNCTION_ENGINES = "sync,futures-threads:4,futures-processes:4"  # --function's default arms (warm pools)


class CompareKind(KindBase, name="compare", title="comparison", spec=CompareSpec,
                  help="compare engines on the same tasks in interleaved rounds, with verdicts"):
    """``python -m core compare``: arms in interleaved rounds, verdicts with confidence."""

    def cost(self, spec: CompareSpec) -> Cost:
        return cost(spec)

    def run(self, spec: CompareSpec, ctx: RunContext) -> ComparisonResult:
        return run_compare(spec, ctx)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--preset", choices=list(PRESETS), help="a named comparison (each page's default)")
        add_workload_options(p, WORKLOADS)
        add_option(p, "tasks", "independent tasks (default 4)")
        p.add_argument("--engines", help="ENGINE[:WORKERS[xTHREADS]],… the baseline first, e.g."
                       " sync,threads:4,processes:4,cluster-threads:1x4,cluster-processes:4x1; ENGINE@3.13 runs sync,"
                       " threads or interpreters on another interpreter (python -m core interpreters)")
        p.add_argument("--rounds", default=None, help="auto (default: until decided, within the budget) or N")
        p.add_argument("--budget", type=float, default=None, metavar="S",
                       help=f"auto rounds: stop adding rounds after about S seconds (default {DEFAULT_BUDGET_S:g})")
        add_option(p, "chunksize", "arms that batch tasks (processes, futures-processes, multiprocessing, joblib-*):"
                   " tasks per submission (default 1)")
        p.add_argument("--reuse-pool", action="store_true",
                       help="local process pools (processes, futures-processes, multiprocessing, joblib-loky): one warm"
                            " pool for every round, its start-up reported apart")
        add_option(p, "blas-threads", "BLAS threads in numpy-matmul tasks (default 1)")
        p.add_argument("--address", help="the scheduler of an existing cluster, for an 'external' arm")
        p.add_argument("--no-ship", action="store_true", help=NO_SHIP_HELP)
        add_function_arguments(p)

    def spec_from_args(self, args: argparse.Namespace) -> CompareSpec:
        rounds: Rounds = "auto"
        if args.rounds is not None:
            text = str(args.rounds).strip()
            if text != "auto":
                if not text.isdigit():
                    raise ValueError(f"--rounds must be auto or a whole number from 1 to {MAX_ROUNDS}"
                                     f" (got {text[:40]!r})")
                rounds = int(text)
        task = function_fields(args)
        fixed = ("workload", "size", "tasks", "engines", "chunksize", "blas_threads", "address", "function")
        explicit = [o for o in fixed if getattr(args, o) is not None] + (["reuse_pool"] if args.reuse_pool else [])
        if args.preset:
            if explicit:
                raise ValueError(f"--preset fixes the engines and tasks; drop --{explicit[0].replace('_', '-')}"
                                 " or the preset")
            spec = preset(args.preset)
        elif not explicit:
            spec = preset("start")  # no settings at all: the lab's first comparison
        else:
            workload = args.workload or "fib"
            task = task or {"workload": workload,
                            "size": args.size if args.size is not None else WORKLOADS[workload].default_size}
            # Your function: does it want threads or processes? The default asks both, with warm pools.
            reuse = args.reuse_pool or (task["workload"] == FUNCTION and args.engines is None)
            default = FUNCTION_ENGINES if task["workload"] == FUNCTION else "sync,threads:4,processes:4"
            try:
                arms = parse_arms(default if args.engines is None else args.engines)
            except ValueError as exc:
                raise ValueError(f"--engines: {exc}") from None
            chunksize = 1 if args.chunksize is None else args.chunksize
            arms = tuple(replace(a, chunksize=chunksize if a.engine in CHUNKSIZE_SCHEDULERS else 1,
                                 reuse_pool=reuse and a.engine in PROCESS_POOL_SCHEDULERS, label="")
                         if a.engine in CHUNKSIZE_SCHEDULERS else a for a in arms)
            if args.address is not None:
                if not args.address.strip():
                    raise ValueError("--address must be a scheduler address like tcp://10.0.0.5:8786 (got '')")
                if not any(a.engine == "external" for a in arms):
                    arms = (*arms, Arm("external"))
                arms = tuple(replace(a, address=args.address) if a.engine == "external" else a for a in arms)
            spec = CompareSpec(**task, tasks=4 if args.tasks is None else args.tasks, arms=arms,
                               blas_threads=1 if args.blas_threads is None else args.blas_threads)
        changes: dict[str, Any] = {"rounds": rounds}
        if args.budget is not None:
            changes["budget_s"] = args.budget
        if args.no_ship:  # how the code gets there, not what is compared: allowed with a preset too
            if not any(a.engine in DISTRIBUTED_SCHEDULERS for a in spec.arms):
                raise ValueError("--no-ship only applies to cluster-threads, cluster-processes and external arms")
            changes["arms"] = tuple(replace(a, ship_code=False) if a.engine in DISTRIBUTED_SCHEDULERS else a
                                    for a in spec.arms)
        return spec.replace(**changes)


KIND = CompareKind()
