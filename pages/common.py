"""What every GIL Lab page shares: the sidebar, cached runs, cached clusters, the results panel.

Pages stay thin: they pick widgets and words; this module turns their specs into cached
measurements (through ``core``) and shows them the same way everywhere. No timing and no Dask here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.engines import EngineError, LocalClusterHandle
from core.measure.estimate import BudgetError, check_budget, estimate
from core.measure.machine import machine_info
from core.measure.results import ExperimentResult, combine, with_machine
from core.measure.run import run_experiment
from core.measure.spec import ExperimentSpec
from core.report import charts
from core.report.explain import explain, ideal_seconds, interpreter_note
from core.serve.settings import Settings, load_settings
from core.serve.slot import RUN_SLOT, SlotBusy, SlotStatus
from core.workloads import WORKLOADS, estimate_task_seconds


def _leave_legacy_multipage_mode() -> None:
    """Make sure pages run under the router, also for the first visitor of a fresh server.

    Until some session has run ``st.navigation``, Streamlit treats a ``pages/`` folder next to the main
    script as an old-style multipage app: a deep link such as ``/cpu_bound`` then runs
    ``pages/cpu_bound.py`` directly, without the router's layout, navigation and sidebar (and a URL
    that is no file name gets "Page not found"). Community Cloud restarts sleeping apps, so the first
    visitor often arrives by a shared link. Every page imports this module first; on that first import
    we switch the flag the router would switch, and rerun: the rerun goes through ``streamlit_app.py``
    to the same page (its url_path is its file name, so both modes agree on the page).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # an internal module moved: the only cost is the old behaviour on a first visit
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_multipage_mode()


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The server's limits (``core.serve.settings``): env vars over ``st.secrets`` over safe shared defaults."""
    try:
        secrets = st.secrets.to_dict()
    except Exception:  # no secrets.toml (the usual case), or one that does not parse
        secrets = {}
    return load_settings(secrets)




@dataclass(frozen=True)
class Arm:
    """One bar of a comparison: a display label and the spec that produces it."""

    label: str
    spec: ExperimentSpec


# --- shared resources ------------------------------------------------------------------------------


