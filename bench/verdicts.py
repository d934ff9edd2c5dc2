"""Verdicts you can trust: every preset, many times, on a quiet machine and beside a noisy neighbour.

    python -m bench.verdicts [--n 100] [--quick] [--presets start,numpy] [--conditions quiet,noisy]

What it measures: each preset of :mod:`core.presets` (each page's default comparison) is run ``--n``
times through ``core.kinds.compare`` exactly as the pages run it (adaptive rounds, the app's 3 s
budget, one registry whose pools and clusters stay warm between comparisons, as the app's do), once
with the machine as it is ("quiet") and once beside a synthetic noisy neighbour (``bench/neighbour.py``:
another program burning one core in random bursts, about half the time).

Ground truth is physics, not the lab's words (``truth()``):
  * GIL-holding work (fib, numpy-small) on threads of one process (Dask's threads, LocalCluster
    processes=False, concurrent.futures threads, joblib's threads) is never faster than sync: ``faster``
    is wrong.
  * GIL-holding work on a warm process engine (a reused pool of Dask's processes, concurrent.futures,
    multiprocessing or joblib's loky; LocalCluster processes=True) with ≥ 2 lanes on ≥ 2 cores is
    faster: ``same``, ``slower`` or ``not-faster`` (with ≥ 2 tasks a core, a pool must win) is wrong.
  * Sleeping tasks on ≥ 2 threads are faster; a GIL-releasing kernel (numpy-matmul, numpy-sort) on
    ≥ 2 threads of a local pool on ≥ 2 cores is faster.
Arms no rule covers are counted apart ("no rule"). ``undecided`` is never wrong: it is the lab saying
it does not know. ``not-faster`` and ``not-slower`` are decided claims like the others.

A preset's taught pairs (processes against threads, processes=True against processes=False, …) are judged
too: a process pool against GIL-bound threads on GIL-holding work is faster by the same physics
(``pair_truth()``).

Goals (issue 20): 0 wrong, quiet and noisy; ≥ 90 % of verdicts decided quietly, ≥ 80 % beside the
neighbour; median comparison ≤ 3 s quietly.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from bench._common import BusyMeter, machine_line, table
from bench.neighbour import neighbour

GOALS = {"quiet": 0.90, "noisy": 0.80}


def truth(spec: Any, arm: Any, cores: int) -> str | None:
    """``"faster"`` or ``"not-faster"`` by physics, or None when no rule covers the arm."""
    from core.spec import ONE_GIL_SCHEDULERS, PROCESS_POOL_SCHEDULERS
    from core.workloads import WORKLOADS

    if spec.workload not in WORKLOADS:  # your own function: its behaviour is what is measured
        return None
    wl = WORKLOADS[spec.workload]
    lanes = 1 if arm.engine == "sync" else arm.workers * (arm.threads_per_worker if arm.engine.startswith("cluster")
                                                             else 1)
    free_threaded = bool(getattr(arm, "python", None)) and str(arm.python).endswith("t")
    one_gil = arm.engine in ONE_GIL_SCHEDULERS and not free_threaded
    warm_processes = (arm.engine in PROCESS_POOL_SCHEDULERS and arm.reuse_pool) or arm.engine == "cluster-processes"
    if wl.cpu_bound and wl.gil == "holds":
        if one_gil:
            return "not-faster"
        # Subinterpreters have a GIL each, and a free-threaded build's threads none: parallel, like processes.
        if (arm.engine == "interpreters" or free_threaded) and min(arm.workers, spec.tasks) >= 2 and cores >= 2:
            return "faster"
        procs = arm.workers if arm.engine in (*PROCESS_POOL_SCHEDULERS, "cluster-processes") else 1
        if warm_processes and procs >= 2 and cores >= 2:
            return "faster"
        return None
    if spec.workload == "sleep" and one_gil and min(lanes, spec.tasks) >= 2:
        return "faster"
    if wl.cpu_bound and wl.gil == "releases" and spec.workload != "transfer" \
            and arm.engine in ("threads", "futures-threads", "joblib-threads") \
            and lanes >= 2 and cores >= 2 and spec.tasks >= 2:
        return "faster"
    return None


def pair_truth(spec: Any, a: Any, b: Any, cores: int) -> str | None:
    """``a`` against ``b`` by physics: a warm process pool against GIL-bound threads is faster (and the
    threads against the pool not faster); None when no rule covers the pair."""
    ta, tb = truth(spec, a, cores), truth(spec, b, cores)
    if ta == "faster" and tb == "not-faster":
        return "faster"
    if ta == "not-faster" and tb == "faster":
        return "not-faster"
    return None


def judge(expected: str | None, verdict: str, spec: Any = None, arm: Any = None, cores: int = 2) -> str:
    """``right``, ``wrong``, ``undecided`` or ``no rule``: a claim against physics (:func:`truth`)."""
    if verdict == "undecided":
        return "undecided"
    if expected is None:
        return "no rule"
    if expected == "faster":
        if verdict == "not-slower":  # true, if weaker than the truth: not a wrong lesson
            return "right"
        if verdict == "not-faster":  # wrong for a warm process pool with at least 2 tasks a core
            many = spec is None or arm is None or spec.tasks >= 2 * min(cores, max(arm.workers, 1))
            return "wrong" if many else "right"
        return "right" if verdict == "faster" else "wrong"
    return "wrong" if verdict == "faster" else "right"  # GIL-bound threads: faster is the wrong claim


def run(presets: list[str], conditions: list[str], n: int, verbose: bool) -> list[dict[str, Any]]:
    from core.engines import ClusterRegistry
    from core.kinds.base import RunContext, measure
    from core.kinds.compare import KIND
    from core.measure.machine import machine_info
    from core.presets import preset

    cores = machine_info().usable_cores
    records: list[dict[str, Any]] = []
    with ClusterRegistry() as registry:
        for name in presets:  # warm every pool and cluster once, as a running server has them
            measure(KIND, preset(name).replace(rounds=1), RunContext(clusters=registry))
        for condition in conditions:
            with neighbour(duty=0.5, burst_s=0.3) if condition == "noisy" else _nothing():
                for i in range(n):
                    for name in presets:  # presets interleaved: drift hits all of them alike
                        spec = preset(name)
                        t0 = time.monotonic()
                        result = measure(KIND, spec, RunContext(clusters=registry))
                        seconds = time.monotonic() - t0
                        at = {"preset": name, "condition": condition, "i": i, "rounds": result.rounds,
                              "seconds": seconds, "other_cores": result.noise.other_cores}
                        for arm, v in zip(spec.arms[1:], result.verdicts, strict=True):
                            expected = truth(spec, arm, cores)
                            rec = _record(at, v, v.label, expected, judge(expected, v.verdict, spec, arm, cores))
                            records.append(rec)
                            _say(rec, v, result, verbose, condition, name, i)
                        arms = {a.label: a for a in spec.arms}
                        for v in result.pair_verdicts:
                            a, b = arms[v.label], arms[v.against]
                            expected = pair_truth(spec, a, b, cores)
                            rec = _record(at, v, f"{v.label} vs {v.against}", expected,
                                          judge(expected, v.verdict, spec, a, cores))
                            records.append(rec)
                            _say(rec, v, result, verbose, condition, name, i)
    return records


def _record(at: dict[str, Any], v: Any, label: str, expected: str, judged: str) -> dict[str, Any]:
    """One verdict's record: where it was measured (``at``), what it said and how it was judged."""
    return {**{k: at[k] for k in ("preset", "condition", "i")}, "arm": label, "verdict": v.verdict,
            "expected": expected, "judged": judged, "speedup": v.speedup, "ci": list(v.ci),
            **{k: at[k] for k in ("rounds", "seconds", "other_cores")}, "reason": v.reason}


