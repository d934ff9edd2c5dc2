"""Closing a LocalCluster without distributed's heartbeat-at-close traceback: stop the heartbeats first.

A distributed worker heartbeats its scheduler about every 0.5 s on a small cluster. When the worker closes
(``Worker.close``), it stops the heartbeat *timer*, awaits a few other steps, then closes its connection
pool; a heartbeat that was already in flight when the timer stopped fails at that moment with
``CommClosedError: ConnectionPool closing``, and the worker logs "Failed to communicate with scheduler
during heartbeat" with a whole traceback, at ERROR, from its own process (dask/distributed#7192). On a
loaded machine the scheduler answers late, the heartbeat is in flight longer, and the race is hit more
often.

The cure is an order, not a filter: before anything closes, every worker stops its heartbeat timer and
waits until no heartbeat is in flight (:func:`stop_heartbeats`, run on every worker by
:func:`core.engines.cluster.close_cluster`). From then on no heartbeat exists that the close could cut.
To know whether one is in flight, :class:`HeartbeatGuard` (a ``WorkerPlugin`` the lab's client registers
when it starts a cluster, so a worker a nanny restarts gets it again) wraps the worker's heartbeat
callback in a counter. A worker without the plugin (an existing cluster's) still has its timer stopped;
only the in-flight wait is skipped for it.

Kept small: every worker process imports this module (the plugin is pickled by reference).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

HEARTBEAT_FAILURE = "Failed to communicate with scheduler during heartbeat"
_IN_FLIGHT = "_gil_lab_heartbeats_in_flight"
_WAIT_S = 5.0  # far longer than a heartbeat takes; a stuck one must not hold a close for ever


class HeartbeatGuard(WorkerPlugin):
    """Counts the worker's heartbeats in flight, so that :func:`stop_heartbeats` can wait for them to end."""

    name = "gil-lab-heartbeat-guard"

    def setup(self, worker: Any) -> None:
        pc = worker.periodic_callbacks.get("heartbeat")
        if pc is None or getattr(worker, _IN_FLIGHT, None) is not None:
            return
        setattr(worker, _IN_FLIGHT, 0)
        beat = pc.callback

        async def counted() -> None:
            setattr(worker, _IN_FLIGHT, getattr(worker, _IN_FLIGHT) + 1)
            try:
                await beat()
            finally:
                setattr(worker, _IN_FLIGHT, getattr(worker, _IN_FLIGHT) - 1)

        # tornado's PeriodicCallback calls ``self.callback`` each time and awaits what it returns.
        pc.callback = counted


async def stop_heartbeats(dask_worker: Any) -> int:
    """Stop ``dask_worker``'s heartbeat timer and wait until no heartbeat is in flight; return how many were.

    Run on every worker (``client.run(stop_heartbeats)``) right before the cluster closes. The scheduler
    is still up and answers the last heartbeat, so the wait is a round trip at most.
    """
    pc = dask_worker.periodic_callbacks.get("heartbeat")
    if pc is not None:
        pc.stop()
    was = int(getattr(dask_worker, _IN_FLIGHT, 0) or 0)
    deadline = time.monotonic() + _WAIT_S
    while (getattr(dask_worker, _IN_FLIGHT, 0) or 0) > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    # A heartbeat sent before the guard was set up is not counted: one last heartbeat, awaited while the
    # scheduler still answers, comes back after it.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(dask_worker.heartbeat(), _WAIT_S)
    return was