@st.cache_resource(max_entries=3, on_release=lambda handle: handle.close(), show_spinner=False)
def cluster_handle(processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
    """One LocalCluster per shape, shared by all sessions.

    The holder, not the Client, is cached (Streamlit refuses awaitables). When an entry is evicted,
    ``close`` waits for runs still using the cluster, so no session loses its running work.
    """
    return LocalClusterHandle(processes, n_workers, threads_per_worker)


class AppClusters:
    """Hands ``core.run_experiment`` the app's cached cluster handles."""

    def get(self, processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
        return cluster_handle(processes, n_workers, threads_per_worker)


class ResultStore:
    """Measured results (of any frozen spec) shared by every session, least recently used dropped first.

    A ``st.cache_data`` function would do the caching, but a page must also know *before* calling it
    whether a result is there (to show it on page load without starting a multi-second run), and
    Streamlit offers no "is this cached?" question. One store answers both, so the answer can never
    disagree with the cache. Keys use ``repr(spec)``: equal specs have equal reprs, also across a
    development reload of ``core`` (which makes old and new spec classes compare unequal).
    """

    def __init__(self, max_entries: int = 300) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._max = max_entries

    @staticmethod
    def key(spec: Any, nonce: int) -> tuple[str, int]:
        return repr(spec), nonce

    def get(self, spec: Any, nonce: int) -> Any | None:
        with self._lock:
            found = self._items.get(self.key(spec, nonce))
            if found is not None:
                self._items.move_to_end(self.key(spec, nonce))
            return found

    def put(self, spec: Any, nonce: int, result: Any) -> None:
        with self._lock:
            self._items[self.key(spec, nonce)] = result
            self._items.move_to_end(self.key(spec, nonce))
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def has_all(self, specs: list[Any], nonce: int) -> bool:
        with self._lock:
            return all(self.key(s, nonce) in self._items for s in specs)


@st.cache_resource(show_spinner=False)
def results_store() -> ResultStore:
    """The server's one result store (``st.cache_resource``: shared by all sessions)."""
    return ResultStore()


def measure(
    spec: ExperimentSpec,
    nonce: int = 0,
    should_stop: Callable[[], bool] | None = None,
    deadline_s: float | None = None,
) -> ExperimentResult:
    """The result of ``spec`` for ``nonce``: from the store, or measured now and stored.

    ``nonce`` changes only when a user asks for a fresh run. A cluster run is cancelled when its session
    goes away (``should_stop``) or when it overruns ``deadline_s``; a cancelled run raises and nothing
    is stored.
    """
    store = results_store()
    found = store.get(spec, nonce)
    if found is not None:
        return found
    result = run_experiment(spec, clusters=AppClusters(), should_stop=should_stop, deadline_s=deadline_s)
    store.put(spec, nonce, result)
    return result


def is_cached(specs: list[ExperimentSpec], nonce: int) -> bool:
    return results_store().has_all(specs, nonce)


def session_gone() -> Callable[[], bool]:
    """A probe that turns true once this browser session has disconnected (false outside a server).

    Streamlit keeps running a script whose browser tab has closed until the script next calls it; an
    experiment may not call Streamlit for many seconds, so the engine polls this instead.
    """
    try:
        from streamlit import runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is None or not runtime.exists():
            return lambda: False
        server, session_id = runtime.get_instance(), ctx.session_id
        return lambda: not server.is_active_session(session_id)
    except Exception:  # an internal API moved: never cancel rather than crash
        return lambda: False


def deadline_for(spec: ExperimentSpec) -> float:
    """When a run is cancelled: well past its estimate (machines are noisy), within twice the budget."""
    limit = settings().max_seconds
    return min(2 * limit, max(10.0, 4 * estimate(spec).seconds))


# --- sidebar ---------------------------------------------------------------------------------------


def sidebar() -> None:
    """The machine every number on every page was measured on."""
    m = machine_info()
    with st.sidebar:
        st.markdown("#### This machine")
        st.markdown(
            f"**{m.usable_cores}** usable core{'s' if m.usable_cores != 1 else ''}"
            f" (of {m.logical_cores} logical)  \n"
            f"Python **{m.python_version}** · GIL **{m.gil_label}**  \n"
            f"dask {m.dask_version} · distributed {m.distributed_version}  \n"
            f"numpy {m.numpy_version} · pandas {m.pandas_version}"
        )
        st.caption(
            "Experiments run one at a time on this server, so numbers are never skewed by another"
            " visitor's run. The same measurements from a terminal: `python -m core run --help`."
        )
        slot = RUN_SLOT.status()
        if slot.busy:
            st.caption(f":material/hourglass_top: Running now: {slot.describe()}.")
        conf = settings()
        st.caption(f"Limits: {conf.describe()}.")
        for warning in conf.warnings:
            st.warning(f"Setting ignored: {warning}", icon=":material/settings:")


def interpreter_banner() -> None:
    """On an interpreter without the GIL, say so at the top of every page: the lessons change."""
    note = interpreter_note(machine_info())
    if note:
        st.info(note, icon=":material/info:")


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


def slot_waiter(placeholder: DeltaGenerator, gone: Callable[[], bool]) -> Callable[[SlotStatus], None]:
    """``on_wait`` for ``RUN_SLOT.hold``: tell the visitor what they queue behind; stop if they left.

    ``st.stop()`` raises through the slot's wait loop, which then holds nothing.
    """

    def on_wait(status: SlotStatus) -> None:
        if gone():
            st.stop()
        placeholder.info(
            f":material/hourglass_top: Another visitor's experiment is running — {status.describe()}. Yours starts"
            " as soon as it ends: keep this page open, or come back later (finished results are cached for"
            " everyone).",
        )

    return on_wait


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


def engine_picker(key: str, options: list[str], default: list[str]) -> list[str]:
    """A URL-bound multiselect of engines that never returns an empty list."""
    chosen = st.pills("Engines", options, selection_mode="multi", default=default, key=key, bind="query-params")
    if not chosen:
        st.caption("No engine selected: showing the default ones.")
        return default
    return [o for o in options if o in chosen]
