"""The noise monitor: other programs' CPU is seen, the lab's own is not counted as theirs.

The neighbour is started as a program of its own (``bench/neighbour.py``: a detached grandchild,
re-parented away from the test), exactly like a real program sharing the machine.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.neighbour import neighbour
from core.measure import noise
from core.measure.machine import machine_info

CORES = machine_info().usable_cores


def test_a_busy_loop_of_another_program_is_seen_as_other_programs_cpu():
    with neighbour(duty=1.0, burst_s=5.0, seconds=20) as pids, noise.NoiseMeter(CORES) as meter:
        assert pids
        time.sleep(1.5)  # the lab itself does nothing meanwhile
    seen = meter.noise
    assert seen is not None
    assert seen.other_cores >= 0.6, seen  # one core burning, seen as ≥ 0.6 of a core over 1.5 s
    assert seen.own_cores < 0.3, seen
    assert seen.busy and "other programs used" in seen.describe()


def test_the_labs_own_children_are_not_counted_as_other_programs():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.2: pass\n"
    with noise.NoiseMeter(CORES) as meter:
        subprocess.run([sys.executable, "-c", burn], check=True, timeout=60)
    seen = meter.noise
    assert seen is not None
    assert seen.own_cores >= 0.5, seen  # the child's second of CPU is the lab's own
    assert seen.other_cores < seen.own_cores, seen


def test_summarize_weights_windows_by_their_wall_time():
    windows = [noise.Window(1.0, 1.5, 0.5), noise.Window(3.0, 1.0, 1.0)]  # others 1.0 for 1 s, 0 for 3 s
    out = noise.summarize(windows, 2)
    assert out.other_cores == 0.25 and out.peak_other_cores == 1.0 and out.wall_s == 4.0
    empty = noise.summarize([], 2)
    assert empty.wall_s == 0 and not empty.busy
