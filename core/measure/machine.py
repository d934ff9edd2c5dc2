"""What machine a measurement was taken on.

Every number GIL Lab shows is only meaningful next to the machine that produced it: a 2-core cloud
container and a 64-core HPC node teach different lessons from the same experiment. Results carry a
:class:`MachineInfo` so that the app, the CLI's JSON and a CSV download all say where they came from.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import sysconfig
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata


class GilFacts:
    """``to_dict`` and ``gil_label`` of a frozen description with ``gil_enabled`` and ``free_threaded_build``.

    Shared by this machine's :class:`MachineInfo` and any interpreter's description
    (:class:`core.kinds.interpreter.InterpreterInfo`), so that both say the GIL's state in the same words.
    """

    gil_enabled: bool
    free_threaded_build: bool

    def to_dict(self) -> dict[str, object]:
        """The fields as a plain, JSON-serialisable dict."""
        return asdict(self)  # type: ignore[call-overload]

    @property
    def gil_label(self) -> str:
        """``"enabled"``, ``"disabled (free-threaded)"`` or ``"enabled (free-threaded build, re-enabled)"``."""
        if not self.gil_enabled:
            return "disabled (free-threaded)"
        return "enabled (free-threaded build, re-enabled)" if self.free_threaded_build else "enabled"


@dataclass(frozen=True)
class MachineInfo(GilFacts):
    """Immutable description of the interpreter and hardware an experiment ran on."""

    hostname: str
    platform: str
    processor: str
    logical_cores: int
    usable_cores: int
    python_version: str
    python_implementation: str
    free_threaded_build: bool
    gil_enabled: bool
    memory_total_gb: float | None
    dask_version: str
    distributed_version: str
    numpy_version: str
    pandas_version: str


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cgroup_cpu_limit() -> float | None:
    """CPU quota of this container in cores, if a cgroup sets one.

    Streamlit Community Cloud and most container platforms limit CPU with a cgroup quota while
    ``os.cpu_count()`` still reports the host's cores; the quota is what parallel work really gets.
    """
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:  # cgroup v2
            quota, period = fh.read().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as fq, open(
            "/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii"
        ) as fp:
            quota_us, period_us = int(fq.read()), int(fp.read())
        if quota_us > 0:
            return quota_us / period_us
    except (OSError, ValueError):
        pass
    return None


def usable_cores() -> int:
    """Cores this process may actually run on: affinity mask, capped by any cgroup quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity API
        cores = os.cpu_count() or 1
    limit = _cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, max(1, math.ceil(limit)))
    return max(1, cores)


def gil_enabled() -> bool:
    """Whether the GIL is active in this interpreter right now.

    On free-threaded builds (3.13t+) the GIL can still be re-enabled at run time, e.g. by an
    extension module that does not declare itself thread-safe, so the build flag alone is not enough.
    """
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def _memory_total_gb() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 1e9, 1)
    except Exception:  # psutil is optional; a missing figure is better than a crash
        return None


@cache
def machine_info() -> MachineInfo:
    """Describe this machine once per process (the answer does not change while it runs)."""
    return MachineInfo(
        hostname=platform.node(),
        platform=platform.platform(terse=True),
        processor=platform.machine(),
        logical_cores=os.cpu_count() or 1,
        usable_cores=usable_cores(),
        python_version=platform.python_version(),
        python_implementation=platform.python_implementation(),
        free_threaded_build=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        gil_enabled=gil_enabled(),
        memory_total_gb=_memory_total_gb(),
        dask_version=_version("dask"),
        distributed_version=_version("distributed"),
        numpy_version=_version("numpy"),
        pandas_version=_version("pandas"),
    )


def available_memory_bytes() -> int | None:
    """Memory that can still be allocated now, or ``None`` when it cannot be read."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:
        return None
