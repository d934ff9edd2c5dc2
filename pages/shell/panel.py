"""The ONE run panel every page calls: estimate and budget, Run and Measure again, the queue, live rounds.

It is written once against the measurement protocol (:mod:`core.kinds.base`), so it serves every kind:
the estimate against the server's limits, the shared result store, the wait for the run slot (a
visitor is told their place and an honest wait), and one light live line while the rounds run. The
result itself is drawn by :mod:`pages.shell.results`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.fmt import ratio as fmt_ratio
from core.kinds import kind_of
from core.kinds.base import RunContext, check, measure_all, run_slot
from core.measure.estimate import BudgetError, Cost
from core.serve.slot import SlotBusy, SlotStatus
from pages.shell.predict import prediction, question, reveal, revealed, verdict_line
from pages.shell.resources import WARMING, AppClusters, results_store, session_gone, settings
from pages.shell.results import show


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


def panel(spec: Any, *, key: str, what: str = "experiment", show_result: bool = True,
          predict: str | None = None) -> Any | None:
    """Estimate, Run and Measure again, live progress; show and return the result once there is one.

    A page load never starts a measurement: results appear when the visitor presses Run, or at once
    when these exact settings were already measured (by anyone: the store is shared). ``key`` names
    the panel (its buttons, its "Measure again" nonce, the Takeaways page's reference to its result).

    ``spec`` may be a list of specs: several measurements behind one Run button (one estimate, one
    wait for the run slot), each stored and shown on its own; the list of results is returned. With
    ``show_result=False`` the page shows them itself (with :func:`show`), e.g. after a view control
    that needs the results first.

    ``predict`` (an experiment page's preset name) asks the page's question above Run, optional, and once the
    result is in says whether the answer held (:mod:`pages.shell.predict`).
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
    q = question(predict, specs[0]) if predict and not several else None
    answer = prediction(q, key, specs[0]) if q is not None else None
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
    # A page with a question keeps a result stored for these settings (by anyone: a class shares the store) until
    # the visitor presses Run, so that a learner can predict before the answer is on screen; then it is instant.
    if q is not None and (run or again):
        reveal(key, specs[0])
    hidden = q is not None and not revealed(key, specs[0])
    if not (run or again or (cached and not hidden)):
        st.info("Predict above if you like, then press **Run experiment**: these settings are measured already, so"
                " the result is instant." if cached else
                f"Set the controls, then press **Run experiment** to measure this {what} on this machine.")
        return None
    results = [store.get(s, nonce) for s in specs]
    missing = [(k, s) for k, s, r in zip(kinds, specs, results, strict=True) if r is None]
    with ExitStack() as held:
        if missing:
            try:
                measured, waited = held.enter_context(_measure_live(missing, cost, what))
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
        if q is not None:
            verdict_line(q, answer, out, key)
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


@contextmanager
def _measure_live(jobs: list[tuple[Any, Any]], cost: Cost, what: str) -> Iterator[tuple[list[Any], float]]:
    """Run ``jobs`` (kind, spec) behind one wait for the run slot, with live rounds; yield ``(results, waited)``.

    The slot is still held while the caller draws the results: drawn after it is released, a visitor's charts
    and tables (Python, holding the GIL) would run beside the next visitor's rounds, in the process that
    measures them: a queue would then slow every measurement it waits for.
    """
    gone = session_gone()
    waiting = st.empty()
    max_wait = settings().max_wait_seconds
    # A plain line, not st.status: its spinner is an animation the browser draws for the whole run.
    message = st.empty()
    live = st.empty()
    expected = max(cost.typical_s, 0.5)
    t0 = [time.monotonic()]
    shown = [-LIVE_EVERY_S, -LIVE_EVERY_S]  # when the progress line and the live line were last drawn
    part = [""]

    def each(i: int) -> None:  # called holding the slot, before job i
        if i == 0:
            waiting.empty()
            t0[0] = time.monotonic()
        part[0] = f"{i + 1} of {len(jobs)}: " if len(jobs) > 1 else ""

    def progress(text: str, fraction: float) -> None:
        now = time.monotonic()
        rounds = text.startswith(("round ", "warm-up"))
        if not rounds or now - shown[0] >= LIVE_EVERY_S:  # a start-up at once: it may take a while
            shown[0] = now
            message.caption(f":material/hourglass_top: Measuring this {what}: {part[0]}{text}"
                            f" · {now - t0[0]:.1f} s of about {expected:.0f} s")

    def on_partial(partial: Any) -> None:
        now = time.monotonic()
        if now - shown[1] >= LIVE_EVERY_S:
            shown[1] = now
            live.markdown(live_line(partial))

    ctx = RunContext(clusters=AppClusters(), progress=progress, on_partial=on_partial, should_stop=gone,
                     deadline_s=_deadline(cost), max_wait_s=max_wait, on_wait=slot_waiter(waiting, max_wait))
    with run_slot(f"a visitor's {what}", cost.typical_s, ctx) as waited:
        results, _ = measure_all(jobs, ctx, label=f"a visitor's {what}", each=each)  # the slot is held: no wait
        live.empty()
        message.caption(f":material/check_circle: Measured in {time.monotonic() - t0[0]:.1f} s. Results below.")
        yield results, waited


def live_line(partial: Any) -> str:
    """The one line a measurement in rounds shows while it runs: the round, and each verdict so far."""
    head = f"**Round {getattr(partial, 'rounds', '?')}** — verdicts so far (they settle as rounds add up)"
    verdicts = getattr(partial, "verdicts", None)
    if not verdicts:
        return head
    parts = [f"{v.label} {fmt_ratio(v.speedup)} *{v.verdict}*" for v in verdicts]
    return head + ": " + " · ".join(parts)


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