def _say(rec: dict[str, Any], v: Any, result: Any, verbose: bool, condition: str, name: str, i: int) -> None:
    if verbose or rec["judged"] == "wrong":
        print(f"  {condition} {name} #{i} {rec['arm']}: {v.verdict} {v.speedup:.2f}"
              f" [{v.ci[0]:.2f}, {v.ci[1]:.2f}] rounds={result.rounds}"
              f" others={result.noise.other_cores:.2f}"
              + ("  <-- WRONG" if rec["judged"] == "wrong" else ""), flush=True)


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def report(records: list[dict[str, Any]], presets: list[str], conditions: list[str]) -> tuple[str, bool]:
    """The table (per preset and condition) and whether every goal is met."""
    rows = []
    ok = True
    for condition in conditions:
        for name in presets + ["all"]:
            rs = [r for r in records if r["condition"] == condition and (name == "all" or r["preset"] == name)]
            if not rs:
                continue
            judged = Counter(r["judged"] for r in rs)
            decided = 1 - judged["undecided"] / len(rs)
            comparisons = {(r["preset"], r["i"]): r["seconds"] for r in rs}
            secs = sorted(comparisons.values())
            others = statistics.median(r["other_cores"] for r in rs)
            verdicts = Counter(r["verdict"] for r in rs)
            rows.append([condition, name, len(comparisons), judged["right"], judged["undecided"], judged["wrong"],
                         judged["no rule"], f"{decided:.0%}", f"{statistics.median(secs):.2f}",
                         f"{secs[int(0.9 * (len(secs) - 1))]:.2f}", f"{others:.2f}",
                         " ".join(f"{k}:{v}" for k, v in sorted(verdicts.items()))])
            if name == "all":
                ok &= judged["wrong"] == 0 and decided >= GOALS[condition]
                if condition == "quiet":
                    ok &= statistics.median(secs) <= 3.0
    head = ["condition", "preset", "comparisons", "right", "undecided", "wrong", "no rule", "decided", "median s",
            "p90 s", "others", "verdicts"]
    return table(head, rows), ok


def main() -> None:
    import argparse

    from core.presets import PRESETS

    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--n", type=int, default=100, help="comparisons per preset and condition (default 100)")
    p.add_argument("--quick", action="store_true", help="10 comparisons per preset and condition")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets (default: all)")
    p.add_argument("--conditions", default="quiet,noisy", help="quiet, noisy or both (default both)")
    p.add_argument("--verbose", action="store_true", help="print every verdict, not only wrong ones")
    p.add_argument("--json", help="also write every verdict to this file")
    args = p.parse_args()
    presets = [x.strip() for x in args.presets.split(",") if x.strip()]
    conditions = [x.strip() for x in args.conditions.split(",") if x.strip()]
    n = 10 if args.quick else args.n
    print(machine_line())
    with BusyMeter() as busy:
        records = run(presets, conditions, n, args.verbose)
    text, ok = report(records, presets, conditions)
    print()
    print(text)
    print(f"\ngoals: 0 wrong; decided ≥ 90 % quietly and ≥ 80 % beside the neighbour; median ≤ 3 s quietly:"
          f" {'all met' if ok else 'NOT all met'}")
    print(busy.line())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(records, fh, indent=1)


if __name__ == "__main__":
    main()
