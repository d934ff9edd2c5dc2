"""Beyond the GIL: start-up of N subinterpreters against N spawn processes, and what they give on fib.

    python -m bench.interpreters [--repeats 5] [--quick] [--workers 2,4] [--python 3.13]

Runs on the machine's newest CPython with subinterpreters (3.13+; ``--python`` picks one found by
``python -m core interpreters``) in a child of that interpreter, so the lab itself may run on 3.11. Side by side,
interleaved, ``--repeats`` times for each worker count:

* **start-up**: ``SubinterpreterPool(N)`` (the lab's ``interpreters`` engine: N subinterpreters, each with its own
  GIL, each importing the task module) against a ``ProcessPoolExecutor(N)`` with the spawn context whose N
  workers have each imported the same module (a warm-up call per worker, waited for);
* **what they give**: 2 × fib(27) on 2 subinterpreters, on 2 threads of one GIL and in one thread (sync).

Reported: median start-up of each with min–max, their ratio, and the speed-ups over sync. Goal (issue 22):
subinterpreters ≥ 1.4× sync on fib with 2 lanes; threads not faster.
"""

from __future__ import annotations

import json
import subprocess

from bench._common import machine_line, median, parser, resolve_repeats, spread, table, verdict

CHILD = r'''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
import multiprocessing as mp
from core.subinterpreters import SubinterpreterPool
import core.workloads as w

def warm(_):
    import core.workloads  # what a worker needs for the tasks
    return os.getpid()

def fib_task(i):
    return w.fib(27)

if __name__ == "__main__":
    repeats, counts = int(sys.argv[2]), [int(x) for x in sys.argv[3].split(",")]
    out = {"startup": {}, "fib": {"sync": [], "threads": [], "interpreters": []}, "python": sys.version.split()[0]}
    for n in counts:
        rows = out["startup"].setdefault(str(n), {"interpreters": [], "processes": []})
        for r in range(repeats):
            order = ["interpreters", "processes"] if r % 2 == 0 else ["processes", "interpreters"]
            for kind in order:
                t0 = time.perf_counter()
                if kind == "interpreters":
                    pool = SubinterpreterPool(n)
                    took = time.perf_counter() - t0
                    pool.close()
                else:
                    ex = ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"))
                    pids = set(ex.map(warm, range(n), chunksize=1))
                    while len(pids) < n:  # every worker started and imported the tasks
                        pids |= set(ex.map(warm, range(n), chunksize=1))
                    took = time.perf_counter() - t0
                    ex.shutdown()
                rows[kind].append(took)
    pool = SubinterpreterPool(2)
    threads = ThreadPoolExecutor(2)
    task = json.dumps(["fib", 27, 0, None, None, None])
    for r in range(repeats * 2):
        for kind in (["sync", "threads", "interpreters"][r % 3:] + ["sync", "threads", "interpreters"][:r % 3]):
            t0 = time.perf_counter()
            if kind == "sync":
                fib_task(0); fib_task(1)
            elif kind == "threads":
                list(threads.map(fib_task, range(2)))
            else:
                pool.run([task, task])
            out["fib"][kind].append(time.perf_counter() - t0)
    pool.close(); threads.shutdown()
    print(json.dumps(out))
'''


def main() -> None:
    p = parser(__doc__, repeats=5, quick_repeats=2)
    p.add_argument("--workers", default="2,4", help="worker counts to start (default 2,4)")
    p.add_argument("--python", default=None, help="a version tag (3.13) of an interpreter with subinterpreters")
    args = p.parse_args()
    repeats = resolve_repeats(args)
    from core.interpreters import best_subinterpreters, discover
    from core.subinterpreters import repo_root

    infos = discover()
    chosen = next((i for i in infos if i.tag == args.python), None) if args.python else best_subinterpreters(infos)
    if chosen is None:
        raise SystemExit("no CPython 3.13+ with subinterpreters found here (python -m core interpreters)")
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:  # a file, not -c: spawned workers import the functions from it
        script = Path(tmp) / "gil_lab_bench_interpreters.py"
        script.write_text(CHILD)
        proc = subprocess.run([chosen.path, str(script), repo_root(), str(repeats), args.workers],
                              capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"the child on {chosen.path} failed: {proc.stderr.strip()[-500:]}")
    out = json.loads(proc.stdout)
    print(machine_line())
    print(f"on Python {out['python']} ({chosen.path}), {repeats} interleaved repeats")
    rows = []
    for n, kinds in out["startup"].items():
        si, pr = kinds["interpreters"], kinds["processes"]
        rows.append([f"{n} workers", f"{median(si) * 1000:.0f} ms", spread([x * 1000 for x in si]),
                     f"{median(pr) * 1000:.0f} ms", spread([x * 1000 for x in pr]), f"{median(pr) / median(si):.2f}×"])
    print(table(["start-up", "subinterpreters", "min–max ms", "spawn processes", "min–max ms",
                 "processes ÷ subinterpreters"], rows))
    fib = out["fib"]
    sync = median(fib["sync"])
    speed = {k: sync / median(v) for k, v in fib.items()}
    print(table(["2 × fib(27)", "median s", "× sync"],
                [[k, f"{median(v):.3f}", f"{speed[k]:.2f}"] for k, v in fib.items()]))
    ok = speed["interpreters"] >= 1.4 and speed["threads"] < 1.2
    print(f"goal: subinterpreters ≥ 1.4× sync and threads < 1.2×: {verdict(ok)}")


if __name__ == "__main__":
    main()
