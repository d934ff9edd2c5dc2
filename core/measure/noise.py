"""How much of the machine other programs took while the lab measured.

A shared host (Community Cloud, a login node, a laptop with a browser open) lends its cores to other
programs at any moment. Their CPU time is the machine's busy time, as the operating system counts it,
minus the lab's own: this process and every process it started (pool workers, LocalCluster nannies and
workers, a trace child). That difference, divided by the wall time, is how many cores "others" used.

It is read between measurements, never inside a stopwatch, from ``/proc/stat`` (``psutil.cpu_times``)
and the lab's process tree (``os.times`` for this process and the children it has waited for,
``psutil`` for the descendants still alive, including what they have reaped themselves).
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass

# Other programs using this much (in cores, averaged over a comparison) make it a busy machine: the
# page says so, and verdicts that busy cores could have produced are not shown as decided.
BUSY_CORES = 0.25


@dataclass(frozen=True)
class Sample:
    """One reading: monotonic time, CPU seconds the whole machine was busy, CPU seconds of the lab's tree."""

    t: float
    busy_s: float
    own_s: float


@dataclass(frozen=True)
class Window:
    """What happened between two samples: wall seconds, and cores used by the machine, the lab and others."""

    wall_s: float
    machine_cores: float
    own_cores: float

    @property
    def other_cores(self) -> float:
        return max(0.0, self.machine_cores - self.own_cores)


def _own_cpu_s() -> float:
    """CPU seconds of this process, its reaped children, and every live descendant (with theirs)."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                c = child.cpu_times()
                total += c.user + c.system + getattr(c, "children_user", 0.0) + getattr(c, "children_system", 0.0)
    except ImportError:  # psutil is a dependency; without it others are simply not subtracted
        pass
    return total


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine has been busy since boot (all cores; idle and I/O wait left out)."""
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)


def sample() -> Sample:
    """Read the clocks now."""
    return Sample(time.monotonic(), _busy_cpu_s(), _own_cpu_s())


def window(a: Sample, b: Sample) -> Window:
    """The cores used between samples ``a`` and ``b``."""
    wall = b.t - a.t
    if wall <= 0:
        return Window(0.0, math.nan, math.nan)
    return Window(wall, (b.busy_s - a.busy_s) / wall, (b.own_s - a.own_s) / wall)


@dataclass(frozen=True)
class Noise:
    """Other programs' CPU during a measurement, in cores, averaged over its wall time.

    Attributes
    ----------
    other_cores : float
        CPU the rest of the machine used, in cores (0.5 = half a core the whole time).
    own_cores : float
        CPU the lab's own process tree used.
    cores : int
        Usable cores of the machine.
    wall_s : float
        Wall time the reading covers.
    peak_other_cores : float
        The highest ``other_cores`` of any single measured piece (a round's arm run).
    """

    other_cores: float
    own_cores: float
    cores: int
    wall_s: float
    peak_other_cores: float

    @property
    def busy(self) -> bool:
        """Whether other programs took enough CPU to matter (:data:`BUSY_CORES`)."""
        return self.other_cores >= BUSY_CORES

    def describe(self) -> str:
        """``other programs used 0.4 of 2 cores during this run``."""
        text = f"other programs used {self.other_cores:.1f} of {self.cores} core{'s' if self.cores != 1 else ''}"
        text += " during this run"
        if self.busy:
            text += " — a busy machine: timings are slower and noisier than on a quiet one"
        return text

    def to_dict(self) -> dict[str, float | int | bool]:
        return {"other_cores": _finite(self.other_cores), "own_cores": _finite(self.own_cores), "cores": self.cores,
                "wall_s": _finite(self.wall_s), "peak_other_cores": _finite(self.peak_other_cores), "busy": self.busy}


def _finite(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None


def summarize(windows: list[Window], cores: int) -> Noise:
    """The wall-time-weighted average of ``windows`` (the pieces of one measurement)."""
    wall = sum(w.wall_s for w in windows if w.wall_s > 0)
    if wall <= 0:
        return Noise(math.nan, math.nan, cores, 0.0, math.nan)
    valid = [w for w in windows if w.wall_s > 0 and math.isfinite(w.machine_cores)]
    other = sum(w.other_cores * w.wall_s for w in valid) / wall
    own = sum(w.own_cores * w.wall_s for w in valid) / wall
    peak = max((w.other_cores for w in valid), default=math.nan)
    return Noise(other, own, cores, wall, peak)


class NoiseMeter:
    """``with NoiseMeter(cores) as meter: ...`` then ``meter.noise`` (the whole block as one window)."""

    def __init__(self, cores: int) -> None:
        self.cores = cores
        self.noise: Noise | None = None

    def __enter__(self) -> NoiseMeter:
        self._start = sample()
        return self

    def __exit__(self, *exc: object) -> None:
        self.noise = summarize([window(self._start, sample())], self.cores)
