"""Nothing the engine started outlives the session: no pool processes, no clusters, no clients, no threads.

This test runs last (``run_last``, see conftest.py). It closes the session's cluster registry itself,
as the fixture would at the very end, and then checks that this process has no children left other
than those of long-lived servers that other test files own and close themselves (a Streamlit server,
a browser), and the resource trackers of multiprocessing and of loky (joblib's process pool), which live
as long as their parent by design. No loky worker survives: loky's reusable executor is shut down by
every run that used it.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

import psutil
import pytest
from distributed import Client

from core import LocalClusterHandle
from tests.helpers import alive as _alive

GRACE_S = 10
# Long-lived children that other test files start and stop in their own session fixtures.
FOREIGN = ("streamlit", "playwright", "chrom")
# Started once by the first spawn context (or loky executor) that needs one and kept until the interpreter exits.
RESOURCE_TRACKERS = ("multiprocessing.resource_tracker", "loky.backend.resource_tracker")
ENGINE_MARKERS = ("multiprocessing.spawn", "distributed", "dask", "loky")


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


def _descendants() -> list[psutil.Process]:
    """Live descendants of this process, leaving out the subtrees of other files' servers."""
    found: list[psutil.Process] = []
    for child in psutil.Process().children():
        if any(name in _cmdline(child) for name in FOREIGN):
            continue
        try:
            found += [child, *child.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    return [p for p in found if _alive(p)]


def _leaked() -> list[psutil.Process]:
    return [p for p in _descendants() if not any(tracker in _cmdline(p) for tracker in RESOURCE_TRACKERS)]


def _describe(procs: list[psutil.Process]) -> str:
    return "\n".join(f"  pid {p.pid}: {_cmdline(p)[:200]}" for p in procs)


@pytest.mark.run_last
def test_no_processes_or_pool_threads_left_behind(registry):
    registry.close()  # what the session fixture does at exit; closing twice is harmless
    deadline = time.monotonic() + GRACE_S
    leaked = _leaked()
    while leaked and time.monotonic() < deadline:
        time.sleep(0.2)
        leaked = _leaked()
    assert not leaked, f"child processes still alive {GRACE_S} s after the registry closed:\n{_describe(leaked)}"

    # In particular, nothing left looks like a pool process (loky's included) or a cluster worker.
    engine_like = [p for p in _leaked() if any(marker in _cmdline(p) for marker in ENGINE_MARKERS)]
    assert not engine_like, f"engine processes still alive:\n{_describe(engine_like)}"
    if "joblib" in sys.modules:  # loky's executor, if one was ever started here, is shut down
        from joblib.externals.loky import reusable_executor

        executor = getattr(reusable_executor, "_executor", None)
        assert executor is None or executor._flags.shutdown, "loky's reusable executor is still running"

    # In-process clusters (cluster-threads) start no process, so look for their objects too.
    objects = gc.get_objects()
    open_handles = [obj for obj in objects if isinstance(obj, LocalClusterHandle) and obj.client is not None]
    assert not open_handles, f"LocalClusterHandles still holding a cluster: {[h.shape for h in open_handles]}"
    open_clients = [obj for obj in objects if isinstance(obj, Client) and obj.status == "running"]
    assert not open_clients, f"distributed Clients still running: {open_clients}"

    # The thread pools (Dask's threads engine, concurrent.futures') are shut down after every run.
    pool_threads = [t.name for t in threading.enumerate() if t.name.startswith("gil-lab")]
    assert not pool_threads, pool_threads
