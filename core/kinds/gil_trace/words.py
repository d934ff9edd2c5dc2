"""The GIL trace in words and in a terminal table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.kinds.base import machine_line
from core.kinds.gil_trace.spec import MAX_STAMPS

if TYPE_CHECKING:
    from core.kinds.gil_trace.result import GilTrace


def explain_trace(trace: GilTrace) -> list[str]:
    """Plain-language sentences (Markdown) about one trace, written from its measured numbers.

    Never claims that threads cannot run Python in parallel when the trace ran without the GIL.
    """
    spec, pf, cores = trace.spec, trace.parallel_fraction, trace.machine.usable_cores
    interval_ms = trace.switch_interval_s * 1000
    if spec.threads == 1:
        return [f"One thread has no one to hand the GIL to: it made progress {trace.busy_fraction:.0%} of the time"
                " (gaps, if any, are the operating system running something else on its core)."]
    together = f"two or more threads made progress at the same moment **{pf:.0%}** of the time"
    out: list[str] = []
    if spec.workload == "python":
        if not trace.gil_enabled:
            out.append(f"This interpreter ran the trace **without the GIL**: {together}. Python threads here can run"
                       " bytecode on several cores at once.")
        else:
            out.append(f"The threads handed the interpreter over **{trace.handoffs}** times: a turn lasted"
                       f" **{trace.mean_turn_ms:.1f} ms** on average, against a switch interval of {interval_ms:g} ms;"
                       f" {together}. Only the thread holding the GIL runs Python bytecode.")
            if pf > 0.1:
                out.append("That overlap is more than the GIL allows for pure Python: bars start about one work"
                           " unit early, and a loaded machine blurs them.")
    else:
        what = "np.dot releases the GIL while it multiplies" if spec.workload == "numpy" else (
            "a sleeping thread releases the GIL and needs no core")
        lead = "Lanes overlap" if pf >= 0.3 else "The lanes barely overlapped"
        out.append(f"{lead}: {together} ({what}).")
        if spec.workload == "numpy" and spec.threads > cores:
            out.append(f"With {spec.threads} threads on {cores} usable core{'s' if cores != 1 else ''}, the gaps"
                       " are threads waiting for a core, not for the GIL.")
        if spec.workload == "numpy" and pf < 0.3 and cores >= 2:
            out.append(f"Less overlap than {cores} cores allow. np.dot still needs the GIL for a moment between"
                       " products: when other programs keep the cores busy, a thread that has just released the GIL"
                       " often takes it back before the waiting thread has woken up (the *convoy effect*), and the"
                       " lanes take turns as if the work held the GIL. Measure again when the machine is quieter.")
    if trace.truncated:
        out.append(f"Some threads stopped early: the trace keeps at most {MAX_STAMPS:,} time stamps.")
    return out


def trace_table(trace: GilTrace) -> str:
    """The command line's human summary of a trace: header, per-thread table, overlap."""
    cols = ["thread", "units", "running_s", "slices", "mean_slice_ms", "turns", "mean_turn_ms", "mean_wait_ms"]
    lines = [
        f"GIL trace: {trace.spec.label}",
        machine_line(trace.machine, gil=f"{'enabled' if trace.gil_enabled else 'disabled'} in the trace process")
        + f" · switch interval {trace.switch_interval_s * 1000:g} ms"
        + "".join(f" · BLAS {b['internal_api']} {b['num_threads']} thread(s)" for b in trace.blas),
        f"work unit ≈ {trace.unit_us:.0f} µs; a gap over {trace.gap_threshold_us:.0f} µs counts as a wait",
        "",
        trace.threads[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"),
        "",
        f"wall {trace.wall_s:.3f} s · parallel_fraction {trace.parallel_fraction:.3f}"
        f" (share of the wall time with 2+ threads making progress at once)"
        f" · busy {trace.busy_fraction:.3f} · {trace.handoffs} hand-overs, mean turn {trace.mean_turn_ms:.2f} ms",
    ]
    if trace.truncated:
        lines.append(f"note: some threads stopped early at their share of {MAX_STAMPS:,} stamps")
    return "\n".join(lines)

