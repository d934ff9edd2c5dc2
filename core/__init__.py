"""GIL Lab's engine: workloads, specs, runs on every Dask engine, tidy results and charts.

Nothing here imports Streamlit. Process workers import :mod:`core.workloads` through this package,
so this file imports nothing heavy: the public names below are loaded on first use.
(``estimate`` is not among them: it would clash with the :mod:`core.measure.estimate` submodule's name.)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "WORKLOADS": "core.workloads",
    "estimate_task_seconds": "core.workloads",
    "ExperimentSpec": "core.spec",
    "SCHEDULERS": "core.spec",
    "SCHEDULER_LABELS": "core.spec",
    "run_experiment": "core.measure.run",
    "ClusterRegistry": "core.engines",
    "LocalClusterHandle": "core.engines",
    "EngineError": "core.engines",
    "ExperimentResult": "core.measure.results",
    "combine": "core.measure.results",
    "machine_info": "core.measure.machine",
    "MachineInfo": "core.measure.machine",
    "check": "core.kinds.base",
    "Cost": "core.measure.estimate",
    "BudgetError": "core.measure.estimate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
