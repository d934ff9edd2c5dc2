"""Make a spawned pool worker end with the process that started it.

A ``ProcessPoolExecutor`` worker blocks reading its call queue and never notices that its parent is
gone: if the app's server or a ``python -m core`` run is killed (SIGKILL, or SIGTERM without a
handler), its pool workers, and through them multiprocessing's resource tracker, live on for ever.
(``distributed``'s workers already watch their parent; this does the same for Dask's ``processes``
scheduler.)

Kept tiny because every pool worker imports it: only the standard library and ``core.workloads``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Any

from core.workloads import WorkloadName
from core.workloads import init_pool_worker as _init_workloads


def die_with_parent() -> None:
    """In a spawned child: exit as soon as the parent process ends.

    Waits on multiprocessing's parent sentinel (a pipe the kernel closes when the parent dies) in a
    daemon thread: the thread sleeps in ``select`` and never wakes otherwise, so it takes no time
    from the tasks being measured.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child
        return

    def watch() -> None:
        parent.join()
        os._exit(1)  # the parent is gone: nobody will read a result or run an atexit handler

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def init_pool_worker(ready: Any, workload: WorkloadName) -> None:
    """Process-pool initializer: :func:`die_with_parent`, then :func:`core.workloads.init_pool_worker`."""
    die_with_parent()
    _init_workloads(ready, workload)
