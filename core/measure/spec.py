"""The experiment spec, by its old name: see :mod:`core.spec`.

The spec sits below the engines (they read its scheduler names and limits), so it moved out of
:mod:`core.measure`; this module keeps the name tests, benches and notebooks have always imported.
"""

from core.spec import (
    CHUNKSIZE_SCHEDULERS,
    CLUSTER_SCHEDULERS,
    DISTRIBUTED_SCHEDULERS,
    LIMITS,
    LOCAL_SCHEDULERS,
    MAX_CLUSTER_THREADS,
    MAX_FUNCTION_JSON,
    MAX_FUNCTION_PATH,
    ONE_GIL_SCHEDULERS,
    POOL_SCHEDULERS,
    PROCESS_POOL_SCHEDULERS,
    PROCESS_SCHEDULERS,
    SCHEDULER_LABELS,
    SCHEDULERS,
    UNCANCELLABLE_SCHEDULERS,
    ExperimentSpec,
    Scheduler,
    canonical_json,
    check_function_path,
    check_int,
    describe_call,
    short_repr,
)

__all__ = [
    "Scheduler",
    "SCHEDULERS",
    "CLUSTER_SCHEDULERS",
    "POOL_SCHEDULERS",
    "LOCAL_SCHEDULERS",
    "ONE_GIL_SCHEDULERS",
    "PROCESS_POOL_SCHEDULERS",
    "PROCESS_SCHEDULERS",
    "CHUNKSIZE_SCHEDULERS",
    "UNCANCELLABLE_SCHEDULERS",
    "DISTRIBUTED_SCHEDULERS",
    "SCHEDULER_LABELS",
    "LIMITS",
    "MAX_CLUSTER_THREADS",
    "MAX_FUNCTION_PATH",
    "MAX_FUNCTION_JSON",
    "short_repr",
    "check_int",
    "check_function_path",
    "canonical_json",
    "describe_call",
    "ExperimentSpec",
]
