"""The run panel of the pages not yet written against the measurement protocol (scaling, BLAS, overhead).

Temporary: each of those pages moves to :func:`pages.common.panel`, and this module goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from core.engines import EngineError
from core.measure.estimate import BudgetError, check_budget, estimate
from core.measure.machine import machine_info
from core.measure.results import ExperimentResult, combine, with_machine
from core.measure.run import run_experiment
from core.measure.spec import ExperimentSpec
from core.report import charts
from core.report.explain import explain, ideal_seconds
from core.serve.slot import RUN_SLOT, SlotBusy
from core.workloads import WORKLOADS, estimate_task_seconds
from pages.common import AppClusters, engine_picker, results_store, session_gone, settings, slot_waiter

__all__ = ["Arm", "engine_picker", "measure", "run_panel", "show_results"]


@dataclass(frozen=True)
class Arm:
    """One bar of a comparison: a display label and the spec that produces it."""

    label: str
    spec: ExperimentSpec


def measure(
    spec: ExperimentSpec,
    nonce: int = 0,
    should_stop: Callable[[], bool] | None = None,
    deadline_s: float | None = None,
) -> ExperimentResult:
    store = results_store()
    found = store.get(spec, nonce)
    if found is not None:
        return found
    result = run_experiment(spec, clusters=AppClusters(), should_stop=should_stop, deadline_s=deadline_s)
    store.put(spec, nonce, result)
    return result


def is_cached(specs: list[ExperimentSpec], nonce: int) -> bool:
    return results_store().has_all(specs, nonce)


def deadline_for(spec: ExperimentSpec) -> float:
    limit = settings().max_seconds
    return min(2 * limit, max(10.0, 4 * estimate(spec).seconds))


# --- the experiment panel --------------------------------------------------------------------------


def run_panel(page: str, arms: list[Arm], *, what: str = "experiment") -> list[ExperimentResult] | None:
    """Estimate, Run button, status while measuring; returns the results once there are any.

    A page load never starts a multi-second measurement: results appear when the user presses Run,
    or at once when these exact settings were already measured (by anyone: the cache is shared).
    """
    specs = [a.spec for a in arms]
    nonce_key = f"{page}-nonce"
    nonce = st.session_state.get(nonce_key, 0)
    conf = settings()
    try:
        estimate_s = check_budget(specs, conf.max_seconds, memory_fraction=conf.memory_fraction,
                                  per_run_seconds=lambda spec: conf.local_limit(spec.scheduler))
        blocked = None
    except BudgetError as exc:
        estimate_s, blocked = None, str(exc).replace(" (the CLI's --force runs it anyway)", "")
    cols = st.columns([1.2, 1.2, 4], vertical_alignment="center")
    run = cols[0].button("Run experiment", type="primary", key=f"{page}-run", disabled=blocked is not None)
    again = cols[1].button(
        "Measure again", key=f"{page}-again", disabled=blocked is not None,
        help="Ignore cached results for these settings and take a fresh measurement.",
    )
    repeats = max(s.repeats for s in specs)
    if blocked:
        cols[2].warning(f"Too big for this server: {blocked}.")
        return None
    cached = is_cached(specs, nonce)
    note = " · these settings are cached: instant" if cached else ""
    cols[2].caption(
        f"Estimated ≈ {estimate_s:.0f} s on this machine ({len(arms)} engine{'s' if len(arms) > 1 else ''}"
        f" × {repeats} repeat{'s' if repeats > 1 else ''}){note}"
    )
    if again:
        nonce = time.time_ns()
        st.session_state[nonce_key] = nonce
        cached = False
    if not (run or again or cached):
        st.info(f"Set the sliders, then press **Run experiment** to measure this {what} on this machine.")
        return None
    try:
        if cached:
            results = [measure(s, nonce) for s in specs]
        else:
            results, waited = _measure_with_status(arms, nonce, estimate_s, what)
            if waited >= 0.5:
                st.caption(f":material/hourglass_bottom: Waited {waited:.1f} s for another visitor's run to finish"
                           " (experiments run one at a time so they never share the cores).")
    except SlotBusy as exc:
        st.warning(f"The lab is busy: {exc}. Your settings are kept; press Run again later.")
        return None
    except (EngineError, ValueError) as exc:
        st.error(f"The experiment could not run: {exc}")
        return None
    # The Takeaways page shows each lesson next to the user's own latest run of that kind.
    st.session_state[f"last-{page.split('-')[0]}"] = (arms, results)
    return results


def _measure_with_status(
    arms: list[Arm], nonce: int, estimate_s: float, what: str
) -> tuple[list[ExperimentResult], float]:
    """Take the run slot for the whole comparison (no other run lands between its engines), then measure."""
    gone = session_gone()
    waiting = st.empty()
    on_wait = slot_waiter(waiting, gone)
    results = []
    with RUN_SLOT.hold(f"a visitor's {what}", estimate_s, max_wait_s=settings().max_wait_seconds,
                       on_wait=on_wait) as waited:
        waiting.empty()
        with st.status(f"Measuring {len(arms)} engine(s)…", expanded=True) as status:
            bar = st.progress(0.0)
            for i, arm in enumerate(arms):
                status.update(label=f"Running {arm.label} ({i + 1} of {len(arms)})…")
                st.write(f"{arm.label}: {arm.spec.label}")
                results.append(measure(arm.spec, nonce, should_stop=gone, deadline_s=deadline_for(arm.spec)))
                bar.progress((i + 1) / len(arms))
            status.update(label="Measured. Results below.", state="complete", expanded=False)
    return results, waited


def ideal_for(arms: list[Arm], results: list[ExperimentResult]) -> float:
    """The machine's best possible time for the widest arm, from the measured task time."""
    spec = max((a.spec for a in arms), key=lambda s: s.concurrency)
    sync = next((r for r in results if r.spec.scheduler == "sync"), None)
    task_s = float(sync.tasks["wall_s"].median()) if sync else estimate_task_seconds(spec.workload, spec.size)
    wl = WORKLOADS[spec.workload]
    return ideal_seconds(spec.tasks, spec.concurrency, machine_info().usable_cores, task_s, wl.cpu_bound)


