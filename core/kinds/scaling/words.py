"""The sweep in words: the knee, the efficiency and what the Amdahl fit can say."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from core.workloads import WORKLOADS

if TYPE_CHECKING:
    from core.kinds.scaling.result import ScalingResult


# --- words -----------------------------------------------------------------------------------------------


def describe_scaling(result: ScalingResult) -> list[str]:
    """Markdown sentences written from the sweep's own numbers: the knee, the best point, f and its limits."""
    f = result.frame
    cores = result.cores
    engine = result.engine
    best = f.loc[f["speedup"].idxmax()]
    if int(best["workers"]) == 1:
        out = [f"On **{engine}**, no worker count beat 1 worker: more workers only added overhead"
               f" (best other: {f['speedup'].iloc[1:].max():.2f}×)." if len(f) > 1 else
               f"Only 1 worker was measured on **{engine}**."]
    else:
        out = [
            f"On **{engine}**, {int(best['workers'])} workers ran the {result.tasks} tasks fastest:"
            f" **{best['speedup']:.2f}×** the 1-worker time ({best['wall_s']:.3f} s vs {f['wall_s'].iloc[0]:.3f} s),"
            f" efficiency {best['efficiency']:.0%}."
        ]
    at_cores = f[f["workers"] == cores]
    beyond = f[f["workers"] > cores]
    if not at_cores.empty and not beyond.empty:
        s_knee = float(at_cores["speedup"].iloc[0])
        s_beyond = float(beyond["speedup"].max())
        out.append(
            f"The knee is at **{cores} workers = {cores} usable cores**: {s_knee:.2f}× there, at most"
            f" {s_beyond:.2f}× beyond. Extra workers cannot compute at the same time — they take turns on"
            f" the same {cores} cores."
        )
    wl = WORKLOADS[result.workload]
    if result.scheduler in ("threads", "cluster-threads") and wl.gil == "holds" and f["speedup"].max() < 1.3:
        out.append(
            f"Threads do not scale for {result.workload}: every worker thread lives in one process with one"
            " GIL, and pure-Python bytecode runs only while holding it, so the threads take turns."
        )
    if math.isfinite(result.serial_fraction):
        out.append(
            f"Amdahl fit: serial fraction **f = {result.serial_fraction:.2f}** — as if {result.serial_fraction:.0%}"
            f" of the 1-worker time could not be parallelised (best possible speedup 1/f ="
            f" {'∞' if result.serial_fraction == 0 else f'{1 / result.serial_fraction:.1f}×'}). {result.caveat}"
        )
    else:
        out.append(result.caveat)
    above = f[f["speedup_min"] > 1.1 * f["ideal_speedup"]]
    if not above.empty:
        out.append(
            f"Above the ideal at {', '.join(str(w) for w in above['workers'])} workers: not extra cores, but a"
            " 1-worker run slowed by per-task overhead (sending each task, collecting its result) that more"
            " workers overlap with computing."
        )
    if result.sync_wall_s is not None:
        one, sync = float(f["wall_s"].iloc[0]), result.sync_wall_s
        if one > 1.1 * sync:
            why = f"the {one - sync:.3f} s difference is what the engine itself costs"
        elif sync > 1.1 * one:
            why = "sync was the slower one this time: same work on one thread, so that is this machine's noise"
        else:
            why = "about the same: this engine adds little to tasks of this size"
        out.append(
            f"For reference, sync ran the same tasks in {sync:.3f} s and the 1-worker {result.scheduler} run in"
            f" {one:.3f} s: {why}."
        )
    if not result.balanced:
        odd = ", ".join(str(w) for w in f.loc[~f["balanced"], "workers"])
        out.append(f"{result.tasks} tasks do not divide evenly among {odd} workers: those runs end with a"
                   " half-empty wave and sit below the ideal for that reason alone.")
    return out


