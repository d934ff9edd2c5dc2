"""Concurrent visitors: a class of 30 presses Run at once; four browsers do the same on a real server.

    python -m bench.load [--visitors 30] [--alone 10] [--browsers] [--repeats 2] [--quick] [--port 8621]

Default: a class. ``--visitors`` (30) sessions of the real app through ``streamlit.testing.v1.AppTest``,
in one process as a server's sessions are, each on the CPU-bound page with DISTINCT settings (fib n,
tasks, workers: nothing is cached for anyone), each answering the page's prediction question first, all
pressing "Run experiment" at the same moment (a barrier). The server runs one comparison at a time, so they
queue; each one's wait (its "Waited … s" caption), its time from click to results, whether it got them within
``max_wait_seconds`` (the setting: 180 s on a shared server) and how its prediction came out are printed, and
how many predictions the class store counted (its own SQLite file in a temporary folder, not the server's
class). Goals: every visitor served within max_wait_seconds, every prediction counted once. Then ``--alone`` (10)
of them measure their settings again, one at a time with nobody queued, and each one's round of every arm
queued ÷ alone is listed in the order they were served (the first served had the whole class queued behind
them). Goal: the median ≤ 1.2, verdicts as decided.

``--browsers``: the original benchmark below, with headless Chromium on a real ``streamlit run``.

What it measures: one fresh server per round (``streamlit run streamlit_app.py`` in headless mode),
one headless Chromium, four browser contexts (four independent sessions, driven concurrently with
Playwright's async API). The server is first warmed by one visit to the start page (a fresh server's
first deep link can show a spurious "Page not found"; see tests/test_browser.py). Then every session
opens its page, waits until it has rendered, and all four click at the same moment (an asyncio
barrier). For each session: the time from its click to its results ("Run ids: …" caption on screen,
script finished), and the "Waited 3.2 s for another visitor's run" figure if the page shows one
(regex ``Waited ([0-9.]+) s``; "n/a" when there is no such caption); "not waiting" is the difference.
A session fails if its results do not appear within the time-out or its page shows an exception or
an error box.

Design, so that the four runs are real and comparable:
  * default: all four open the start page (its default experiment: fib(30) × 4 on sync, threads and
    a reused 4-process pool, 3 repeats each). Session 1 presses "Run experiment" (the server is
    fresh, so that is a real measurement); sessions 2–4 press "Measure again", which asks for a fresh
    measurement of the same settings instead of the cached one session 1 is producing. Same work in
    every session, so their times are directly comparable.
  * --quick: the CPU-bound page with distinct small settings per session
    (``/cpu_bound?n=24+i&tasks=4&workers=2&rounds=7``), each pressing "Run experiment": distinct
    cache keys, so four real (short) runs.
The server runs one experiment at a time (they would share the cores), so the runs queue: with four
equal runs expect the last session to finish after about 4 × one run, and the first after about 1 ×.

Goal: 4 of 4 sessions complete, none shows an error; total ≈ the sum of the four runs (no time lost
to the queueing itself). Run ids are listed so you can check the four runs were distinct.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import BusyMeter, machine_line, median, parser, resolve_repeats, table

SESSIONS = 4
LOAD_MS = 120_000
RUN_MS = 600_000
WAITED = re.compile(r"Waited ([0-9.]+) s")


@dataclass
class Session:
    index: int
    path: str
    button: str
    click_s: float = float("nan")  # from the common start signal
    done_s: float = float("nan")
    waited: str = "n/a"
    run_ids: str = ""
    error: str = ""
    extra: list[str] = field(default_factory=list)

    @property
    def took_s(self) -> float:
        return self.done_s - self.click_s


def plan(quick: bool) -> list[Session]:
    if quick:
        return [Session(i + 1, f"cpu_bound?n={24 + i}&tasks=4&workers=2&rounds=7", "Run experiment")
                for i in range(SESSIONS)]
    return [Session(i + 1, "", "Run experiment" if i == 0 else "Measure again") for i in range(SESSIONS)]


async def drive(browser, base: str, s: Session, ready: asyncio.Queue, go: asyncio.Event, t0: list[float]) -> None:
    from bench._browser import ARM_BUSY_JS, ERRORS_JS, NEW_RESULTS_JS, RENDERED_JS, RUN_IDS_JS

    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await ctx.new_page()
        try:
            await page.goto(f"{base}/{s.path}", wait_until="commit", timeout=LOAD_MS)
            await page.wait_for_function(RENDERED_JS, timeout=LOAD_MS, polling=50)
            before = await page.evaluate(RUN_IDS_JS)
            await page.evaluate(ARM_BUSY_JS)
        finally:
            await ready.put(s.index)  # never leave the others waiting at the barrier
        await go.wait()
        s.click_s = time.perf_counter() - t0[0]
        await page.get_by_role("button", name=s.button, exact=True).first.click()
        try:
            await page.wait_for_function(NEW_RESULTS_JS, arg=before, timeout=RUN_MS, polling=50)
            s.done_s = time.perf_counter() - t0[0]
        except Exception as exc:  # a time-out is this session's failure, not the benchmark's crash
            s.error = f"no results: {type(exc).__name__}"
        errors = await page.evaluate(ERRORS_JS)
        if errors:
            s.error = (s.error + "; " if s.error else "") + "error on page: " + " | ".join(errors)
        text = await page.evaluate("() => document.body.innerText")
        m = WAITED.search(text)
        s.waited = m.group(1) if m else "n/a"
        s.run_ids = (await page.evaluate(RUN_IDS_JS) or "").removeprefix("Run ")
    except Exception as exc:
        s.error = s.error or f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        with contextlib.suppress(Exception):
            await ctx.close()


async def one_round(browser, base: str, sessions: list[Session]) -> float:
    from bench._browser import RENDERED_JS

    warm = await browser.new_context()
    try:
        page = await warm.new_page()
        await page.goto(base + "/", wait_until="commit", timeout=LOAD_MS)
        await page.wait_for_function(RENDERED_JS, timeout=LOAD_MS, polling=50)
    finally:
        await warm.close()
    ready: asyncio.Queue = asyncio.Queue()
    go = asyncio.Event()
    t0 = [0.0]
    tasks = [asyncio.create_task(drive(browser, base, s, ready, go, t0)) for s in sessions]
    for _ in sessions:
        await ready.get()
    t0[0] = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    done = [s.done_s for s in sessions if not s.error]
    return max(done) if done else float("nan")


async def run(rounds: int, quick: bool, port: int) -> tuple[list[list[Session]], list[float], list[str]]:
    from playwright.async_api import async_playwright

    from bench._browser import launch_args, start_server, wait_healthy_fast

    all_rounds, totals, survivors = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_args())
            try:
                for r in range(rounds):
                    server = start_server(port, Path(tmp) / f"server-{r}")
                    try:
                        await asyncio.to_thread(wait_healthy_fast, server)
                        sessions = plan(quick)
                        totals.append(await one_round(browser, server.url, sessions))
                        all_rounds.append(sessions)
                    finally:
                        left = await asyncio.to_thread(server.stop, 15, 10)
                        survivors += left
                        if left:
                            print("  WARNING: processes outlived the server (now killed):\n    " + "\n    ".join(left))
            finally:
                with contextlib.suppress(Exception):
                    await browser.close()
    return all_rounds, totals, survivors


@dataclass
class Visitor:
    index: int
    query: dict[str, str]
    click_s: float = float("nan")
    done_s: float = float("nan")
    waited_s: float = 0.0
    error: str = ""
    measure_s: float = float("nan")  # the comparison itself (its result's wall_s), queued or alone
    round_s: float = float("nan")  # one round of every arm (the sum of each arm's median round): no start-ups
    decided: int = 0
    verdicts: int = 0
    alone_s: float = float("nan")  # the same settings measured again once the class has gone
    alone_decided: int = 0
    answer: str = ""  # the prediction the visitor chose before Run
    outcome: str = ""  # how the graded line said it came out: right, wrong, undecided
    alone_round_s: float = float("nan")

    @property
    def took_s(self) -> float:
        return self.done_s - self.click_s


def visitor_settings(n: int) -> list[dict[str, str]]:
    """``n`` distinct CPU-bound page settings (small fib n × tasks × workers), so nothing is cached for anyone."""
    combos = [(fib, tasks, workers) for workers in (2, 3, 4) for tasks in (2, 3, 4, 5) for fib in (20, 21, 22, 23)]
    return [{"n": str(f), "tasks": str(t), "workers": str(w)} for f, t, w in combos[:n]]


def a_class(n: int, alone: int = 10) -> tuple[list[Visitor], float]:
    """``n`` AppTest sessions press Run at once (see the module docstring); returns them and the max wait setting.

    ``alone`` of them measure their settings again afterwards, one at a time.
    """
    from tests.app_helpers import many_sessions

    with many_sessions():
        return _class_visits(n, alone)


def _class_visits(n: int, alone: int) -> tuple[list[Visitor], float]:
    import os
    import threading

    from streamlit.testing.v1 import AppTest

    from core.serve.settings import load_settings

    # The class's predictions go to a database of the bench's own, never into a real class's counts.
    os.environ["GIL_LAB_CLASS_DB"] = str(Path(tempfile.mkdtemp(prefix="gil-lab-load-")) / "class.sqlite3")
    max_wait = load_settings().max_wait_seconds
    app = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
    visitors = [Visitor(i + 1, q) for i, q in enumerate(visitor_settings(n))]
    barrier = threading.Barrier(n)
    t0 = time.perf_counter()

    def visit(v: Visitor) -> None:
        try:
            at = AppTest.from_file(app, default_timeout=max_wait + 180)
            at.run()
            at.switch_page("pages/cpu_bound.py")
            # The page's question answered before Run (which finishes first, or about the same), in the visitor's
            # link (?predict=): set on the radio instead, its value was lost in 1 of 8 AppTest sessions run at
            # once (the harness sends widget states back itself; a browser keeps its own).
            v.answer = PREDICTIONS[v.index % len(PREDICTIONS)].format(workers=v.query["workers"])
            for key, value in {**v.query, "predict": v.answer}.items():
                at.query_params[key] = value
            at.run()
            [question] = [r for r in at.radio if r.key and r.key.startswith("cpu-predict-")]
            if question.value != v.answer:
                raise RuntimeError(f"the question shows {question.value!r}, not the answer {v.answer!r}")
        except Exception as exc:
            v.error = f"page did not open: {type(exc).__name__}: {exc}"[:200]
            barrier.abort()
            return
        try:
            barrier.wait(timeout=300)
        except threading.BrokenBarrierError:
            v.error = v.error or "another visitor's page did not open"
            return
        v.click_s = time.perf_counter() - t0
        try:
            at.button(key="cpu-run").click().run()
            v.done_s = time.perf_counter() - t0
            texts = [c.value for c in at.caption] + [w.value for w in at.warning]
            if not any(t.startswith("Run `") for t in texts):
                v.error = "no results: " + next((t for t in texts if "busy" in t), "nothing shown")[:150]
            if at.exception or at.error:
                v.error = "error on page: " + " | ".join(str(e.value)[:100] for e in [*at.exception, *at.error])
            m = next((WAITED.search(t) for t in texts if WAITED.search(t)), None)
            v.waited_s = float(m.group(1)) if m else 0.0
            v.measure_s, v.round_s, v.decided, v.verdicts = _measured(at)
            v.outcome = _graded(at)
            at_home[v.index] = at
        except Exception as exc:
            v.error = f"{type(exc).__name__}: {str(exc)[:150]}"

    at_home: dict[int, Any] = {}
    threads = [threading.Thread(target=visit, args=(v,), name=f"visitor-{v.index}") for v in visitors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Alone: once the class has gone, a few of them measure the same settings again ("Measure again": a fresh
    # measurement), one at a time, nobody queued: what the queue cost their comparison.
    for v in (visitors[:: max(1, len(visitors) // alone)][:alone] if alone > 0 else []):
        at = at_home.get(v.index)
        if at is None:
            continue
        with contextlib.suppress(Exception):
            at.button(key="cpu-again").click().run()
            v.alone_s, v.alone_round_s, v.alone_decided, _ = _measured(at)
    return visitors, max_wait


PREDICTIONS = ("processes-{workers}", "same", "threads-{workers}", "sync")  # the CPU-bound page's choices


def _graded(at: Any) -> str:
    """The outcome the page's graded line gave the visitor's prediction (empty: no line)."""
    lines = [e.value for kind in (at.success, at.warning, at.info) for e in kind if e.value.startswith("You predicted")]
    if not lines:
        return ""
    return ("right" if "it held" in lines[0] else "undecided" if "did not decide" in lines[0] else "wrong")


def counted() -> int:
    """How many predictions the class store (the bench's own database) counted."""
    from core.predict import ClassStore
    from core.serve.settings import load_settings

    store = ClassStore(load_settings().class_db, create=False)
    counts = store.counts()
    return int(counts["count"].sum()) if store.available else -1


def _measured(at: Any) -> tuple[float, float, int, int]:
    """The visitor's comparison as stored in its session: ``(wall_s, round_s, decided verdicts, verdicts)``.

    ``wall_s`` includes the start-up of pools first started for this visitor (queued, a visitor may be the
    first to need its pool size; alone, it is warm), so the queue's cost on the measurement itself is read
    from ``round_s``: one round of every arm, the sum of each arm's median round.
    """
    result = at.session_state["last-cpu"]
    verdicts = list(result.verdicts)
    round_s = sum(float(arm.runs["wall_s"].median()) for arm in result.arms)
    return float(result.wall_s), round_s, sum(v.verdict != "undecided" for v in verdicts), len(verdicts)


def report_class(visitors: list[Visitor], max_wait: float) -> bool:
    rows = []
    served = 0
    for v in visitors:
        ok = not v.error and v.waited_s <= max_wait
        served += ok
        rows.append([f"visitor {v.index}", f"n={v.query['n']} tasks={v.query['tasks']} workers={v.query['workers']}",
                     v.answer or "—", v.outcome or "—", f"{v.waited_s:.1f}", f"{v.took_s:.1f}" if not v.error else "—",
                     "ok" if ok else f"FAILED: {v.error or 'waited too long'}"])
    print(table(["visitor", "settings", "predicted", "came out", "waited s", "click → results s", "status"], rows))
    done = [v.took_s for v in visitors if not v.error]
    if done:
        print(f"\nlast results {max(done):.1f} s after the common click; median {median(done):.1f} s; longest wait"
              f" {max(v.waited_s for v in visitors):.1f} s of the {max_wait:g} s allowed")
    print(f"visitors served within max_wait_seconds: {served} of {len(visitors)};"
          f" goal: all: {'met' if served == len(visitors) else 'MISSED'}")
    n = counted()
    outcomes = {o: sum(v.outcome == o for v in visitors) for o in ("right", "wrong", "undecided")}
    print(f"predictions counted in the class store: {n if n >= 0 else 'n/a (database unavailable)'} of"
          f" {len(visitors)} ({', '.join(f'{k} {c}' for k, c in outcomes.items())}); goal: all, once:"
          f" {'met' if n == len(visitors) else 'MISSED'}")
    pairs = [v for v in visitors if not v.error and v.alone_s == v.alone_s]
    if pairs:
        rq, ra = [v.round_s for v in pairs], [v.alone_round_s for v in pairs]
        ratios = {v.index: v.round_s / v.alone_round_s for v in pairs}
        print("queued ÷ alone, a round of every arm, per visitor (in the order they were served): " + ", ".join(
            f"{v.index}: {ratios[v.index]:.2f}" for v in sorted(pairs, key=lambda v: v.done_s)))
        ratio = median(list(ratios.values()))
        whole = median([v.measure_s / v.alone_s for v in pairs])
        print(f"the same {len(pairs)} comparisons measured with the class queued behind them and then alone:"
              f" a round of every arm {median(rq) * 1e3:.0f} ms queued vs {median(ra) * 1e3:.0f} ms alone, queued ÷"
              f" alone {ratio:.2f}× (goal ≤ 1.2: {'met' if ratio <= 1.2 else 'MISSED'}); whole comparisons (with"
              f" the start-up of pools first started for them) {median([v.measure_s for v in pairs]):.2f} s vs"
              f" {median([v.alone_s for v in pairs]):.2f} s, {whole:.2f}×; verdicts decided"
              f" {sum(v.decided for v in pairs)} of {sum(v.verdicts for v in pairs)} queued,"
              f" {sum(v.alone_decided for v in pairs)} alone")
    everyone = [v for v in visitors if not v.error]
    if everyone:
        print(f"every visitor's comparison: median {median([v.measure_s for v in everyone]):.2f} s, verdicts decided"
              f" {sum(v.decided for v in everyone)} of {sum(v.verdicts for v in everyone)}")
    return served == len(visitors)


def main() -> None:
    p = parser(__doc__, repeats=2, quick_repeats=1,
               quick_help="CPU-bound page, fib(24..27) × 4, 1 repeat, distinct settings per session")
    p.add_argument("--port", type=int, default=8621, help="port for the app's server (default 8621)")
    p.add_argument("--visitors", type=int, default=30, help="AppTest visitors of the class (default 30)")
    p.add_argument("--alone", type=int, default=10,
                   help="visitors who measure their settings again alone after the class, for queued ÷ alone (10)")
    p.add_argument("--browsers", action="store_true", help="4 headless browsers on a real server instead")
    args = p.parse_args()
    if args.alone < 0:
        p.error("--alone must be 0 or more")
    if not args.browsers:
        print(machine_line())
        with BusyMeter() as busy:
            visitors, max_wait = a_class(args.visitors, args.alone)
        print(f"\n{args.visitors} visitors of the CPU-bound page, distinct settings, pressing Run at once")
        report_class(visitors, max_wait)
        print(busy.line())
        from core.engines import close_all_clusters

        close_all_clusters()
        return
    rounds = resolve_repeats(args)
    print(machine_line())
    with BusyMeter() as busy:
        all_rounds, totals, survivors = asyncio.run(run(rounds, args.quick, args.port))
    what = ("CPU-bound page, distinct fib(n) per session, 'Run experiment'" if args.quick else
            "start page's default experiment; session 1 'Run experiment', sessions 2–4 'Measure again'")
    failures = 0
    for r, (sessions, total) in enumerate(zip(all_rounds, totals, strict=True), start=1):
        print(f"\nround {r} of {rounds}: {SESSIONS} concurrent sessions, {what}")
        rows = []
        for s in sessions:
            failures += bool(s.error)
            rows.append([f"session {s.index}", f"/{s.path}" if s.path else "/", s.button,
                         f"{s.took_s:.1f}" if not s.error else "—", s.waited,
                         f"{s.took_s - float(s.waited):.1f}" if not s.error and s.waited != "n/a" else
                         (f"{s.took_s:.1f}" if not s.error else "—"),
                         "ok" if not s.error else f"FAILED: {s.error}", s.run_ids])
        print(table(["session", "page", "button", "click → results s", "waited s", "not waiting s", "status",
                     "run ids"], rows))
        ok = [s.took_s for s in sessions if not s.error]
        if ok:
            first = min(ok)
            print(f"total (first click → last results): {total:.1f} s; fastest session {first:.1f} s, slowest"
                  f" {max(ok):.1f} s, slowest ÷ fastest {max(ok) / first:.1f}× (≈ {SESSIONS} if equal runs queue"
                  f" with no fixed costs); median {median(ok):.1f} s")
            waits = [float(s.waited) for s in sessions if not s.error and s.waited != "n/a"]
            if waits:
                not_waiting = sum(ok) - sum(waits)
                print(f"sum of 'not waiting' {not_waiting:.1f} s vs total {total:.1f} s: runs are serialised, so a sum"
                      " well above the total means the 'Waited' caption counts only part of each session's"
                      " queueing (its clock starts when the page's script reaches the run, not at the click)")
    n = SESSIONS * len(all_rounds)
    print(f"\nsessions completed: {n - failures} of {n}; goal: all: {'met' if failures == 0 else 'MISSED'}")
    print(busy.line())
    print("servers stopped; leftover processes: " + ("none" if not survivors else f"{len(survivors)} (killed)"))


if __name__ == "__main__":
    main()
