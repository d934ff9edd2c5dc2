"""The tutorial's ``client.map`` pitfall, shown on a real cluster.

``Client.map`` is *pure* by default: a task's key is a hash of the function and its arguments, so
``client.map(fib, [30] * 4)`` makes four futures with ONE key, and the cluster runs fib(30) once.
The tutorial then times that single task and calls it four. ``pure=False`` gives every call its own
key. This module counts the keys and the task executions so the app can show the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engines import ClusterSource
from core.kinds.base import run_slot
from core.workloads import measured_call


@dataclass(frozen=True)
class PitfallResult:
    """What ``client.map`` really created for ``calls`` identical calls."""

    calls: int
    pure_keys: int
    pure_executions: int
    impure_keys: int
    impure_executions: int


def map_pitfall(clusters: ClusterSource, n: int = 20, calls: int = 4) -> PitfallResult:
    """Map ``fib(n)`` over ``calls`` identical arguments, pure (the default) and ``pure=False``.

    Executions are counted from the per-task evidence (each execution records its own start time),
    not from the futures, which is exactly what the pure default hides. Uses a one-worker
    ``processes=False`` LocalCluster from ``clusters``, which starts in a fraction of a second.
    """
    if not 1 <= calls <= 16 or not 1 <= n <= 30:
        raise ValueError(f"calls must be from 1 to 16 and n from 1 to 30 (got calls={calls}, n={n})")
    handle = clusters.get(False, 1, 2)
    with run_slot("the client.map pitfall demo", 2.0), handle.use() as (client, _):
        pure = client.map(measured_call, ["fib"] * calls, [n] * calls, [0] * calls)
        impure = client.map(measured_call, ["fib"] * calls, [n] * calls, [0] * calls, pure=False)
        pure_out, impure_out = client.gather(pure), client.gather(impure)
        result = PitfallResult(
            calls=calls,
            pure_keys=len({f.key for f in pure}),
            pure_executions=len({(r["start_epoch"], r["thread_id"]) for r in pure_out}),
            impure_keys=len({f.key for f in impure}),
            impure_executions=len({(r["start_epoch"], r["thread_id"]) for r in impure_out}),
        )
        client.cancel(pure + impure)
    return result
