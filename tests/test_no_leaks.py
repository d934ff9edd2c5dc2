"""Nothing the engine started outlives the session: no pool processes, no clusters, no clients, no threads.

This test runs last (``run_last``, see conftest.py). It closes the session's cluster registry itself,
as the fixture would at the very end, and then checks that this process has no children left other
than those of long-lived servers that other test files own and close themselves (a Streamlit server,
a browser), and multiprocessing's resource tracker, which lives as long as its parent by design.
"""

from __future__ import annotations

import gc
import threading
import time

import psutil
import pytest
from distributed import Client

from core import LocalClusterHandle

GRACE_S = 10
# Long-lived children that other test files start and stop in their own session fixtures.
FOREIGN = ("streamlit", "playwright", "chrom")
# Started once by the first spawn context that needs it and kept until the interpreter exits.
RESOURCE_TRACKER = "multiprocessing.resource_tracker"
ENGINE_MARKERS = ("multiprocessing.spawn", "distributed", "dask")


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


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
    return [p for p in _descendants() if RESOURCE_TRACKER not in _cmdline(p)]


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

    # In particular, nothing left looks like a pool process or a cluster worker.
    engine_like = [p for p in _descendants() if any(marker in _cmdline(p) for marker in ENGINE_MARKERS)]
    assert not engine_like, f"engine processes still alive:\n{_describe(engine_like)}"

    # In-process clusters (cluster-threads) start no process, so look for their objects too.
    objects = gc.get_objects()
    open_handles = [obj for obj in objects if isinstance(obj, LocalClusterHandle) and obj.client is not None]
    assert not open_handles, f"LocalClusterHandles still holding a cluster: {[h.shape for h in open_handles]}"
    open_clients = [obj for obj in objects if isinstance(obj, Client) and obj.status == "running"]
    assert not open_clients, f"distributed Clients still running: {open_clients}"

    # The threads engine shuts its pool down after every run.
    pool_threads = [t.name for t in threading.enumerate() if t.name.startswith("gil-lab")]
    assert not pool_threads, pool_threads
