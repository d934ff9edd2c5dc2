"""Plain-language readings of a measurement, written from its own numbers.

The app must never show canned text that may contradict the chart beside it ("threads are faster"
under a bar that says otherwise). These functions look at what was measured and say what it shows,
with the figures in the sentence, so a noisy run gets an honest description.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from core.measure.machine import MachineInfo
from core.measure.results import ExperimentResult
from core.workloads import WORKLOADS


def fmt_duration(seconds: float) -> str:
    """``12 µs``, ``3.4 ms``, ``1.31 s``: a duration in the unit that reads best (``n/a`` if not finite)."""
    if not math.isfinite(seconds):
        return "n/a"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def ratio_phrase(
    engine_s: float,
    baseline_s: float,
    engine: str,
    baseline: str = "sync",
    overlap: bool = False,
) -> str:
    """``"threads took 1.9× the sync time"`` or ``"processes ran 1.8× faster than sync"``.

    ``overlap`` says the two engines' fastest-to-slowest ranges overlap: the difference is then
    within this machine's noise and is reported as such, not as a speedup.
    """
    if baseline_s <= 0 or engine_s <= 0:
        return f"{engine} could not be compared with {baseline}"
    r = baseline_s / engine_s
    if overlap and 1 / 1.5 < r < 1.5:
        return (
            f"{engine} took about the same time as {baseline} ({_fmt(engine_s)} vs {_fmt(baseline_s)},"
            " within the spread of the repeats)"
        )
    if r >= 1.15:
        return f"{engine} ran {r:.1f}× faster than {baseline} ({_fmt(engine_s)} vs {_fmt(baseline_s)})"
    if r <= 1 / 1.15:
        return f"{engine} took {1 / r:.1f}× the {baseline} time ({_fmt(engine_s)} vs {_fmt(baseline_s)})"
    return f"{engine} took about the same time as {baseline} ({_fmt(engine_s)} vs {_fmt(baseline_s)})"


def ideal_seconds(tasks: int, lanes: int, cores: int, task_s: float, cpu_bound: bool) -> float:
    """Best possible wall time: ``ceil(tasks / min(lanes, cores)) × task time``.

    Waiting (``sleep``, I/O) needs no core, so for it only the lanes (threads or processes) count.
    """
    parallel = max(1, lanes if not cpu_bound else min(lanes, cores))
    return math.ceil(tasks / parallel) * task_s


def explain(results: Sequence[ExperimentResult], labels: Sequence[str] | None = None) -> list[str]:
    """Sentences describing what ``results`` (one per engine, same workload) show.

    Parameters
    ----------
    results : sequence of ExperimentResult
        Results of the same workload and size on different engines.
    labels : sequence of str, optional
        Display names for the engines (default: their scheduler labels).

    Returns
    -------
    list of str
        Markdown sentences, most important first.
    """
    if not results:
        return []
    names = list(labels) if labels is not None else [r.runs["engine"].iloc[0] for r in results]
    first = results[0]
    wl = WORKLOADS[first.spec.workload]
    cores = first.machine.usable_cores
    out: list[str] = []
    noisy: list[str] = []
    sync = next((r for r in results if r.spec.scheduler == "sync"), None)
    task_s = float(sync.tasks["wall_s"].median()) if sync is not None else None

    for res, name in zip(results, names, strict=True):
        spec = res.spec
        if sync is not None and res is not sync:
            overlap = res.wall_min_s <= sync.wall_max_s and sync.wall_min_s <= res.wall_max_s
            sentence = ratio_phrase(res.wall_s, sync.wall_s, f"**{name}**", overlap=overlap)
            share = res.cpu_share
            holds_gil = wl.gil == "holds" and wl.cpu_bound
            if holds_gil and spec.scheduler in ("threads", "cluster-threads") and share < 0.75:
                sentence += (
                    f": each task had the CPU for only {share:.0%} of its time — the threads took turns"
                    " holding the GIL, so they ran one at a time."
                )
            elif spec.scheduler in ("processes", "cluster-processes", "external") and wl.cpu_bound:
                compute = float(res.runs["compute_s"].median())
                if res.wall_s > 1.15 * sync.wall_s and compute < 0.05 + sync.wall_s:
                    sentence += (
                        ": the tasks are too short to pay for starting processes and sending them work"
                        f" (the tasks themselves took {_fmt(compute)})."
                    )
                elif share > 0.75 and compute < 0.85 * sync.wall_s:
                    sentence += f": each worker process has its own GIL, so tasks ran in parallel ({share:.0%} CPU)."
                elif share <= 0.75:
                    sentence += (
                        f": tasks had the CPU for {share:.0%} of their time — {res.engine['total_threads']}"
                        f" workers shared {cores} cores."
                    )
                else:
                    sentence += "."
            elif not wl.cpu_bound and res.wall_s < 0.8 * sync.wall_s:
                sentence += ": waiting releases the GIL, so the waits overlap."
            else:
                sentence += "."
            out.append(sentence)
        startup = float(res.runs["startup_s"].median() + res.runs["teardown_s"].median())
        if startup > 0.05 and startup > 0.2 * res.wall_s:
            out.append(
                f"**{name}** spent {_fmt(startup)} of its {_fmt(res.wall_s)} starting and stopping a fresh pool"
                f" of {spec.workers} processes (Dask's processes scheduler does this on every compute);"
                f" the tasks themselves took {_fmt(float(res.runs['compute_s'].median()))}."
            )
        if res.setup_s > 0.05:
            out.append(f"Starting **{name}** took {_fmt(res.setup_s)} once; later runs of this shape reuse it.")
        if task_s is not None and res is not sync and res.spec.concurrency < res.spec.tasks and not wl.cpu_bound:
            waves = math.ceil(spec.tasks / spec.concurrency)
            out.append(
                f"**{name}** had {spec.concurrency} threads for {spec.tasks} tasks, so the waits ran in"
                f" {waves} waves of {_fmt(task_s)}."
            )
        spread = (res.wall_max_s - res.wall_min_s) / res.wall_s if res.wall_s > 0 else 0.0
        if spec.repeats > 1 and spread > 0.25:
            noisy.append(f"**{name}** {_fmt(res.wall_min_s)}–{_fmt(res.wall_max_s)}")
    if noisy:
        out.append(
            "Repeats varied (" + ", ".join(noisy) + "): this machine is noisy, so compare medians and look"
            " at the spread before reading much into small differences."
        )
    if wl.cpu_bound and any(r.spec.concurrency > cores for r in results):
        out.append(
            f"This machine has {cores} usable core{'s' if cores != 1 else ''}: more workers than that cannot"
            " compute more at once, they only take turns."
        )
    return out


def cluster_line(engine: dict[str, Any]) -> str | None:
    """``2 workers on 2 hosts (10.0.0.2, 10.0.0.3) · 2 threads · 25 GB · Python 3.11.7 · dask …``.

    From a distributed engine's info (:func:`core.engines.environment.describe`); None for an engine
    that has no cluster. A version the workers do not share is shown as every value they have.
    """
    workers = engine.get("workers")
    if not isinstance(workers, list) or not workers:
        return None
    hosts = sorted({str(w["host"]) for w in workers})
    shown = ", ".join(hosts[:4]) + (f" and {len(hosts) - 4} more" if len(hosts) > 4 else "")
    n, h = len(workers), len(hosts)
    parts = [f"{n} worker{'s' if n != 1 else ''} on {h} host{'s' if h != 1 else ''} ({shown})",
             f"{sum(int(w['threads']) for w in workers)} threads"]
    memory = [w["memory_limit_bytes"] for w in workers if w.get("memory_limit_bytes")]
    if memory:
        parts.append(f"{sum(memory) / 1e9:.1f} GB memory limit")

    def values(get: Any) -> str:
        return "/".join(sorted({str(get(w) or "none") for w in workers}))

    parts.append(f"Python {values(lambda w: w.get('python'))}")
    for package in ("dask", "distributed", "cloudpickle", "numpy"):
        parts.append(f"{package} {values(lambda w, p=package: (w.get('packages') or {}).get(p))}")
    parts.append("task code shipped by value" if engine.get("ship_code", True) else "task code imported there")
    return " · ".join(parts)


def interpreter_note(machine: MachineInfo) -> str | None:
    """What to tell a learner whose interpreter runs without the GIL, or ``None`` on a standard CPython.

    The lab's lessons ("threads take turns on pure Python") hold only while the GIL is on. A free-threaded
    build (3.13t / 3.14t) with the GIL disabled runs Python threads in parallel; the pages must say so
    rather than contradict what the user's own measurements show.
    """
    if machine.gil_enabled:
        return None
    return (
        f"This server runs a free-threaded CPython {machine.python_version} with the GIL **disabled**. Python"
        " threads here can run bytecode on several cores at once, so pure-Python work such as fib may speed up"
        " on the threads engines too. Where a page explains the GIL, it describes standard CPython; the"
        " measurements show what happens on this interpreter."
    )
