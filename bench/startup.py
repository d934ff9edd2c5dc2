"""Pool start-up: the lab's Dask process pool against the same pool in a user's plain script (issue 20, part 4).

    python -m bench.startup [--repeats 5] [--quick]

Side by side in one run, interleaved (every round runs each case once, the order rotated each round):

  (a)  seed §4        the tutorial's §4 code exactly as a user runs it: a script in a temp file, fib(30) × 4,
                      ``dask.compute(*tasks, scheduler="processes")`` under ``if __name__ == "__main__":``,
                      ``perf_counter`` around the compute (pool start and stop included; Dask's defaults:
                      ``os.cpu_count()`` workers, chunksize 6, so on 2 cores one worker gets all four tasks).
  (a4) seed, 4 procs  the same script with ``num_workers=4, chunksize=1``: the very pool the lab runs below.
  (s)  seed sync      the same script with ``scheduler="sync"``: the seed's own baseline.
  (a*), (a4*), (s*)   (a), (a4) and (s) with ``import distributed`` before the stopwatch: ``dask.compute``'s
                      first call imports it (about 0.2 s), in each of the seed's scripts, and the lab imports
                      it once per process (``core.engines``), outside every measurement. It is why the lab's
                      run can be cheaper than (a), and why the seed's sync ÷ processes (s) ÷ (a) is nearer 1
                      than the lab's ``compare``: the same constant sits on both sides. (s*) ÷ (a4*) is the
                      seed's figure for the very arms ``compare`` runs.
  (b)  lab run        ``python -m core run --workload fib --size 30 --tasks 4 --scheduler processes --workers 4
                      --repeats 1 --warmup 0 --json``: its ``wall_s`` (pool start + compute + stop, as (a)),
                      and its start-up on its own.
  (c)  lab warm pool  ``start_pool(4, "fib")`` in this process: every worker started and ready (the app's
                      warm pool; stopped again outside the stopwatch).

Then one ``python -m core compare --engines sync,processes:4`` (Dask's default: a new pool each compute)
for the lab's processes × sync, set beside the seed's own (s) ÷ (a), (s*) ÷ (a*) and (s*) ÷ (a4*).

Goal: (b) ÷ (a) ≤ 1.2, paired per round: the lab's run of the seed's compute costs what the seed's code
costs. Before the lab's workers stopped importing ``core.engines`` (``distributed``) it was 2.0.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._common import BusyMeter, machine_line, median, parser, resolve_repeats, spread, table, verdict

# core (Dask, distributed) is imported in main(): spawned process workers may re-import this module.

GOAL = 1.2
REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 180

SEED = '''import time

import dask
from dask import delayed


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


if __name__ == "__main__":
    tasks = [delayed(fib)(30) for _ in range(4)]
{prelude}    t0 = time.perf_counter()
    dask.compute(*tasks, scheduler="{scheduler}"{extra})
    print(time.perf_counter() - t0)
'''

LAB_RUN = [sys.executable, "-m", "core", "run", "--workload", "fib", "--size", "30", "--tasks", "4", "--scheduler",
           "processes", "--workers", "4", "--repeats", "1", "--warmup", "0", "--json"]


def _python(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def seed_case(script: Path) -> Callable[[], dict[str, float]]:
    """Run the user's script in its own directory (its sys.path[0], as a user's), read the time it printed."""
    return lambda: {"wall": float(_python([sys.executable, str(script)], script.parent).strip().splitlines()[-1])}


def lab_run() -> dict[str, float]:
    out = json.loads(_python(LAB_RUN, REPO))
    return {"wall": float(out["wall_s"]), "startup": float(out["runs"][0]["startup_s"])}


def lab_warm_pool() -> dict[str, float]:
    from core.engines.local import start_pool

    t0 = time.perf_counter()
    pool = start_pool(4, "fib")
    wall = time.perf_counter() - t0
    pool.shutdown(wait=True)
    return {"wall": wall}


def lab_compare(rounds: int) -> dict[str, object]:
    out = json.loads(_python([sys.executable, "-m", "core", "compare", "--workload", "fib", "--size", "30", "--tasks",
                              "4", "--engines", "sync,processes:4", "--rounds", str(rounds), "--json", "--quiet"],
                             REPO))
    v = out["verdicts"][0]
    return {"label": v["label"], "speedup": float(v["speedup"]), "ci": v["ci"], "verdict": v["verdict"],
            "rounds": int(out["rounds"])}


# The seed script's variants: (key, label, scheduler, extra dask.compute arguments, distributed imported first).
SHAPE = ", num_workers=4, chunksize=1"
VARIANTS = (("a", "(a) seed §4: processes, Dask's defaults", "processes", "", False),
            ("a4", "(a4) seed §4: processes, num_workers=4, chunksize=1", "processes", SHAPE, False),
            ("s", "(s) seed §4: sync", "sync", "", False),
            ("a*", "(a*) seed §4: processes, distributed imported first", "processes", "", True),
            ("a4*", "(a4*) seed §4: processes ×4, chunksize=1, distributed first", "processes", SHAPE, True),
            ("s*", "(s*) seed §4: sync, distributed imported first", "sync", "", True))
FIRST = "    import distributed  # noqa: F401  (dask.compute's first call imports it)\n"


def main() -> None:
    p = parser(__doc__, repeats=5, quick_repeats=2)
    args = p.parse_args()
    repeats = resolve_repeats(args)
    print(machine_line(), flush=True)  # before the rounds' progress lines on stderr
    labels: dict[str, str] = {}
    cases: dict[str, Callable[[], dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="gil-lab-seed-") as tmp:
        for n, (key, label, scheduler, extra, first) in enumerate(VARIANTS):
            path = Path(tmp) / f"v{n}" / "seed_section4.py"  # one directory each: the script's own sys.path[0]
            path.parent.mkdir()
            path.write_text(SEED.format(scheduler=scheduler, extra=extra, prelude=FIRST if first else ""))
            labels[key], cases[key] = label, seed_case(path)
        labels["b"], cases["b"] = "(b) lab: python -m core run … processes ×4", lab_run
        labels["c"], cases["c"] = "(c) lab: start_pool(4, 'fib'), warm pool start", lab_warm_pool
        keys = list(cases)
        got: dict[str, list[dict[str, float]]] = {k: [] for k in keys}
        with BusyMeter() as busy:
            for r in range(repeats):
                for key in keys[r % len(keys):] + keys[:r % len(keys)]:  # rotated: no case always first
                    got[key].append(cases[key]())
                print(f"round {r + 1}/{repeats}: " + ", ".join(f"({k}) {got[k][-1]['wall']:.2f} s" for k in keys),
                      file=sys.stderr)
            compared = lab_compare(max(6, repeats))

    wall = {k: [x["wall"] for x in got[k]] for k in keys}
    base = median(wall["a"])
    rows = [[labels[k], f"{median(wall[k]):.3f}", spread(wall[k]), f"{median(wall[k]) / base:.2f}×"] for k in keys]
    print(f"\nfib(30) × 4, {repeats} interleaved round(s); (a)-(b) include pool start and stop, (c) the start alone\n")
    print(table(["case", "median s", "min–max", "÷ (a)"], rows))

    def paired(x: str, y: str) -> float:
        """Median of the per-round ratios x ÷ y: the drift-proof number."""
        return statistics.median(p["wall"] / q["wall"] for p, q in zip(got[x], got[y], strict=True))

    ratio = paired("b", "a")
    startup = [x["startup"] for x in got["b"]]
    print(f"\nlab run (b) ÷ seed §4 (a): {ratio:.2f} paired per round (of medians {median(wall['b']) / base:.2f});"
          f" ÷ the same 4-process pool in the seed's code (a4): {paired('b', 'a4'):.2f}")
    print(f"lab run's start-up alone: median {median(startup):.3f} s ({spread(startup)}); lab warm pool start (c):"
          f" median {median(wall['c']):.3f} s ({spread(wall['c'])})")
    lo, hi = compared["ci"] if isinstance(compared["ci"], list) else (None, None)
    ci = f", 95 % CI {lo:.2f}–{hi:.2f}" if lo is not None and hi is not None else ""
    print(f"compare, {compared['label']} × sync: {compared['speedup']:.2f}× ({compared['verdict']}{ci},"
          f" {compared['rounds']} rounds)")
    print(f"the seed's own sync ÷ processes: (s) ÷ (a) {paired('s', 'a'):.2f}×; with distributed imported first,"
          f" as the lab does once per process, (s*) ÷ (a*) {paired('s*', 'a*'):.2f}×, and on the compare arm's"
          f" pool (4 processes, chunksize 1) (s*) ÷ (a4*) {paired('s*', 'a4*'):.2f}×")
    print(f"\ngoal: lab run ÷ seed §4 ≤ {GOAL}: {verdict(ratio <= GOAL)}")
    print(busy.line())


if __name__ == "__main__":
    main()
