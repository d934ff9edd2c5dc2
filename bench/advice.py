"""Your function: is the advice decided? Functions of 10–50 ms a call that hold or release the GIL, in Python and C.

    python -m bench.advice [--repeats 4] [--quick]

Each repeat runs ``compare --function`` (the *Your function* page's default engines: sync,
futures-threads ×4, futures-processes ×4 with warm pools, adaptive rounds) on four functions, interleaved:

============  =====================================================  ==========================
function      what it does                                           the advice it should get
============  =====================================================  ==========================
py_holds      a pure-Python loop (~20 ms)                            use processes
py_releases   ``time.sleep(0.02)``                                   threads help
c_holds       ``sorted`` of 200,000 shuffled ints (C, holds the GIL) use processes
c_releases    ``hashlib.sha256`` of 32 MB (C, releases the GIL)      threads help
============  =====================================================  ==========================

Reported: per function, how often the advice was decided (not "No advice yet"), how often it was the
expected one, and the median comparison time. Goal: decided in every run, never the wrong advice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench._common import machine_line, median, parser, resolve_repeats, table, verdict

REPO = Path(__file__).resolve().parent.parent
SOURCE = textwrap.dedent('''
    import hashlib
    import random
    import time

    DATA = list(range(200_000))
    random.Random(1).shuffle(DATA)
    BUF = random.Random(2).randbytes(1_000_000) * 32


    def py_holds(n=300_000):
        total = 0
        for i in range(n):
            total += i * i % 7
        return total


    def py_releases(seconds=0.02):
        time.sleep(seconds)
        return seconds


    def c_holds():
        return len(sorted(DATA))


    def c_releases():
        return hashlib.sha256(BUF).hexdigest()
''')
EXPECTED = {"py_holds": "processes", "py_releases": "threads", "c_holds": "processes", "c_releases": "threads"}


def main() -> None:
    p = parser(__doc__, repeats=4, quick_repeats=1)
    args = p.parse_args()
    repeats = resolve_repeats(args)
    rows: dict[str, list[dict[str, object]]] = {name: [] for name in EXPECTED}
    with tempfile.TemporaryDirectory() as tmp:
        module = Path(tmp) / "gil_lab_bench_advice.py"
        module.write_text(SOURCE)
        for _ in range(repeats):
            for name in EXPECTED:
                t0 = time.perf_counter()
                proc = subprocess.run([sys.executable, "-m", "core", "compare", "--function",
                                       f"gil_lab_bench_advice:{name}", "--json", "--quiet"], cwd=REPO,
                                      capture_output=True, text=True, timeout=600,
                                      env={**__import__("os").environ, "PYTHONPATH": f"{tmp}:{REPO}"})
                took = time.perf_counter() - t0
                if proc.returncode != 0:
                    rows[name].append({"use": f"error: {proc.stderr.strip()[-200:]}", "seconds": took})
                    continue
                data = json.loads(proc.stdout)
                rows[name].append({"use": data["advice"]["use"], "text": data["advice"]["text"],
                                   "seconds": float(data["wall_s"]),
                                   "verdicts": [v["verdict"] for v in data["verdicts"]]})
    print(machine_line())
    out, ok = [], True
    for name, runs in rows.items():
        decided = sum(r["use"] not in ("undecided",) and not str(r["use"]).startswith("error") for r in runs)
        right = sum(r["use"] == EXPECTED[name] for r in runs)
        wrong = decided - right
        ok &= decided == len(runs) and wrong == 0
        out.append([name, EXPECTED[name], f"{decided} of {len(runs)}", f"{right}", f"{wrong}",
                    f"{median([float(r['seconds']) for r in runs]):.2f}",
                    " · ".join(dict.fromkeys(str(r["use"]) for r in runs))])
    print(table(["function", "expected", "decided", "expected advice", "other advice", "median compare s",
                 "advice seen"], out))
    print(f"goal: advice decided in every run and never other than expected: {verdict(ok)}")
    for name, runs in rows.items():
        for r in runs:
            if r["use"] != EXPECTED[name]:
                print(f"  {name}: {r.get('use')}: {str(r.get('text', ''))[:300]} {r.get('verdicts', '')}")


if __name__ == "__main__":
    main()
