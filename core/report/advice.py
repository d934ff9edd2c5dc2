"""What to use, in one sentence, derived from a comparison's verdicts and CPU evidence.

The question a practitioner brings is about their own code: "will threads help *my* function, or do I
need processes?". :func:`advise` answers it from what the comparison measured, never from what the
function is assumed to do:

* a thread engine (one GIL) was ``faster``, its tasks really at the same time: **threads help** — the
  function releases the GIL (it waits, or its work runs in C without the GIL), and threads need no
  pickling and no pool start-up. (A pool faster than Dask's sync scheduler only for costing less per
  compute or per task, its tasks still one after the other or taking turns, does not count: see
  ``tasks_overlapped``);
* else a process engine was ``faster``: **use processes** — and if the threads were decided no help
  (``not-faster``, ``same`` or ``slower``), it holds the GIL, and a task is long enough to pay for
  sending it to another process (the pool's start-up, paid once and reported apart, is said too, with
  after how many computes it is won back); an undecided or ``not-slower`` thread verdict claims nothing
  about the GIL. Unless a thread engine was clearly faster still, its tasks one after the other: then
  **threads**, said to be not for running tasks at once;
* every verdict says no help (``not-faster``, ``same`` or ``slower``): **parallelism does not pay at this
  size**;
* otherwise: no advice yet, with why (an undecided verdict, and what would decide it; or a ``not-slower``
  one, which leaves open whether it helps).

Threads are preferred when both help and processes are not clearly faster (beyond the comparison's
band): they share memory and start in microseconds. The evidence travels with the sentence (the
verdicts with their intervals, each task's CPU share under threads) and in :meth:`Advice.to_dict`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from core.fmt import ms as _seconds
from core.fmt import ratio as _x
from core.spec import ONE_GIL_SCHEDULERS, PROCESS_POOL_SCHEDULERS, PROCESS_SCHEDULERS

Use = Literal["threads", "processes", "none", "undecided"]


@dataclass(frozen=True)
class Advice:
    """One sentence of advice and the numbers it stands on.

    Attributes
    ----------
    use : {"threads", "processes", "none", "undecided"}
        What the comparison says to use (``none``: run it serially; ``undecided``: measure again).
    text : str
        The sentence, with its evidence in brackets.
    thread_arm, process_arm : str or None
        The labels of the best thread arm and the best process arm the advice weighed.
    thread_cpu_share : float
        Median CPU time ÷ wall time of a task on that thread arm (≪ 1 when its threads took turns).
    baseline_cpu_share : float
        The same for the baseline, whose tasks ran alone (≈ 1: it computes; ≪ 1: it waits).
    """

    use: Use
    text: str
    thread_arm: str | None
    process_arm: str | None
    thread_cpu_share: float
    baseline_cpu_share: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ci(v: Any) -> str:
    lo, hi = v.ci
    return f"95 % CI {_x(lo)}–{_x(hi)}" if math.isfinite(hi) and lo > 0 else "no interval yet"


def _best(verdicts: list[Any]) -> Any | None:
    """The arm with the highest speed-up, preferring decided ``faster`` ones."""
    if not verdicts:
        return None
    return max(verdicts, key=lambda v: (v.verdict == "faster", v.speedup if math.isfinite(v.speedup) else 0.0))


def tasks_overlapped(result: Any, label: str) -> bool:
    """Whether the arm's tasks really ran at the same time, from the arm's own tasks.

    A pool can be ``faster`` than Dask's sync scheduler for another reason: it costs less per compute (no
    graph to build and walk), or a task simply costs less on its threads than in the baseline's thread (in
    CI, two threads were called 2.8× and 4.4× faster than sync on ``b"x" * 2_000_000``, which holds the
    GIL: the same task took longer in sync's thread, likely the memory allocator's state). Then the
    speed-up says nothing about the GIL. So the evidence is the arm's own, never a task time of another
    arm:

    * its tasks overlapped: their walls add up to more than its compute (by the comparison's band); tasks
      one after the other add up to the compute at most;
    * and they did not just take turns on one GIL, as threads of pure Python do when a task is long enough
      to be switched out (their walls overlap too). Turns show as both: the tasks' CPU share fell below the
      one they have alone, in the baseline (towards one over the lanes), and their CPU time adds up to
      the compute's wall time (one GIL, busy all along). A wait overlapping a wait keeps its small share
      and adds up to far less; CPU work in parallel (C code without the GIL, or more threads than cores)
      adds up to more.
    """
    arm = result.arms[result.labels.index(label)]
    band = result.spec.band
    compute_s = float(arm.runs["compute_s"].median())
    wall_s, cpu_s = _task_sums(arm)
    if not compute_s * (1 + band) < wall_s:
        return False  # one after the other
    # Shares of all the tasks' time together, not a median task's: when only some tasks are switched out,
    # the median task still had the CPU ~100 % of its time.
    alone_wall_s, alone_cpu_s = _task_sums(result.arms[0])
    share_fell = alone_wall_s > 0 and cpu_s / wall_s * (1 + band) < alone_cpu_s / alone_wall_s
    one_gil_busy = compute_s / (1 + band) <= cpu_s <= compute_s * (1 + band)
    return not (share_fell and one_gil_busy)


def _task_sums(arm: Any) -> tuple[float, float]:
    """Median over repeats of the tasks' wall time added up, and of their CPU time added up (seconds)."""
    per = arm.tasks.groupby("repeat")
    return float(per["wall_s"].sum().median()), float(per["cpu_s"].sum().median())


def advise(result: Any) -> Advice:
    """The advice of a :class:`core.kinds.compare.ComparisonResult` (see the module docstring)."""
    base_label = result.labels[0]
    arms = dict(zip(result.labels, result.arms, strict=True))
    threads = [v for v in result.verdicts if v.scheduler in ONE_GIL_SCHEDULERS]
    procs = [v for v in result.verdicts if v.scheduler in PROCESS_SCHEDULERS]
    best_t, best_p = _best(threads), _best(procs)
    # The widest thread arm shows best whether threads take turns: more threads, lower share if they do.
    widest = max(threads, key=lambda v: v.lanes, default=None)
    t_share = arms[widest.label].cpu_share if widest is not None else math.nan
    alone = result.arms[0].cpu_share
    band = result.spec.band
    task_s = float(result.arms[0].tasks["wall_s"].median())
    gil_free = not result.machine.gil_enabled

    def evidence_t(v: Any) -> str:
        share = arms[v.label].cpu_share
        text = f"{v.label} {v.claim} ({_x(v.speedup)}) against {base_label}, {_ci(v)}"
        return text + (f"; a task had the CPU {share:.0%} of its time there" if math.isfinite(share) else "")

    def evidence_p(v: Any) -> str:
        arm = arms[v.label]
        text = f"{v.label} {v.claim} ({_x(v.speedup)}), {_ci(v)}; a task takes about {_seconds(task_s)}"
        if v.scheduler in PROCESS_POOL_SCHEDULERS and arm.spec.reuse_pool and arm.setup_s > 0:
            text += f", and starting the pool took {_seconds(arm.setup_s)} once"
            saved = float(result.arms[0].wall_s) - float(arm.wall_s)
            if saved > 0:  # the start-up is paid once; every compute like this one wins `saved` back
                text += f" (won back after about {math.ceil(arm.setup_s / saved)} computes like these)"
        elif float(arm.runs["startup_s"].median()) > 0.01:
            text += f", and every compute paid {_seconds(float(arm.runs['startup_s'].median()))} for a new pool"
        return text

    faster_t = best_t is not None and best_t.verdict == "faster" and tasks_overlapped(result, best_t.label)
    faster_p = best_p is not None and best_p.verdict == "faster" and tasks_overlapped(result, best_p.label)
    # Faster only for costing less per compute or per task: the tasks did not overlap (see tasks_overlapped).
    cheaper_t = best_t is not None and best_t.verdict == "faster" and not faster_t
    turns = (": its tasks still ran one after the other, it only cost less per compute than"
             f" {base_label}") if cheaper_t else ": the threads took turns"
    clearly_p = faster_p and (not faster_t or best_p.speedup > best_t.speedup * (1 + band))
    # Threads clearly faster than processes, yet not by running tasks at once: a task cost less on their threads.
    cheaper_still = clearly_p and cheaper_t and best_t.speedup > best_p.speedup * (1 + band)
    if faster_t and not clearly_p:
        why = "this interpreter runs without the GIL" if gil_free else "it releases the GIL"
        evidence = evidence_t(best_t)
        if not gil_free and math.isfinite(alone) and alone < 0.5:
            why += " while it waits"
            evidence = f"alone, a task had the CPU {alone:.0%} of its time; {evidence}"
        use: Use = "threads"
        text = f"Threads help: {why} ({evidence})."
    elif cheaper_still:
        use = "threads"
        text = (f"Use threads, though not for running tasks at once: they ran it fastest ({evidence_t(best_t)}{turns}),"
                f" ahead of processes, which did run tasks at once ({evidence_p(best_p)}).")
    elif clearly_p:
        use = "processes"
        if faster_t:
            text = (f"Use processes: threads help ({_x(best_t.speedup)}) but it holds the GIL part of the time, and a"
                    f" task is long enough to pay for start-up ({evidence_p(best_p)}).")
        elif best_t is not None and best_t.no_help:
            text = (f"Use processes: it holds the GIL and a task is long enough to pay for start-up"
                    f" ({evidence_t(best_t)}{turns}; {evidence_p(best_p)}).")
        elif best_t is not None:  # processes are decided; what threads do is not, so no claim about the GIL
            why = best_t.reason or "no slower, but whether they help is open"
            text = (f"Use processes: they ran it faster ({evidence_p(best_p)}); whether threads help is not decided"
                    f" yet ({evidence_t(best_t)}: {why}).")
        else:
            text = (f"Use processes: they ran it faster ({evidence_p(best_p)}); add a thread engine to see what it"
                    " does to the GIL.")
    elif all(v.no_help or v.helps for v in result.verdicts):  # none helps by running tasks at once
        use = "none"
        said = [evidence_t(best_t) + (turns if cheaper_t else "")] if best_t is not None else []
        said += [evidence_p(best_p)] if best_p is not None else []
        text = (f"Parallelism does not pay at this size: no engine gained by running tasks at once"
                f" ({'; '.join(said)}); give each task more work, or keep it serial.")
    else:
        use = "undecided"
        open_ = [v for v in result.verdicts if not (v.no_help or v.helps)]
        first = open_[0]
        why = first.reason or f"{first.claim}: whether it helps is still open; more rounds would tell"
        text = (f"No advice yet: {', '.join(v.label for v in open_)} {'is' if len(open_) == 1 else 'are'} undecided"
                f" ({why}).")
    return Advice(use=use, text=text, thread_arm=best_t.label if best_t else None,
                  process_arm=best_p.label if best_p else None, thread_cpu_share=t_share, baseline_cpu_share=alone)


# --- your function's values ----------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    try:
        equal = a == b
        if not isinstance(equal, bool):
            equal = bool(getattr(equal, "all", lambda: equal)())  # NumPy arrays compare element by element
    except Exception:  # values that do not compare
        equal = False
    return equal or repr(a) == repr(b)  # repr too: NaN is not equal to itself


def _values(result: Any) -> dict[str, tuple[Any, ...]]:
    return {label: tuple(arm.values) for label, arm in zip(result.labels, result.arms, strict=True)}


def values_agree(result: Any) -> bool:
    """Whether every arm's tasks returned the same values as the baseline's (first round, task by task)."""
    values = list(_values(result).values())
    first = values[0]
    return all(len(v) == len(first) and all(_same(a, b) for a, b in zip(v, first, strict=True)) for v in values[1:])


def values_sentence(result: Any) -> str:
    """One sentence when the engines' return values differ (your function depends on where it ran)."""
    if values_agree(result):
        return ""
    shown = "; ".join(f"{label}: {_short(v[0]) if v else 'nothing'}" for label, v in _values(result).items())
    return (f"**The return values differ between engines** ({shown}): the function depends on where or when it"
            " runs (a process id, the time, random numbers, global state).")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def function_summary(result: Any) -> dict[str, Any]:
    """The ``function`` object of a comparison's JSON: the call, its trial, and what each arm returned."""
    spec = result.spec
    return {"function": spec.function, "args": spec.function_args, "kwargs": spec.function_kwargs,
            "values_agree": values_agree(result),
            "values": {label: [_short(x) for x in v] for label, v in _values(result).items()},
            "trial": result.trial}
