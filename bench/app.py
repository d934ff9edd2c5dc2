"""The app's speed and size: cold start, cached reruns, memory of a default session.

    python -m bench.app [--repeats 3] [--quick] [--port 8620]

What it measures, on the real app (``streamlit run streamlit_app.py --server.headless true
--server.port P``) driven by headless Chromium (Playwright; Debian's /usr/bin/chromium):

(a) Cold start: from launching the server process to the start page *rendered* in the browser
    ("rendered" = ``[data-testid="stApp"]`` has ``data-test-script-state="notRunning"`` and the page
    title, an ``h1``, is visible). Chromium is launched before the clock starts. Each repeat starts a
    new server. Also shown: time until ``/_stcore/health`` says ok, and a warm page load (a second
    browser context on the now-warm server).
    Goal (proposed, the issue sets none): first render ≤ 10 s on a 2-core machine.

(b) Cached rerun: on the last server, press "Run experiment" on the start page once (a real
    measurement, its time is shown too), then (1) reload the page — a new session, the cached
    results show without a click — and (2) press "Run experiment" again in the same session; each
    timed until the results caption ("Run ids: …") is on screen. A second measure of the same
    thing through ``streamlit.testing.v1.AppTest`` in this process: ``at.run()`` and the button
    click after the first run. Goal (proposed): a cached rerun ≤ 1 s (it redraws charts; nothing is measured).

(c) Memory after a default session: the start page's experiment and the LocalCluster page's default
    experiment (which starts a processes=False and a processes=True cluster, 4 worker processes) have
    run in one browser session. Summed over the server and ALL its descendant processes (psutil):
    RSS (an upper bound: shared libraries counted once per process), USS (memory unique to each
    process: a lower bound) and PSS (shared pages split among their users: the best single estimate).
    Goal: ≤ 700 MB, checked against PSS; RSS shown for a conservative view.

How to read it: medians over repeats with min–max. The machine is shared (the load average and how
many cores were busy are printed); cold starts and runs are CPU-bound and slow down with load,
memory does not. Every server is stopped with its whole process group; leftovers are reported.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import time
from pathlib import Path

import psutil

from bench._common import BusyMeter, machine_line, median, parser, resolve_repeats, spread, table, verdict

# Heavy imports (Playwright, Streamlit, core) happen inside the functions: AppTest runs the start
# page's processes arm in this process, and spawned workers re-import this main module.

GOAL_FIRST_RENDER_S = 10.0
GOAL_CACHED_S = 1.0
GOAL_MEMORY_MB = 700.0
LOAD_MS = 120_000
RUN_MS = 300_000
REPO = Path(__file__).resolve().parent.parent


def _errors(page) -> list[str]:
    from bench._browser import ERRORS_JS

    return page.evaluate(ERRORS_JS)


def _check(page, what: str) -> None:
    errs = _errors(page)
    if errs:
        raise RuntimeError(f"{what}: the page shows an error: {' | '.join(errs)}")


def open_rendered(page, url: str) -> None:
    from bench._browser import RENDERED_JS

    page.goto(url, wait_until="commit", timeout=LOAD_MS)
    page.wait_for_function(RENDERED_JS, timeout=LOAD_MS, polling=20)


def cold_start(browser, port: int, log_dir: Path):
    """Start a server; return it (running) and (healthy_s, first_render_s, warm_render_s)."""
    from bench._browser import start_server, wait_healthy_fast

    t0 = time.perf_counter()
    server = start_server(port, log_dir)
    try:
        wait_healthy_fast(server)
        healthy = time.perf_counter() - t0
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            open_rendered(ctx.new_page(), server.url + "/")
            first = time.perf_counter() - t0
        finally:
            ctx.close()
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            t1 = time.perf_counter()
            page = ctx.new_page()
            open_rendered(page, server.url + "/")
            warm = time.perf_counter() - t1
            _check(page, "start page")
        finally:
            ctx.close()
    except BaseException:
        stop(server)
        raise
    return server, (healthy, first, warm)


def stop(server) -> list[str]:
    survivors = server.stop(term_grace_s=15, child_grace_s=10)
    if survivors:
        print("  WARNING: processes outlived the server (now killed):\n    " + "\n    ".join(survivors))
    return survivors


def click_and_wait_results(page, button: str, *, nth: int = 0) -> float:
    """Click ``button``; seconds until the script has gone busy, finished, and shows results."""
    from bench._browser import ARM_BUSY_JS, SEEN_BUSY_JS

    page.evaluate(ARM_BUSY_JS)
    t0 = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).nth(nth).click()
    page.wait_for_function(SEEN_BUSY_JS, timeout=RUN_MS, polling=20)
    return time.perf_counter() - t0


def cached_reruns(browser, server, repeats: int) -> dict[str, list[float]]:
    """(b) in the browser; leaves the start page's experiment measured on ``server``."""
    from bench._browser import RESULTS_JS

    out: dict[str, list[float]] = {"first run (measures)": [], "reload → results": [], "rerun click → results": []}
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        open_rendered(page, server.url + "/")
        out["first run (measures)"].append(click_and_wait_results(page, "Run experiment"))
        _check(page, "start page after its run")
        for _ in range(repeats):
            t0 = time.perf_counter()
            page.reload(wait_until="commit", timeout=LOAD_MS)
            page.wait_for_function(RESULTS_JS, timeout=LOAD_MS, polling=20)
            out["reload → results"].append(time.perf_counter() - t0)
            from bench._browser import RENDERED_JS

            page.wait_for_function(RENDERED_JS, timeout=LOAD_MS, polling=20)
            out["rerun click → results"].append(click_and_wait_results(page, "Run experiment"))
        _check(page, "start page after cached reruns")
    finally:
        ctx.close()
    return out


