"""A worker plugin for the lab's own LocalClusters: distributed's benign heartbeat-at-close error, not printed.

When a LocalCluster closes, its scheduler can stop answering while a worker's heartbeat (every 0.5 s on a
small cluster) is in flight. The worker then logs "Failed to communicate with scheduler during heartbeat"
with a whole ``OSError`` traceback, at ERROR level, from the worker process, so no log level of the lab's
own process hides it. It lands in the app's server log and in a CLI run's stderr, where a traceback reads
as a crash although nothing failed: the cluster was closing. (In the bench: about once in a hundred
closes of a ``processes=True`` cluster.)

The lab's clusters live on this machine, over loopback, for the lab alone; the scheduler going away is
the lab closing them, so this one message is dropped and nothing else is. Every other worker log line
still goes through. The lab's client registers it as a ``WorkerPlugin`` when it starts a cluster; every
worker imports this module and installs the filter, and a worker that a nanny restarts gets it again from
the scheduler.
"""

from __future__ import annotations

import logging
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

HEARTBEAT_FAILURE = "Failed to communicate with scheduler during heartbeat"


def drop_heartbeat_failure(record: logging.LogRecord) -> bool:
    """A :mod:`logging` filter: False (drop) for the heartbeat-at-close message, True for everything else."""
    return not str(record.msg).startswith(HEARTBEAT_FAILURE)


class QuietHeartbeat(WorkerPlugin):
    """Adds :func:`drop_heartbeat_failure` to the worker's ``distributed.worker`` logger (once per process)."""

    name = "gil-lab-quiet-heartbeat"

    def setup(self, worker: Any) -> None:
        # addFilter ignores a filter already there: a thread-pool worker shares its process's logger.
        logging.getLogger("distributed.worker").addFilter(drop_heartbeat_failure)
