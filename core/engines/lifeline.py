"""Make a spawned pool worker end with the process that started it.

A ``ProcessPoolExecutor`` worker blocks reading its call queue and never notices that its parent is
gone: if the app's server or a ``python -m core`` run is killed (SIGKILL, or SIGTERM without a
handler), its pool workers, and through them multiprocessing's resource tracker, live on for ever.
(``distributed``'s workers already watch their parent; this does the same for Dask's ``processes``
scheduler.)

Kept tiny because every pool worker imports it: only the standard library and ``core.workloads``. The
other helpers that the pools beyond Dask (:mod:`core.engines.stdlib`, :mod:`core.engines.joblib_engines`)
send to their workers live here for the same reason: a worker imports them by reference.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from core.workloads import WorkloadName, warm_worker
from core.workloads import init_pool_worker as _init_workloads

Call = tuple[Callable[..., Any], tuple[Any, ...]]


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


def init_plain_worker(ready: Any, workload: str) -> None:
    """Initializer of the plain pools (concurrent.futures, multiprocessing): no Dask, as a user's pool.

    :func:`die_with_parent`, the imports the tasks need, then report ready (see
    :func:`core.engines.local.start_pool` for why waiting for every report is the only reliable way).
    """
    die_with_parent()
    ready.put(warm_worker(workload))


def ready_barrier(directory: str, workers: int, workload: str, timeout_s: float) -> int:
    """One of ``workers`` start-up tasks that return only once every worker runs one of them.

    For pools that take no initializer from their caller (joblib's loky executor): each task warms the
    imports, leaves a file named by its pid in ``directory`` and waits until ``workers`` files are
    there. A worker blocked here cannot take a second one, so all of them have started when the last
    returns, which is what a ready queue tells for the other pools.
    """
    warm_worker(workload)
    open(os.path.join(directory, str(os.getpid())), "w").close()
    deadline = time.monotonic() + timeout_s
    while len(os.listdir(directory)) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(os.listdir(directory))} of {workers} pool workers started within"
                               f" {timeout_s:g} s")
        time.sleep(0.002)
    return os.getpid()


def run_calls(calls: Sequence[Call]) -> list[Any]:
    """Several calls in one submission: what ``ProcessPoolExecutor.map(..., chunksize=n)`` sends a worker."""
    return [func(*args) for func, args in calls]