def local_cluster_session(browser, server) -> float:
    """(c) one session: start page (cached results) → LocalCluster page via the sidebar → Run."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        open_rendered(page, server.url + "/")
        page.get_by_role("link", name="LocalCluster").first.click()
        page.wait_for_function(
            "() => { const h = document.querySelector('h1'); return !!h && h.textContent.includes('LocalCluster')"
            " && document.querySelector('[data-testid=\"stApp\"]').getAttribute('data-test-script-state')"
            " === 'notRunning'; }", timeout=LOAD_MS, polling=50)
        took = click_and_wait_results(page, "Run experiment")
        _check(page, "LocalCluster page after its run")
        return took
    finally:
        ctx.close()


FIRST_CLICK_AFTER_S = 10.0  # a learner's first click on a fresh server: the page read, the button found
GOAL_FIRST_CLICK_S = 5.0
GOAL_LATER_CLICK_S = 3.0
GOAL_BROWSER_CORES = 0.05
# The run's own "Measured in … s" line is on screen, and the results of the click before are gone.
MEASURED_JS = """(before) => {
    const caps = Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
        .map(e => e.innerText.trim());
    const run = caps.find(t => /^Run \\S+ — measured/.test(t));
    return caps.some(t => t.includes('Measured in')) && (!run || run.split(' — ')[0] !== before);
}"""
VERDICT_NOTE = re.compile(r"^\**(faster|same|slower|undecided|no faster|no slower|about the same)\b")
OTHERS = re.compile(r"other programs used ([0-9.]+) of (\d+) cores")


def browser_cpu_s() -> float:
    """CPU seconds used so far by every headless Chromium process on this machine (the bench's browser)."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            name = (proc.info["name"] or "").lower()
            if "chrom" in name and any("--headless" in a for a in proc.info["cmdline"] or []):
                times = proc.cpu_times()
                total += times.user + times.system
        except (psutil.Error, TypeError):
            continue
    return total


def _verdict_notes(page) -> list[str]:
    texts = page.evaluate("""() => Array.from(document.querySelectorAll('[data-testid="stCaptionContainer"]'))
        .map(el => el.innerText.trim())""")
    return [m.group(1) for t in texts if (m := VERDICT_NOTE.match(t))]


def _others(page) -> float:
    text = page.evaluate("() => document.body.innerText")
    m = OTHERS.search(text)
    return float(m.group(1)) if m else float("nan")


def first_click(browser, port: int, log_dir: Path, later: int) -> list[dict[str, object]]:
    """(d) A fresh server, its start page opened at once, Run pressed 10 s after the server started; then
    ``later`` more clicks ("Measure again"). For each click: seconds to results, how many verdicts were decided,
    the browser's CPU (all its processes) per second of the click, and the other-programs figure the lab showed.
    """
    from bench._browser import ARM_BUSY_JS, NEW_RESULTS_JS, RENDERED_JS, RUN_IDS_JS, start_server, wait_healthy_fast

    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    server = start_server(port, log_dir)
    try:
        wait_healthy_fast(server)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = ctx.new_page()
            open_rendered(page, server.url + "/")
            time.sleep(max(0.0, FIRST_CLICK_AFTER_S - (time.perf_counter() - t0)))
            for i in range(1 + later):
                button = "Run experiment" if i == 0 else "Measure again"
                page.wait_for_function(RENDERED_JS, timeout=LOAD_MS, polling=50)
                before = page.evaluate(RUN_IDS_JS)  # the results of the click before are not this click's
                page.evaluate(ARM_BUSY_JS)
                cpu0, w0 = browser_cpu_s(), time.perf_counter()
                page.get_by_role("button", name=button, exact=True).first.click()
                # While the lab measures: from the click to its "Measured in" line (the charts are not drawn yet).
                page.wait_for_function(MEASURED_JS, arg=before, timeout=RUN_MS, polling=50)
                measuring, cpu_m = time.perf_counter() - w0, browser_cpu_s() - cpu0
                page.wait_for_function(NEW_RESULTS_JS, arg=before, timeout=RUN_MS, polling=50)
                took, cpu = time.perf_counter() - w0, browser_cpu_s() - cpu0
                page.wait_for_function(RENDERED_JS, timeout=LOAD_MS, polling=50)
                _check(page, f"start page after click {i + 1}")
                notes = _verdict_notes(page)
                rows.append({"click": "first (fresh server)" if i == 0 else f"later {i}", "seconds": took,
                             "decided": sum(n != "undecided" for n in notes), "verdicts": len(notes),
                             "browser_cores": cpu / took if took > 0 else float("nan"),
                             "measuring_cores": cpu_m / measuring if measuring > 0 else float("nan"),
                             "others": _others(page)})
        finally:
            ctx.close()
    finally:
        stop(server)
    return rows


def apptest_reruns(repeats: int) -> dict[str, list[float]]:
    """(b) again through AppTest, in this process (its own cache: the first run measures)."""
    import logging

    from streamlit.testing.v1 import AppTest

    from core.engines import close_all_clusters

    # AppTest runs the app "bare": Streamlit warns once about the missing ScriptRunContext; harmless.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)

    def has_results(at) -> bool:
        return any(c.value.startswith("Run `") for c in at.caption)

    def run_button(at):
        return next(b for b in at.button if b.label == "Run experiment")

    out: dict[str, list[float]] = {"AppTest first run (measures)": [], "AppTest at.run() → results": [],
                                   "AppTest click → results": []}
    try:
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=RUN_MS / 1000).run()
        t0 = time.perf_counter()
        run_button(at).click().run()
        out["AppTest first run (measures)"].append(time.perf_counter() - t0)
        if at.exception or not has_results(at):
            raise RuntimeError(f"AppTest: no results after the first run: {[e.value for e in at.exception]}")
        for _ in range(repeats):
            t0 = time.perf_counter()
            at.run()
            out["AppTest at.run() → results"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_button(at).click().run()
            out["AppTest click → results"].append(time.perf_counter() - t0)
            if at.exception or not has_results(at):
                raise RuntimeError("AppTest: a cached rerun showed no results")
    finally:
        close_all_clusters()
    return out


class _SkipAC(Exception):
    """--clicks: only (d)."""


def _report_clicks(clicks: list[dict[str, object]]) -> None:
    print(f"\n(d) the first click on a fresh server ({FIRST_CLICK_AFTER_S:g} s after it started), then later clicks"
          " (Measure again), start page")
    print(table(["click", "click → results s", "verdicts decided", "browser cores while measuring",
                 "browser cores, click → charts", "other programs (the lab's figure)"],
                [[r["click"], f"{r['seconds']:.2f}", f"{r['decided']} of {r['verdicts']}",
                  f"{r['measuring_cores']:.3f}", f"{r['browser_cores']:.3f}", f"{r['others']:.2f}"] for r in clicks]))
    one, rest = clicks[0], clicks[1:]
    print(f"first click {one['seconds']:.2f} s, {one['decided']} of {one['verdicts']} decided; goal every verdict"
          f" decided within {GOAL_FIRST_CLICK_S:g} s:"
          f" {verdict(one['seconds'] <= GOAL_FIRST_CLICK_S and one['decided'] == one['verdicts'])}")
    if rest:
        print(f"later clicks median {median([r['seconds'] for r in rest]):.2f} s; goal ≤ {GOAL_LATER_CLICK_S:g} s:"
              f" {verdict(median([r['seconds'] for r in rest]) <= GOAL_LATER_CLICK_S)}")
    cores = max(r["measuring_cores"] for r in clicks)
    print(f"browser while the lab measures: at most {cores:.3f} cores; goal ≤ {GOAL_BROWSER_CORES:g}:"
          f" {verdict(cores <= GOAL_BROWSER_CORES)}")


def main() -> None:
    p = parser(__doc__, repeats=3, quick_repeats=1, quick_help="skips the AppTest measure")
    p.add_argument("--port", type=int, default=8620, help="port for the app's server (default 8620)")
    p.add_argument("--clicks", action="store_true", help="only (d): the first click on a fresh server, then later ones")
    args = p.parse_args()
    repeats = resolve_repeats(args)
    from playwright.sync_api import sync_playwright

    from bench._browser import tree_memory

    print(machine_line())
    starts: list[tuple[float, float, float]] = []
    timings: dict[str, list[float]] = {}
    memory: list[tuple[str, dict[str, float]]] = []
    survivors: list[str] = []
    with BusyMeter() as busy:
        with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp, sync_playwright() as pw:
            from bench._browser import launch_args

            browser = pw.chromium.launch(**launch_args())
            try:
                for i in range(0 if args.clicks else repeats):
                    server, figures = cold_start(browser, args.port, Path(tmp) / f"server-{i}")
                    starts.append(figures)
                    if i < repeats - 1:
                        survivors += stop(server)
                try:  # the last server goes on to (b) and (c)
                    if args.clicks:
                        raise _SkipAC
                    assert server.proc is not None
                    memory.append(("idle, after first page loads", tree_memory(server.proc.pid)))
                    timings.update(cached_reruns(browser, server, repeats))
                    memory.append(("after the start page's experiment", tree_memory(server.proc.pid)))
                    timings["LocalCluster page run (measures)"] = [local_cluster_session(browser, server)]
                    time.sleep(2)  # let the cluster workers settle after the run
                    memory.append(("after the LocalCluster page's experiment", tree_memory(server.proc.pid)))
                except _SkipAC:
                    pass
                finally:
                    if not args.clicks:
                        survivors += stop(server)
            finally:
                with contextlib.suppress(Exception):
                    browser.close()
            browser = pw.chromium.launch(**launch_args())
            try:
                clicks = first_click(browser, args.port, Path(tmp) / "first-click", later=max(2, repeats))
            finally:
                with contextlib.suppress(Exception):
                    browser.close()
        if not args.quick and not args.clicks:  # after the server is gone, so the two never share the cores
            timings.update(apptest_reruns(repeats))

    if args.clicks:
        _report_clicks(clicks)
        print("\n" + busy.line())
        return
    healthy, first, warm = zip(*starts, strict=True)
    print(f"\n(a) cold start → first render of the start page, {repeats} fresh server(s)")
    print(table(["measure", "median s", "min–max"], [
        ["server process start → /_stcore/health ok", f"{median(healthy):.2f}", spread(healthy)],
        ["server process start → start page rendered", f"{median(first):.2f}", spread(first)],
        ["warm server: page load → rendered", f"{median(warm):.2f}", spread(warm)],
    ]))
    ok = median(first) <= GOAL_FIRST_RENDER_S
    print(f"first render {median(first):.2f} s; goal ≤ {GOAL_FIRST_RENDER_S:g} s (proposed): {verdict(ok)}")

    print("\n(b) cached rerun latency (start page's default experiment: fib(30) × 4 on sync, threads, processes)")
    print(table(["measure", "median s", "min–max", "n"],
                [[k, f"{median(v):.3f}", spread(v), len(v)] for k, v in timings.items()]))
    cached = [v for k, v in timings.items() if "→ results" in k]
    worst = max(median(v) for v in cached)
    measured = median(timings["first run (measures)"])
    print(f"slowest cached median {worst:.3f} s vs {measured:.2f} s for the measuring run"
          f" ({measured / worst:.0f}× faster); goal ≤ {GOAL_CACHED_S:g} s (proposed):"
          f" {verdict(worst <= GOAL_CACHED_S)}")

    print("\n(c) memory of the server + all descendant processes (MB = 10⁶ bytes)")
    print(table(["after", "processes", "RSS MB", "PSS MB", "USS MB"],
                [[k, f"{m['processes']:.0f}", f"{m['rss_mb']:.0f}", f"{m['pss_mb']:.0f}", f"{m['uss_mb']:.0f}"]
                 for k, m in memory]))
    final = memory[-1][1]
    print(f"default session: PSS {final['pss_mb']:.0f} MB (RSS {final['rss_mb']:.0f}, USS {final['uss_mb']:.0f});"
          f" goal ≤ {GOAL_MEMORY_MB:g} MB (PSS): {verdict(final['pss_mb'] <= GOAL_MEMORY_MB)}")
    _report_clicks(clicks)
    print("\n" + busy.line())
    print("servers stopped; leftover processes: " + ("none" if not survivors else f"{len(survivors)} (killed)"))


if __name__ == "__main__":
    main()