def show_results(arms: list[Arm], results: list[ExperimentResult], *, key: str) -> None:
    """Metrics, the plain-language reading, the charts and the downloads for one comparison."""
    labels = [a.label for a in arms]
    runs, tasks = combine(results, labels)
    m = results[0].machine
    st.caption(
        "Run ids: " + " · ".join(f"{lab} `{r.run_id}`" for lab, r in zip(labels, results, strict=True))
        + f" — measured {results[0].started_at} on {m.usable_cores} cores, Python {m.python_version},"
        f" GIL {m.gil_label}"
    )
    cols = st.columns(len(results))
    for col, lab, r in zip(cols, labels, results, strict=True):
        col.metric(
            lab, f"{r.wall_s:.2f} s",
            help=f"Median wall time of {r.spec.repeats} repeat(s); min {r.wall_min_s:.3f} s,"
            f" max {r.wall_max_s:.3f} s. Task CPU share {r.cpu_share:.0%}.",
        )
        if r.spec.repeats > 1:
            col.caption(f"spread {r.wall_min_s:.2f}–{r.wall_max_s:.2f} s over {r.spec.repeats} repeats")
        col.caption(_cpu_evidence(r, m.usable_cores))
    sentences = explain(results, labels)
    if sentences:
        st.markdown("\n".join(f"- {s}" for s in sentences))
    with st.expander("What “CPU used” means, and what it does not"):
        st.markdown(
            "*CPU used* = the CPU time all tasks' threads got ÷ (compute time × lanes), where a lane is one"
            " worker thread or process. 100%: every lane computed the whole time. Under threads, fib's lanes"
            " were busy on paper but mostly **waiting for the GIL**; under processes each lane has its own"
            " interpreter and gets close to a full core (up to cores ÷ lanes when there are more lanes than"
            " cores); sleeping tasks show ~0%: they wait, they don't compute.\n\n"
            "It cannot say *why* a lane waited — the GIL, a sleep, I/O or another program on the same"
            " cores all look the same. The **GIL trace** page shows the GIL itself handing the interpreter"
            " from thread to thread."
        )
    ideal = ideal_for(arms, results)
    tabs = st.tabs(["Runtime", "Timeline", "Speedup", "CPU share", "Data"])
    with tabs[0]:
        st.altair_chart(charts.runtime_chart(runs, ideal_s=ideal), width="stretch")
        st.caption(
            "Bars: median wall time; whiskers: fastest and slowest repeat; dots: each repeat. Dashed line:"
            f" the best this machine can do ({ideal:.2f} s = ceil(tasks ÷ min(workers, cores)) × one task's time)."
        )
    with tabs[1]:
        st.altair_chart(charts.timeline_chart(tasks, runs=runs), width="stretch")
        st.caption(
            "One row per worker thread or process, one bar per task (median repeat of each engine). Pale bars"
            " spent most of their time waiting — for the GIL, or for their sleep to end."
        )
    with tabs[2]:
        if any(r.spec.scheduler == "sync" for r in results):
            st.altair_chart(charts.speedup_chart(runs, baseline=_sync_label(arms)), width="stretch")
        else:
            st.caption("Add the sync engine to see speedups relative to it.")
    with tabs[3]:
        st.altair_chart(charts.cpu_share_chart(tasks), width="stretch")
        st.caption("CPU time of each task's thread ÷ its wall time. ~100%: it ran the whole time.")
    with tabs[4]:
        st.dataframe(runs, hide_index=True)
        c1, c2 = st.columns(2)
        c1.download_button("Download runs (CSV)", with_machine(runs, m).to_csv(index=False),
                           file_name=f"gil-lab-{key}-runs.csv", mime="text/csv", key=f"{key}-dl-runs")
        c2.download_button("Download tasks (CSV)", with_machine(tasks, m).to_csv(index=False),
                           file_name=f"gil-lab-{key}-tasks.csv", mime="text/csv", key=f"{key}-dl-tasks")


def _cpu_evidence(r: ExperimentResult, cores: int) -> str:
    """The CPU the run's lanes really got, next to its runtime (see ``ExperimentResult.cpu_utilization``)."""
    util = r.cpu_utilization
    if util != util:  # NaN: compute too short to time
        return "CPU used: too short to measure"
    lanes = int(r.runs["lanes"].iloc[0])
    ceiling = min(lanes, cores) / lanes
    tail = f" (ceiling here {ceiling:.0%}: {lanes} lanes, {cores} cores)" if ceiling < 1 else ""
    return f"CPU used: **{util:.0%}** of {lanes} lane{'s' if lanes > 1 else ''}{tail}"


def _sync_label(arms: list[Arm]) -> str:
    return next(a.label for a in arms if a.spec.scheduler == "sync")
