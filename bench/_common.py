"""What every benchmark shares: the machine line, medians, options and a plain-text table.

Benchmarks print ratios measured side by side in one run; the machine line says where, and the load
average says how busy the machine was (a shared 2-core box makes seconds noisy, ratios less so).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
from collections.abc import Sequence

from core.measure.machine import machine_info


def machine_line() -> str:
    """One line: cores, Python and GIL, Dask, memory, and the load average right now."""
    m = machine_info()
    try:
        load = "load avg {:.2f} {:.2f} {:.2f} (1/5/15 min)".format(*os.getloadavg())
    except OSError:
        load = "load avg n/a"
    mem = f"{m.memory_total_gb:g} GB RAM" if m.memory_total_gb else "RAM n/a"
    return (
        f"machine: {m.hostname} · {m.usable_cores} usable cores (of {m.logical_cores}) · {mem} ·"
        f" Python {m.python_version} (GIL {m.gil_label}) · dask {m.dask_version} · distributed"
        f" {m.distributed_version} · {load}"
    )


def parser(doc: str | None, repeats: int, quick_repeats: int, quick_help: str = "") -> argparse.ArgumentParser:
    """The options every benchmark takes: ``--repeats N`` and ``--quick``."""
    first = (doc or "").strip().splitlines()[0] if doc else ""
    p = argparse.ArgumentParser(description=first)
    p.add_argument("--repeats", type=int, default=None,
                   help=f"measured repeats (default {repeats}; {quick_repeats} with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="a short smoke run: fewer repeats" + (f"; {quick_help}" if quick_help else ""))
    p.set_defaults(_default_repeats=repeats, _quick_repeats=quick_repeats)
    return p


def resolve_repeats(args: argparse.Namespace) -> int:
    if args.repeats is not None:
        if args.repeats < 1:
            raise SystemExit("error: --repeats must be at least 1")
        return args.repeats
    return args._quick_repeats if args.quick else args._default_repeats


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """``min–max`` of ``values``, for a column next to a median."""
    return f"{min(values):.3f}–{max(values):.3f}" if values else "n/a"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned first column, right-aligned numbers; floats as given (format them before)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "meets the goal" if ok else "MISSES the goal"


class BusyMeter:
    """How busy the machine was while a benchmark ran, and how much of that was the benchmark.

    ``with BusyMeter() as busy: ...`` then ``busy.line()``. "busy" is all CPU time spent on the machine
    ÷ wall time (in cores); "ours" is the CPU time of this process and every process it started and
    waited for (pools, clusters, servers, Chromium — ``os.times``' children fields count a child once
    it has been reaped; the benchmarks close everything before the meter stops). "others" is the
    difference: work of other programs that shared the cores with the benchmark.
    """

    def __enter__(self) -> BusyMeter:
        import time

        import psutil

        self._t0 = time.monotonic()
        self._cpu0 = psutil.cpu_times()
        self._own0 = os.times()
        self.cores = self.own = float("nan")
        return self

    def __exit__(self, *exc: object) -> None:
        import time

        import psutil

        wall = time.monotonic() - self._t0
        cpu1, own1 = psutil.cpu_times(), os.times()
        idle = (cpu1.idle - self._cpu0.idle) + (getattr(cpu1, "iowait", 0.0) - getattr(self._cpu0, "iowait", 0.0))
        total = sum(cpu1) - sum(self._cpu0)
        own = sum(own1[:4]) - sum(self._own0[:4])  # user, system, children_user, children_system
        with contextlib.suppress(psutil.Error):  # descendants still alive (none, if all was closed)
            own += sum(sum(c.cpu_times()[:2]) for c in psutil.Process().children(recursive=True))
        self.wall = wall
        self.cores = (total - idle) / wall if wall > 0 else float("nan")
        self.own = own / wall if wall > 0 else float("nan")

    def line(self) -> str:
        try:
            load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
        except OSError:
            load = "n/a"
        others = max(0.0, self.cores - self.own)
        note = "  ← other programs shared the cores: expect slower, noisier numbers" if others > 0.25 else ""
        return (f"machine busy during this run ({self.wall:.0f} s): {self.cores:.2f} cores on average, of which"
                f" this benchmark {self.own:.2f} and other programs {others:.2f}; load avg now {load}{note}")
