"""Helpers the test files share: ports, processes, and measurements that depend on a quiet machine.

Test files import from here (or :mod:`tests.app_helpers` for the pages), never from each other.
Fixtures live in ``tests/conftest.py``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

import psutil
import pytest

from core import machine_info

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on at ``host`` just now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (an exited child nobody has reaped yet holds no resources)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def workers_alive() -> set[int]:
    """Child processes that are still running, except multiprocessing's resource tracker.

    The tracker is started by the first spawned process and lives as long as this interpreter, by design.
    """
    alive = set()
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(proc.cmdline()):
                alive.add(proc.pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def new_children(before: set[int], timeout: float = 15.0) -> set[int]:
    """Child processes started since ``before`` that are still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = workers_alive() - before
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


# --- physics: effects only a quiet enough machine can show ------------------------------------------


def needs_two_cores() -> None:
    if machine_info().usable_cores < 2:
        pytest.skip("process parallelism needs at least 2 usable cores")


def _system_busy_s() -> float:
    """CPU seconds all cores of the machine have spent busy since boot."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    guests = getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)  # already counted in user/nice
    return sum(t) - idle - guests


def _our_cpu_s() -> float:
    """CPU seconds used by this process and its children, live or already reaped."""
    me = psutil.Process()
    times = me.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in me.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


class OtherLoad:
    """Cores that processes *outside* this test kept busy while the block ran.

    The suite shares its machine with whatever else runs there (other test suites, a browser). On
    2 cores, one busy neighbour leaves no core for a second process, and no engine can show a speed-up.
    """

    cores = 0.0

    def __enter__(self) -> OtherLoad:
        self._t0, self._busy0, self._ours0 = time.perf_counter(), _system_busy_s(), _our_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        others = (_system_busy_s() - self._busy0) - (_our_cpu_s() - self._ours0)
        self.cores = max(0.0, others) / wall


def physics(measure: Callable[[], T], holds: Callable[[T], bool], *, busy_cores: float, what: str,
            attempts: int = 3, busy: Callable[[T], bool] | None = None) -> T:
    """Measure until ``holds`` (at most ``attempts`` times) and return the measurement.

    If it never holds, fail, unless every attempt ran on a busy machine: other processes kept more than
    ``busy_cores`` cores busy, or the measurement itself says it was busy (``busy``: e.g. a result whose
    noise monitor saw other programs take what its parallel lanes needed, which the lab itself then leaves
    undecided). Then the machine could not show the effect, and the test skips, saying what it saw.
    """
    seen: list[tuple[T, float]] = []
    for _ in range(attempts):
        with OtherLoad() as load:
            value = measure()
        if holds(value):
            return value
        seen.append((value, round(load.cores, 2) if busy is None or not busy(value) else float("inf")))
    if all(cores > busy_cores for _, cores in seen):
        pytest.skip(f"machine too busy to show {what}: (measurement, other processes' cores; inf: it said it was"
                    f" busy) = {seen}")
    pytest.fail(f"{what} did not hold on a quiet enough machine: (measurement, other processes' cores) = {seen}")
