"""What every GIL Lab page shares: the sidebar, the cached clusters and pools, and the ONE run panel.

Pages stay thin: widgets, a spec (often a preset from :mod:`core.presets`), one call to :func:`panel`,
and the words that teach. The panel is written once against the measurement protocol
(:mod:`core.kinds.base`), so it serves every kind: the estimate and the server's budget, Run and
Measure again, the queue for the run slot, live rounds, the shared result store, and the result's own
sentences, charts and downloads. No timing and no Dask here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.engines import LocalClusterHandle
from core.engines.local import WarmPool
from core.fmt import ratio as fmt_ratio
from core.kinds import kind_of
from core.kinds.base import RunContext, check
from core.measure.estimate import BudgetError, Cost
from core.measure.machine import machine_info
from core.measure.results import with_machine
from core.report.explain import interpreter_note
from core.serve.settings import Settings, load_settings
from core.serve.slot import RUN_SLOT, SlotBusy, SlotStatus
from core.serve.store import ResultStore


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


# --- shared resources ------------------------------------------------------------------------------


@st.cache_resource(max_entries=3, on_release=lambda handle: handle.close(), show_spinner=False)
def cluster_handle(processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
    """One LocalCluster per shape, shared by all sessions.

    The holder, not the Client, is cached (Streamlit refuses awaitables). When an entry is evicted,
    ``close`` waits for runs still using the cluster, so no session loses its running work.
    """
    return LocalClusterHandle(processes, n_workers, threads_per_worker)


@st.cache_resource(max_entries=4, on_release=lambda pool: pool.close(), show_spinner=False)
def warm_pool(engine: str, workers: int, numpy: bool, _how: dict[str, Any]) -> WarmPool:
    """One warm process pool per engine and size, shared by all sessions: a click pays no pool start-up.

    ``_how`` (how to start, stop and check a pool that is not Dask's; not part of the cache key) comes
    from the engine. An evicted pool closes once the last run using it has ended.
    """
    return WarmPool(workers, numpy, **_how)


class AppClusters:
    """Hands the engines the app's cached LocalClusters and warm process pools."""

    def get(self, processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
        return cluster_handle(processes, n_workers, threads_per_worker)

    def pool(self, workers: int, numpy: bool, engine: str = "processes", **how: Any) -> WarmPool:
        return warm_pool(engine, workers, numpy, how)


WARM_START_PRESET = "start"  # the page a fresh server's first visitor meets
WARMING = "starting"  # how the run slot names the warm start to a visitor who waits for it


@st.cache_resource(show_spinner=False)
def warm_start() -> threading.Thread | None:
    """Start the start page's warm process pools in the background, once per server (``warm_start`` setting).

    A learner's first click is the lab's first impression: it should measure, not start four worker
    processes inside the first result. So the first page any visitor opens starts them, in a thread
    that holds the run slot while it does (a pool starting takes the cores a measurement would use): a
    click that comes meanwhile waits and is told what for ("the lab is starting 4 worker processes"),
    and a click after it finds the pool warm (its start-up 0 in the result). Skipped when the pools would
    not fit the server's memory limit. Only the pools are started here (Dask's ``processes`` with a reused
    pool, what the start preset has); other pages start theirs at their first click, shown apart.
    """
    conf = settings()
    if not conf.warm_start:
        return None
    from core.measure.estimate import estimate
    from core.presets import preset

    spec = preset(WARM_START_PRESET)
    arms = [spec.experiment(a) for a in spec.arms if a.engine == "processes" and a.reuse_pool]
    if not arms:
        return None
    try:
        check(kind_of(spec).cost(spec), conf.max_seconds, memory_fraction=conf.memory_fraction)
    except BudgetError:
        return None
    # The holders are fetched here, in the script thread (st.cache_resource); the thread only starts them.
    pools = [AppClusters().pool(a.workers, a.workload.startswith("numpy")) for a in arms]
    workers = sum(a.workers for a in arms)
    label = f"{WARMING} {workers} worker processes for the start page (once per server)"
    expected = sum(estimate(a.replace(reuse_pool=True)).setup_s for a in arms)

    def start() -> None:
        try:
            with RUN_SLOT.hold(label, estimate_s=expected):
                for pool in pools:
                    with pool.use():
                        pass
        except Exception:  # a pool that cannot start now starts (and reports why) at the first click instead
            pass

    thread = threading.Thread(target=start, name="gil-lab-warm-start", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def results_store() -> ResultStore:
    """The server's one result store (``st.cache_resource``: shared by all sessions)."""
    return ResultStore()


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


def slot_waiter(placeholder: DeltaGenerator, max_wait_s: float) -> Callable[[SlotStatus], None]:
    """``on_wait`` for the run slot: tell the visitor what they queue behind, their place and an honest wait.

    The slot calls it when the visitor joins the queue, when they become next, and
    otherwise rarely (every waiter is a thread of the process that measures: see :mod:`core.serve.slot`).
    When the runs queued ahead cannot all end within ``max_wait_s``, the visitor is told so at once, not
    after waiting that long.
    """

    def on_wait(status: SlotStatus) -> None:
        lead = ("The lab is getting ready" if status.label.startswith(WARMING)
                else "Another visitor's experiment is running")
        place = (f" You are number **{status.place}** in the queue, about {status.wait_s:.0f} s from your turn."
                 if status.place > 1 else " Yours is next.")
        if status.wait_s > max_wait_s:
            placeholder.warning(
                f":material/hourglass_top: {lead} — {status.describe()}.{place}"
                f" That is longer than the {max_wait_s:.0f} s this server lets a visitor wait: yours still starts"
                " if the queue moves faster than estimated, otherwise press Run again in a few minutes"
                " (finished results are cached for everyone).")
            return
        placeholder.info(
            f":material/hourglass_top: {lead} — {status.describe()}.{place} Yours"
            " starts as soon as the ones ahead of it end: keep this page open, or come back later (finished"
            " results are cached for everyone).",
        )

    return on_wait


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
            " visitor's run. The same measurements from a terminal: `python -m core compare --help`."
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


def engine_picker(key: str, options: list[str], default: list[str], label: str = "Engines") -> list[str]:
    """A URL-bound multiselect of engines that never returns an empty list."""
    chosen = st.pills(label, options, selection_mode="multi", default=default, key=key, bind="query-params")
    if not chosen:
        st.caption("No engine selected: showing the default ones.")
        return default
    return [o for o in options if o in chosen]


def rounds_picker(key: str = "rounds") -> int | str:
    """How many rounds a comparison measures: ``"auto"`` (until decided) or a fixed number (URL-bound)."""
    with st.expander("How the engines are compared", icon=":material/balance:"):
        choice = st.segmented_control(
            "Rounds", ["auto", "7", "10", "20", "40"], default="auto", key=key, bind="query-params",
            help="auto: rounds are added until every verdict is decided, or the time budget is spent.",
        ) or "auto"
        st.markdown(
            "The engines run **together, in rounds**: after one warm-up round, every round runs each engine once,"
            " in an order that rotates, so a busy moment of this shared machine hits them all alike. Each"
            " engine is compared with the baseline **round by round**, and the verdict comes from bounds of"
            " those paired speed-ups: *faster* when surely above 1.05×, *no faster* when surely below 1.2×, *same*"
            " within ±20 %, *slower* and *no slower* alike, and *undecided* otherwise — the lab would rather say it"
            " does not know than teach a lesson the data do not support. At least 7 rounds are needed for any"
            " claim. With *auto*, an engine whose verdict is settled sits out the later rounds, so the time"
            " left goes to the ones still undecided (a *same* needs more rounds than a *faster*)."
        )
    return choice if choice == "auto" else int(choice)


# --- the one run panel -----------------------------------------------------------------------------


def _server_spec(spec: Any) -> Any:
    """``spec`` with this server's comparison budget (adaptive rounds), if it is a kind that has one."""
    budget = settings().compare_seconds
    if hasattr(spec, "budget_s") and getattr(spec, "rounds", None) == "auto" and spec.budget_s != budget:
        return spec.replace(budget_s=budget)
    return spec


def _deadline(cost: Cost) -> float:
    """The hard cap of a run, for runs that truly hang: twice the server's budget (twice its own maximum if more).

    A run that progresses normally on a loaded server is never stopped by it: its rounds may each take three
    times their estimate. A round that takes far longer than the rounds before it is stopped as hung by the
    run itself (:meth:`core.engines.Watch.step`).
    """
    return max(2 * settings().max_seconds, 2 * (cost.max_seconds or cost.seconds))


def panel(spec: Any, *, key: str, what: str = "experiment", show_result: bool = True) -> Any | None:
    """Estimate, Run and Measure again, live progress; show and return the result once there is one.

    A page load never starts a measurement: results appear when the visitor presses Run, or at once
    when these exact settings were already measured (by anyone: the store is shared). ``key`` names
    the panel (its buttons, its "Measure again" nonce, the Takeaways page's reference to its result).

    ``spec`` may be a list of specs: several measurements behind one Run button (one estimate, one
    wait for the run slot), each stored and shown on its own; the list of results is returned. With
    ``show_result=False`` the page shows them itself (with :func:`show`), e.g. after a view control
    that needs the results first.
    """
    several = isinstance(spec, (list, tuple))
    specs = [_server_spec(s) for s in (spec if several else [spec])]
    kinds = [kind_of(s) for s in specs]
    conf = settings()
    nonce_key = f"{key}-nonce"
    nonce = st.session_state.get(nonce_key, 0)
    try:
        costs = [k.cost(s) for k, s in zip(kinds, specs, strict=True)]
        cost = check(costs[0] if len(costs) == 1 else _together(costs, what), conf.max_seconds,
                     uncancellable_s=conf.max_local_seconds, memory_fraction=conf.memory_fraction)
        blocked = None
    except BudgetError as exc:
        cost, blocked = None, str(exc).replace(" (the CLI's --force runs it anyway)", "")
    except (ValueError, RuntimeError) as exc:  # what cannot run at all (your function fails its trial): one line
        st.error(f"This {what} cannot run: {exc}")
        return None
    cols = st.columns([1.2, 1.2, 4], vertical_alignment="center")
    run = cols[0].button("Run experiment", type="primary", key=f"{key}-run", disabled=blocked is not None)
    again = cols[1].button("Measure again", key=f"{key}-again", disabled=blocked is not None,
                           help="Ignore the stored result for these settings and take a fresh measurement.")
    if blocked or cost is None:
        cols[2].warning(f"Too big for this server: {blocked}.")
        return None
    store = results_store()
    cached = store.has_all(specs, nonce)
    cols[2].caption(f"Estimated {cost.describe()} on this machine"
                    + (" · these settings are measured already: instant" if cached else ""))
    if again:
        nonce = time.time_ns()
        st.session_state[nonce_key] = nonce
        cached = False
    if not (run or again or cached):
        st.info(f"Set the controls, then press **Run experiment** to measure this {what} on this machine.")
        return None
    results = [store.get(s, nonce) for s in specs]
    missing = [(k, s) for k, s, r in zip(kinds, specs, results, strict=True) if r is None]
    if missing:
        try:
            measured, waited = _measure_live(missing, cost, what)
        except SlotBusy as exc:
            st.warning(f"The lab is busy: {exc}. Your settings are kept; press Run again later.")
            return None
        except (ValueError, RuntimeError) as exc:  # EngineError, RunTimeout, TraceError: one clear line
            st.error(f"The experiment could not run: {exc}")
            return None
        for (_, s), r in zip(missing, measured, strict=True):
            store.put(s, nonce, r)
        fresh = iter(measured)
        results = [r if r is not None else next(fresh) for r in results]
        if waited >= 0.5:
            st.caption(f":material/hourglass_bottom: Waited {waited:.1f} s for another visitor's run to finish"
                       " (experiments run one at a time so they never share the cores).")
    out = results if several else results[0]
    # The Takeaways page shows each lesson next to the visitor's own latest run of that page.
    st.session_state[f"last-{key}"] = out
    if show_result:
        for i, result in enumerate(results):
            show(result, key=f"{key}-{i}" if several else key)
    return out


def _together(costs: list[Cost], what: str) -> Cost:
    """The cost of several measurements run one after the other behind one button."""
    most = [c.max_seconds for c in costs if c.max_seconds is not None]
    return Cost(seconds=sum(c.seconds for c in costs), memory_bytes=max(c.memory_bytes for c in costs),
                longest_uncancellable_s=max(c.longest_uncancellable_s for c in costs), what=f"this {what}",
                advice=costs[0].advice,
                max_seconds=sum(c.max_seconds or c.seconds for c in costs) if most else None)


# A browser on the same machine as the server (a learner's laptop, a shared VM) draws every update the page
# sends, on the cores being measured, and a chart redrawn per round costs it far more than a line of text. So
# while the rounds run the page shows one light line (the round, each engine's speed-up and claim so far),
# redrawn at most every LIVE_EVERY_S, and the charts are drawn once, at the end.
LIVE_EVERY_S = 1.5


def _measure_live(jobs: list[tuple[Any, Any]], cost: Cost, what: str) -> tuple[list[Any], float]:
    """Take the run slot for all of ``jobs`` (kind, spec), then run them with live rounds; ``(results, waited)``."""
    gone = session_gone()
    waiting = st.empty()
    max_wait = settings().max_wait_seconds
    on_wait = slot_waiter(waiting, max_wait)
    with RUN_SLOT.hold(f"a visitor's {what}", cost.typical_s, max_wait_s=max_wait, on_wait=on_wait,
                       should_stop=gone) as waited:
        waiting.empty()
        # A plain line, not st.status: its spinner is an animation the browser draws for the whole run.
        message = st.empty()
        live = st.empty()
        t0 = time.monotonic()
        expected = max(cost.typical_s, 0.5)
        shown = [-LIVE_EVERY_S, -LIVE_EVERY_S]  # when the progress line and the live line were last drawn
        part = [""]

        def progress(text: str, fraction: float) -> None:
            now = time.monotonic()
            rounds = text.startswith(("round ", "warm-up"))
            if not rounds or now - shown[0] >= LIVE_EVERY_S:  # a start-up at once: it may take a while
                shown[0] = now
                message.caption(f":material/hourglass_top: Measuring this {what}: {part[0]}{text}"
                                f" · {now - t0:.1f} s of about {expected:.0f} s")

        def on_partial(partial: Any) -> None:
            now = time.monotonic()
            if now - shown[1] >= LIVE_EVERY_S:
                shown[1] = now
                live.markdown(live_line(partial))

        ctx = RunContext(clusters=AppClusters(), progress=progress, on_partial=on_partial, should_stop=gone,
                         deadline_s=_deadline(cost))
        results = []
        for i, (kind, spec) in enumerate(jobs):
            part[0] = f"{i + 1} of {len(jobs)}: " if len(jobs) > 1 else ""
            results.append(kind.run(spec, ctx))
        live.empty()
        message.caption(f":material/check_circle: Measured in {time.monotonic() - t0:.1f} s. Results below.")
    return results, waited


def live_line(partial: Any) -> str:
    """The one line a measurement in rounds shows while it runs: the round, and each verdict so far."""
    head = f"**Round {getattr(partial, 'rounds', '?')}** — verdicts so far (they settle as rounds add up)"
    verdicts = getattr(partial, "verdicts", None)
    if not verdicts:
        return head
    parts = [f"{v.label} {fmt_ratio(v.speedup)} *{v.verdict}*" for v in verdicts]
    return head + ": " + " · ".join(parts)


# --- showing any result ------------------------------------------------------------------------------


def show(result: Any, *, key: str, charts: list[tuple[str, Any]] | None = None) -> None:
    """A result of any kind: where it was measured, its metrics, its sentences, charts and downloads.

    ``charts`` replaces ``result.charts()`` (a page's view of the same result, e.g. a zoomed window).
    """
    m = result.machine
    noise = getattr(result, "noise", None)
    st.caption(
        f"Run `{result.run_id}` — measured {result.started_at} on {m.usable_cores} usable cores, Python"
        f" {m.python_version} (GIL {m.gil_label}), dask {m.dask_version}"
        + (f" · {noise.describe()}" if noise is not None else "")
    )
    for warning in result.warnings() if hasattr(result, "warnings") else []:
        st.warning(warning, icon=":material/warning:")
    if noise is not None and noise.busy:
        verdicts = (" Verdicts a busy machine could have produced are shown as undecided;"
                    if hasattr(result, "verdicts") else " Its numbers may show the machine more than the code;")
        st.warning(f"Measured on a busy machine: {noise.describe()}.{verdicts} press **Measure again** when it is"
                   " quieter.", icon=":material/speed:")
    metrics = result.metrics() if hasattr(result, "metrics") else []
    if metrics:
        cols = st.columns(len(metrics))
        for col, (label, value, note, help_text) in zip(cols, metrics, strict=True):
            col.metric(label, value, help=help_text)
            if note:
                col.caption(note)
    if metrics and any("CPU used" in note for _, _, note, _ in metrics):
        with st.expander("What “CPU used” means, and what it does not"):
            st.markdown(CPU_USED)
    sentences = result.explain()
    if sentences:
        st.markdown("\n".join(f"- {s}" for s in sentences))
    charts = result.charts() if charts is None else charts
    captions = {**CHART_CAPTIONS, **(result.captions() if hasattr(result, "captions") else {})}
    frames = result.frames()
    tabs = st.tabs([title for title, _ in charts] + ["Data"])
    for tab, (title, chart) in zip(tabs, charts, strict=False):
        with tab:
            # A concatenated chart has panels of fixed width: it cannot follow the column's.
            st.altair_chart(chart, width="content" if isinstance(chart, alt.ConcatChart | alt.HConcatChart)
                            else "stretch")
            caption = captions.get(title)
            if caption:
                st.caption(caption)
    with tabs[-1]:
        downloads(result, frames, key=key)


CPU_USED = (
    "*CPU used* = the CPU time all tasks' threads got ÷ (compute time × lanes), where a lane is one worker thread"
    " or process. 100 %: every lane computed the whole time. Under threads, fib's lanes were busy on paper but"
    " mostly **waiting for the GIL**; under processes each lane has its own interpreter and gets close to a full"
    " core (up to cores ÷ lanes when there are more lanes than cores); sleeping tasks show ~0 %: they wait, they"
    " don't compute.\n\nIt cannot say *why* a lane waited — the GIL, a sleep, I/O or another program on the same"
    " cores all look the same. The **GIL trace** page shows the GIL itself handing the interpreter from thread to"
    " thread."
)

CHART_CAPTIONS = {
    "Speed-up": "Dots: each engine's speed-up over the baseline, or for “a vs b” of a over b (the median of the"
                " per-round ratios); bars: its 95 %"
                " interval; grey band: the range that counts as “about the same”. A verdict is shown only where the"
                " whole interval says it.",
    "Runtime": "Bars: median wall time per round; dots: every round; whiskers: 95 % interval of a typical round."
               " Dashed line: the best this machine can do, from the shortest task any engine measured.",
    "Timeline": "One row per worker thread or process, one bar per task (each engine's median round). Pale bars spent"
                " most of their time waiting — for the GIL, or for their sleep to end.",
    "CPU share": "CPU time of each task's thread ÷ its wall time. ~100 %: it ran the whole time; ≪ 100 %: it waited.",
}


def downloads(result: Any, frames: dict[str, pd.DataFrame], *, key: str) -> None:
    """The result's frames as tables and CSVs (each row with the machine's columns), and its JSON."""
    m = result.machine
    names = [name for name, frame in frames.items() if isinstance(frame, pd.DataFrame) and not frame.empty]
    for name in names[:1]:
        st.dataframe(frames[name], hide_index=True)
    cols = st.columns(len(names) + 1)
    for col, name in zip(cols, names, strict=False):
        col.download_button(f"{name} (CSV)", with_machine(frames[name], m).to_csv(index=False),
                            file_name=f"gil-lab-{key}-{name}.csv", mime="text/csv", key=f"{key}-dl-{name}")
    cols[-1].download_button("everything (JSON)", result.to_json(indent=1), file_name=f"gil-lab-{key}.json",
                             mime="application/json", key=f"{key}-dl-json")
    if getattr(result, "kind", None) == "compare":  # the experiment itself, to run at home without the lab
        try:
            files = _take_home(result.run_id, result.rounds, f"gil-lab-{key}", result)
        except ValueError as exc:  # an engine with no example code
            st.caption(f"This comparison cannot be exported: {exc}.")
            return
        for col, f in zip(st.columns(len(files)), files, strict=True):
            col.download_button(f.label, f.data, file_name=f.file_name, mime=f.mime, key=f"{key}-dl-{f.file_name}",
                                icon=":material/download:")
        st.caption("The notebook and the script run this comparison on your own machine with plain Dask, nothing of"
                   " GIL Lab needed, and quote what this server measured for you to compare.")


@st.cache_data(max_entries=64, show_spinner=False)
def _take_home(run_id: str, rounds: int, stem: str, _result: Any) -> list[Any]:
    """The notebook and script of one measured comparison, built once (≈ 17 ms), not on every rerun of its page.

    A result never changes once measured: its run id and round count name it (``_result`` is not hashed).
    """
    from core.export import take_home

    return take_home(_result, stem)


