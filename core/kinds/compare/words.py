"""The comparison in words: Markdown sentences from the verdicts, never claiming more than they support."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from core.fmt import ms as _ms
from core.fmt import times as _fmt_x
from core.kinds.compare.verdicts import EFFICIENCY_TOLERANCE, Verdict, one_core_at_most
from core.report.explain import cluster_line
from core.spec import (
    CLUSTER_SCHEDULERS,
    ONE_GIL_SCHEDULERS,
    PROCESS_SCHEDULERS,
)
from core.workloads import FUNCTION, workload_info

if TYPE_CHECKING:
    from core.kinds.compare.result import ComparisonResult


def explain_comparison(result: ComparisonResult) -> list[str]:
    """Markdown sentences from the verdicts: what each arm did against the baseline, and why.

    A sentence explains a verdict only with what the verdict supports: the GIL lesson ("the threads
    took turns") goes with ``not-faster`` / ``same`` / ``slower``, the parallelism lesson with ``faster``,
    and an ``undecided`` verdict says why and what would decide it. The pairs the page teaches come
    first: they answer its own question.
    """
    spec, m = result.spec, result.machine
    wl = workload_info(spec.workload)
    base_label = result.labels[0]
    base = result.arms[0]
    cores = m.usable_cores
    out: list[str] = []
    cpu_bound, holds_gil = wl.cpu_bound, wl.gil == "holds" and wl.cpu_bound and m.gil_enabled
    if spec.workload == FUNCTION:
        # Your function: what it does is measured, not known. The baseline's tasks ran alone: a task that had
        # the CPU most of its time alone computes (and, in pure Python, holds the GIL while it does).
        from core.report.advice import advise, values_sentence

        alone = base.cpu_share
        cpu_bound = math.isfinite(alone) and alone >= 0.5
        holds_gil = math.isfinite(alone) and alone >= 0.75 and m.gil_enabled
        out.append(f"**Advice:** {advise(result).text}")
        agree = values_sentence(result)
        if agree:
            out.append(agree)
    out += [pair_sentence(result, v, holds_gil) for v in result.pair_verdicts]
    for v, arm, arm_spec in zip(result.verdicts, result.arms[1:], spec.arms[1:], strict=True):
        name = f"**{v.label}**"
        lo, hi = v.ci
        ci = f"95 % CI {_fmt_x(lo)}–{_fmt_x(hi)}, {v.rounds} paired rounds" if math.isfinite(hi) and lo > 0 \
            else f"{v.rounds} round(s): no interval yet"
        times = f"{_ms(arm.wall_s)} vs {_ms(base.wall_s)}"
        share = arm.cpu_share
        moves_data = spec.workload == "transfer" and arm_spec.engine in PROCESS_SCHEDULERS
        if v.verdict == "faster":
            sentence = (f"{name} ran **{_fmt_x(v.speedup)} faster** than {base_label}, at least {_fmt_x(v.bound or 0)}"
                        f" ({times}; {ci})")
            if spec.workload == "transfer":
                sentence += (": the checksums ran in parallel, and that outweighed sending the payload to the"
                             " workers." if moves_data else ": every thread read the caller's array in place.")
            elif arm_spec.engine == "interpreters" and cpu_bound:
                sentence += ": each subinterpreter has its own GIL, so the tasks ran in parallel in one process."
            elif (arm_spec.python and arm_spec.engine == "threads" and cpu_bound
                  and not one_core_at_most(spec, arm_spec)):
                sentence += f": Python {arm_spec.python} runs without the GIL, so its threads ran in parallel."
            elif arm_spec.engine in PROCESS_SCHEDULERS and cpu_bound:
                sentence += ": each worker process has its own GIL, so the tasks ran in parallel"
                sentence += f" ({share:.0%} of their time on a CPU)." if math.isfinite(share) else "."
            elif not cpu_bound:
                sentence += ": a waiting task releases the GIL, so the waits overlapped."
            elif wl.gil == "releases":
                sentence += ": the kernel releases the GIL, so the threads computed on several cores at once."
            elif not m.gil_enabled:
                sentence += ": this interpreter runs without the GIL, so Python threads ran in parallel."
            else:
                sentence += "."
        elif v.verdict in ("same", "not-faster"):
            if v.verdict == "same":
                sentence = (f"{name} took **about the same time** as {base_label} ({times}; {_fmt_x(v.speedup)},"
                            f" {ci}: within ±{spec.band:.0%})")
            else:
                sentence = (f"{name} was **no faster** than {base_label}: at most {_fmt_x(v.bound or 0)} ({times};"
                            f" {_fmt_x(v.speedup)}, {ci})")
            if holds_gil and arm_spec.engine in ONE_GIL_SCHEDULERS and math.isfinite(share) and share < 0.75:
                sentence += (f": each task had the CPU for only {share:.0%} of its time — the threads took turns"
                             " holding the GIL, so they ran one at a time.")
            else:
                sentence += "."
        elif v.verdict == "not-slower":
            sentence = (f"{name} was **no slower** than {base_label}: at least {_fmt_x(v.bound or 0)} ({times};"
                        f" {_fmt_x(v.speedup)}, {ci}); whether it is faster is not decided.")
        elif v.verdict == "slower":
            sentence = (f"{name} was **{_fmt_x(1 / v.speedup)} slower** than {base_label}, at least"
                        f" {_fmt_x(1 / v.bound if v.bound else math.inf)} slower ({times}; {ci})")
            startup = float(arm.runs["startup_s"].median() + arm.runs["teardown_s"].median())
            compute = float(arm.runs["compute_s"].median())
            if moves_data:
                sentence += (f": each task's {spec.size:g} MB payload had to be pickled, sent to another process"
                             " and unpickled there; threads read the same array in place.")
            elif startup > 0.05 and startup > 0.2 * arm.wall_s:
                sentence += (f": it spent {_ms(startup)} of every compute starting and stopping a fresh pool of"
                             f" {arm.spec.workers} processes; the tasks themselves took {_ms(compute)}.")
            elif holds_gil and arm_spec.engine in ONE_GIL_SCHEDULERS:
                sentence += ": the threads took turns holding the GIL, and handing it over costs time."
            elif compute > 0 and arm_spec.engine in ("cluster-threads", "cluster-processes", "external"):
                sentence += ": the tasks are too short to pay for sending them to workers and collecting results."
            else:
                sentence += "."
        else:
            sentence = (f"{name} against {base_label}: **undecided** — {_fmt_x(v.speedup)} ({ci}); {v.reason}.")
        if 0 < v.rounds < result.rounds and result.stop != "running":
            later = result.rounds - v.rounds
            sentence += (f" It was settled after {v.rounds} rounds and sat out the "
                         + ("last round" if later == 1 else f"{later} later rounds")
                         + ", which measured the arms still undecided.")
        if v.busy and v.verdict != "undecided":
            sentence += f" (Measured while other programs used {v.other_cores:.1f} of {cores} cores.)"
        out.append(sentence)
        if arm.setup_s > 0.05:
            out.append(f"Starting **{v.label}** took {_ms(arm.setup_s)} once, before the rounds; it is not in the"
                       " times above.")
        if not cpu_bound and v.lanes < spec.tasks and arm_spec.engine != "sync":
            waves = math.ceil(spec.tasks / v.lanes)
            lanes = "processes" if arm_spec.engine in PROCESS_SCHEDULERS else "threads"
            out.append(f"**{v.label}** had {v.lanes} {lanes} for {spec.tasks} tasks, so the waits ran in"
                       f" {waves} waves.")
        if arm_spec.engine == "external" and cluster_line(arm.engine):
            out.append(f"**{v.label}** ran its tasks on {cluster_line(arm.engine)}.")
    best = max(result.verdicts, key=lambda v: v.efficiency if math.isfinite(v.efficiency) else -1, default=None)
    if best is not None and math.isfinite(best.efficiency):
        if best.efficiency > EFFICIENCY_TOLERANCE:
            out.append(f"**Measurement problem:** {best.label} ran at {best.efficiency:.2f}× the ideal this machine"
                       " allows, which no engine can do; the machine's load changed during the comparison. Measure"
                       " again.")
        elif math.isfinite(result.ideal_s):
            on = f"the cluster's {best.lanes} threads" if best.scheduler == "external" else f"{cores} cores"
            out.append(f"The best arm, {best.label}, reached **{best.efficiency:.0%}** of the ideal for its"
                       f" {best.lanes} lanes on {on} (ideal built from the shortest task measured,"
                       f" {_ms(result.task_floor_s)}).")
    if result.noise.busy:
        out.append(f"This machine was busy: other programs used {result.noise.other_cores:.1f} of {cores} cores during"
                   " the comparison, so timings are slower and noisier than on a quiet machine. Verdicts the busy"
                   " cores could have produced are shown as undecided.")
    if cpu_bound and any(a.spec.concurrency > cores for a in result.arms):
        out.append(f"This machine has {cores} usable core{'s' if cores != 1 else ''}: more workers than that cannot"
                   " compute more at once, they only take turns.")
    return out


def pair_sentence(result: ComparisonResult, v: Verdict, holds_gil: bool) -> str:
    """One pair the page teaches, a against b, in words: the claim, its evidence and, when supported, why."""
    spec = result.spec
    a, b = f"**{v.label}**", f"**{v.against}**"
    lo, hi = v.ci
    ci = (f"{_fmt_x(v.speedup)}, 95 % CI {_fmt_x(lo)}–{_fmt_x(hi)}, {v.rounds} paired rounds"
          if math.isfinite(hi) and lo > 0 else f"{v.rounds} round(s): no interval yet")
    engine = {arm.label: arm.engine for arm in spec.arms}
    a_procs, b_gil = engine[v.label] in PROCESS_SCHEDULERS, engine[v.against] in ONE_GIL_SCHEDULERS
    if v.verdict == "faster":
        sentence = f"{a} ran **faster than {b}**, at least {_fmt_x(v.bound or 0)} ({ci})"
        if a_procs and b_gil and holds_gil:
            sentence += ": each process has its own GIL, while the threads took turns holding one."
        elif engine[v.against] in ONE_GIL_SCHEDULERS and engine[v.label] in CLUSTER_SCHEDULERS and holds_gil:
            sentence += ": its workers are separate processes, each with its own GIL."
        else:
            sentence += "."
    elif v.verdict in ("same", "not-faster", "slower"):
        said = {"same": f"took **about the same time** as {b} (within ±{spec.band:.0%})",
                "not-faster": f"was **no faster than {b}**: at most {_fmt_x(v.bound or 0)}",
                "slower": f"was **slower than {b}**: at least {_fmt_x(1 / v.bound if v.bound else math.inf)} slower"}
        sentence = f"{a} {said[v.verdict]} ({ci})."
    elif v.verdict == "not-slower":
        sentence = (f"{a} was **no slower than {b}**: at least {_fmt_x(v.bound or 0)} ({ci}); whether it is faster"
                    " is not decided.")
    else:
        sentence = f"{a} against {b}: **undecided** — {ci}; {v.reason}."
    if v.busy and v.verdict != "undecided":
        sentence += f" (Measured while other programs used {v.other_cores:.1f} of {result.machine.usable_cores} cores.)"
    return sentence


