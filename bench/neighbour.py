"""A synthetic noisy neighbour: another program that burns one core in random bursts.

    python -m bench.neighbour [--duty 0.5] [--burst 0.3] [--seconds 60]

What a shared host does to the lab: some other program takes a core for a while, then lets it go.
The neighbour busy-loops for a burst (exponentially distributed, mean ``--burst`` seconds), sleeps for
a pause (mean ``burst × (1 − duty) / duty``), and so on, so that it takes about ``duty`` of one core on
average, in bursts of random length.

:func:`neighbour` starts it as a program *of its own*: a detached grandchild, re-parented away from the
caller, so that the lab's noise monitor counts it among "other programs" exactly like a real
neighbour (a child of the lab would count as the lab's own CPU). It is stopped when the block ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def burn(duty: float, burst_s: float, seconds: float, seed: int | None = None) -> None:
    """Busy-loop in bursts for ``seconds`` (the neighbour's own main loop)."""
    rng = random.Random(seed)
    pause_s = burst_s * (1.0 - duty) / duty if duty < 1 else 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        stop = min(end, time.monotonic() + rng.expovariate(1.0 / burst_s))
        x = 0
        while time.monotonic() < stop:
            for _ in range(10_000):
                x += 1
        if pause_s:
            time.sleep(min(max(0.0, end - time.monotonic()), rng.expovariate(1.0 / pause_s)))


@contextlib.contextmanager
def neighbour(duty: float = 0.5, burst_s: float = 0.3, seconds: float = 3600.0, cores: int = 1) -> Iterator[list[int]]:
    """Run ``cores`` noisy neighbours (each ~``duty`` of a core) for the duration of the block; yield their pids.

    Each one is started through ``sh -c '… &'`` so the shell exits at once and the neighbour is
    re-parented (to init or the nearest subreaper): it is not in the caller's process tree.
    """
    pids: list[int] = []
    cmd = (f"{sys.executable} -m bench.neighbour --duty {duty} --burst {burst_s} --seconds {seconds}"
           " >/dev/null 2>&1 & echo $!")
    try:
        for _ in range(cores):
            out = subprocess.run(["sh", "-c", cmd], cwd=REPO, capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONPATH": str(REPO)})
            pids.append(int(out.stdout.strip()))
        time.sleep(0.3)  # let the interpreters start before anything is measured
        yield pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--duty", type=float, default=0.5, help="share of one core it takes on average (default 0.5)")
    p.add_argument("--burst", type=float, default=0.3, help="mean burst length in seconds (default 0.3)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long it runs (default 60)")
    args = p.parse_args()
    burn(args.duty, args.burst, args.seconds)


if __name__ == "__main__":
    main()
