"""``sweep``: how one engine scales with workers (strong scaling), with the knee and an Amdahl fit.

One workload on one engine at 1, 2, … workers, as *strong scaling*: the total work is fixed (the
same ``tasks`` at every worker count) and the question is how much faster more workers finish it.
It is a comparison over worker counts, measured like one (:mod:`core.kinds.points`): every worker
count is a point of interleaved rounds, so the repeats of every count are spread over the same
minutes and a burst of load on the shared machine hits them all alike; the sweep is robust to drift.
Speedup is measured against **the 1-worker run of the same engine** (its baseline: the engine's own
overhead cancels out and only parallelism is left); a ``sync`` point is added for reference. An
Amdahl's-law fit gives the serial fraction ``f``, with what it can and cannot say on few cores.

The package, by concern: :mod:`~core.kinds.scaling.spec` (defaults, Amdahl's law, the spec),
:mod:`~core.kinds.scaling.result` (the result and the sweep), :mod:`~core.kinds.scaling.words`,
:mod:`~core.kinds.scaling.chart` and :mod:`~core.kinds.scaling.cli` (the verb, :data:`KIND`). Every name is
importable from here.
"""

from __future__ import annotations

from core.kinds.scaling.chart import (
    LINE_STYLES,
    line_dash,
    scaling_chart,
)
from core.kinds.scaling.cli import (
    KIND,
    ScalingKind,
    scaling_sweep,
)
from core.kinds.scaling.result import (
    ClustersOnly,
    ScalingResult,
    run_scaling,
    scaling_result,
)
from core.kinds.scaling.spec import (
    BASELINE,
    SCALING_COLUMNS,
    SCALING_SCHEDULERS,
    SCALING_WORKLOADS,
    TASKS_PER_WORKER,
    ScalingSpec,
    amdahl,
    amdahl_caveat,
    default_tasks,
    default_worker_counts,
    fit_serial_fraction,
    max_sweep_workers,
    scaling_specs,
)
from core.kinds.scaling.words import (
    describe_scaling,
)

__all__ = [
    "BASELINE",
    "KIND",
    "SCALING_COLUMNS",
    "SCALING_SCHEDULERS",
    "SCALING_WORKLOADS",
    "ScalingKind",
    "ScalingResult",
    "ScalingSpec",
    "TASKS_PER_WORKER",
    "ClustersOnly",
    "LINE_STYLES",
    "line_dash",
    "amdahl",
    "amdahl_caveat",
    "default_tasks",
    "default_worker_counts",
    "describe_scaling",
    "fit_serial_fraction",
    "max_sweep_workers",
    "run_scaling",
    "scaling_chart",
    "scaling_result",
    "scaling_specs",
    "scaling_sweep",
]
