"""Bad input everywhere: every CLI verb's every option, and every page's every URL parameter.

Nothing here is hand-listed per verb or per page: verbs and their options come from
``core.cli._parser()``, pages from the ``st.Page("pages/...")`` lines of ``streamlit_app.py``, and
URL parameters from the ``query_param_key`` of the widgets each page draws. A verb or page added
later is fuzzed without touching this file.

What must hold:

- CLI: exit status 2, exactly one line on stderr starting ``python -m core: error:`` that names
  the bad option, nothing on stdout, no traceback, and no run: every call returns at once (the
  argument lists are never complete valid sets, and a run would print to stdout and take seconds).
- App: no exception, the page's title still shown, no results panel (a URL never starts a run),
  every widget within its bounds, and a value that no widget accepts leaves the defaults.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from core import cli
from core.engines import close_all_clusters

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "streamlit_app.py")
ERROR_PREFIX = "python -m core: error:"

INJECTION = ["'; rm -rf /", "<script>alert(1)</script>", "../../etc/passwd", "%00", "\x00", "{{7*7}}", "$(reboot)",
             "`id`", "\r\nSet-Cookie: x=1"]
UNICODE = ["ünïcödé", "ﬁb", "😀", "\u202e"]  # not "٣": Python's int() reads it as 3
LONG = "x" * 10_000


# =====================================================================================================
# CLI
# =====================================================================================================


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every verb of the CLI and its parser, as registered right now."""
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def value_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def kind(action: argparse.Action) -> str:
    """flag, choice, int, float or text: what bad looks like for this option."""
    if action.nargs == 0:
        return "flag"
    if action.choices:
        return "choice"
    convert = action.type
    if convert is None or convert is str:
        return "text"
    try:
        sample = convert("2")  # int, float or a custom converter such as cli.budget_seconds
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        return "text"
    return "int" if isinstance(sample, int) else "float" if isinstance(sample, float) else "text"


# Values no option of that kind may accept. Ints: every integer option of the lab is bounded, so
# 10¹² of anything is a run of unbounded size. Floats: every float is a size or a duration, so
# negative, NaN and infinite are wrong. Text options are lists or addresses: none is free text.
BAD_VALUES = {
    "int": ["abc", "", "1.5", "nan", "inf", "1e3", "0x10", "-999999999999", "999999999999", "9" * 5000,
            "1,2", *INJECTION, "😀", LONG],
    "float": ["abc", "", "nan", "NaN", "inf", "-inf", "1e999", "-1e999", "-1", "-0.5", "1,5", *INJECTION,
              "😀", LONG],
    "text": ["", " ", ",", "nan", "-1", "999999999999", *INJECTION, *UNICODE, LONG],
    "choice": ["", " ", "nope", *INJECTION, *UNICODE, LONG],
}
# (verb, option) pairs whose value really is free text; none today.
FREE_TEXT: set[tuple[str, str]] = set()
VERBS = subparsers(cli._parser())


def bad_values(action: argparse.Action) -> list[str]:
    values = list(BAD_VALUES[kind(action)])
    if action.choices:  # near misses of a real name
        name = str(list(action.choices)[0])
        values += [name.upper(), f"{name} ", f" {name}", f"{name},{name}", name[:-1]]
    return [v for v in dict.fromkeys(values) if not action.choices or v not in action.choices]


def as_argv(option: str, value: str) -> list[str]:
    # "--size -inf" would read -inf as an option; "--size=-inf" reaches the validator.
    return [f"{option}={value}"] if value.startswith("-") else [option, value]


def call(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, float]:
    """Run ``python -m core ARGV`` in this process: (exit status, stdout, stderr, seconds)."""
    capsys.readouterr()
    t0 = time.perf_counter()
    try:
        status = cli.main(argv)
    except SystemExit as exc:
        status = exc.code
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    return status, out, err, elapsed


# A refusal is parsing plus a cost estimate: milliseconds. The limit is wide for a loaded 2-core
# box, and still shorter than a run at any verb's defaults.
REFUSAL_S = 3.0


def problems(argv: list[str], status: object, out: str, err: str, elapsed: float, names: tuple[str, ...] = ()) -> str:
    """What is wrong with this refusal ('' if nothing)."""
    lines = [line for line in err.splitlines() if line.strip()]
    found = []
    if status != 2:
        found.append(f"exit status {status!r}")
    if out.strip():
        found.append(f"stdout {out[:120]!r}")
    if "Traceback" in err:
        found.append("traceback")
    if len(lines) != 1:
        found.append(f"{len(lines)} stderr lines: {err[:300]!r}")
    elif not lines[0].startswith(ERROR_PREFIX):
        found.append(f"line does not start {ERROR_PREFIX!r}: {lines[0][:200]!r}")
    elif len(lines[0]) > 500:
        found.append(f"a {len(lines[0])}-character line")
    elif names:
        normal = lines[0].lower().replace("-", "_")
        if not any(n.lstrip("-").replace("-", "_") in normal for n in names):
            found.append(f"message does not name {names[0]}: {lines[0][:200]!r}")
    if elapsed > REFUSAL_S:
        found.append(f"took {elapsed:.1f} s (a run started?)")
    return "; ".join(found) and f"{[a[:40] for a in argv]}: " + "; ".join(found)


@pytest.fixture(scope="module")
def warm_cli() -> None:
    """Pay the one-time costs (importing Dask, calibrating the cost model) before timing refusals."""
    from core.measure.estimate import estimate
    from core.measure.spec import ExperimentSpec
    from core.workloads import WORKLOADS

    for name in WORKLOADS:
        estimate(ExperimentSpec(workload=name, size=WORKLOADS[name].default_size))
    cli.main(["run", "--tasks", "0"])


def test_the_parser_has_the_verbs_we_fuzz():
    assert {"run", "workloads", "machine"} <= set(VERBS), VERBS
    assert all(isinstance(p, argparse.ArgumentParser) for p in VERBS.values())


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_bad_option_value_exits_2_with_one_line(verb, capsys, warm_cli, tmp_path, monkeypatch):
    # "../../etc/passwd" must never reach a real file, even if some option wrote one.
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    failures, cases = [], 0
    for action in value_options(VERBS[verb]):
        option = action.option_strings[-1]
        if (verb, option) in FREE_TEXT:
            continue
        if kind(action) == "flag":  # a flag given a value
            values = [[f"{option}=yes"], [f"{option}="], [f"{option}=<script>"]]
        else:
            values = [as_argv(option, v) for v in bad_values(action)] + [[option]]  # ... and no value at all
        for extra in values:
            argv = [verb, *extra]
            cases += 1
            status, out, err, elapsed = call(argv, capsys)
            failure = problems(argv, status, out, err, elapsed, names=tuple(action.option_strings))
            if failure:
                failures.append(failure)
            if elapsed > REFUSAL_S:  # a run started: one is proof enough, more would take minutes
                failures.append(f"(stopped {verb} {option} after a run started)")
                break
    # Unknown options and stray words, for every verb (also those without options).
    positionals = [a for a in VERBS[verb]._actions if not a.option_strings]
    junk = [["--no-such-option"], ["--no-such-option=1"], ["-Z"], [LONG], ["<script>"]]
    if not positionals:
        junk += [["stray"], [""], ["\x00"]]
    for extra in junk:
        argv = [verb, *extra]
        cases += 1
        failure = problems(argv, *call(argv, capsys))
        if failure:
            failures.append(failure)
    assert not failures, f"{len(failures)} of {cases} bad argument lists misbehaved:\n" + "\n".join(failures)


TOP_LEVEL = [[], [""], [" "], ["nope"], ["RUN"], ["run "], ["ru n"], ["--bogus"], ["-x"], [LONG], ["\x00"],
             *([v] for v in INJECTION), *([v] for v in UNICODE)]


@pytest.mark.parametrize("argv", TOP_LEVEL, ids=lambda a: repr(a)[:30])
def test_missing_or_unknown_verb_exits_2_with_one_line(argv, capsys):
    failure = problems(argv, *call(argv, capsys))
    assert not failure, failure


# Random argument lists around one value the option's *type* refuses: whatever else is on the line
# (later repeats of the option, flags, stray words) cannot make it valid, so no run can start.
def _type_refused(action: argparse.Action) -> list[str]:
    return {"int": ["abc", "1.5", "nan", "0x1"], "float": ["abc", "", "1,5", "x1"],
            "choice": ["nope", "<script>", "ünï"]}.get(kind(action), [])


def _fuzz_plan(verb: str) -> tuple[list[tuple[str, str]], list[str]]:
    options = [a for a in value_options(VERBS[verb]) if _type_refused(a)]
    anchors = [(a.option_strings[-1], v) for a in options for v in _type_refused(a)] or [("--no-such-option", "1")]
    words = [s for a in value_options(VERBS[verb]) for s in a.option_strings]
    return anchors, words


junk_word = st.text(max_size=12).filter(lambda s: not s.startswith("-"))  # never "-h" / "--help"


@pytest.mark.parametrize("verb", list(VERBS))
def test_random_argument_lists_around_a_refused_value(verb, capsys, warm_cli):
    anchors, words = _fuzz_plan(verb)
    token = st.one_of(junk_word, st.sampled_from(words or ["x"]),
                      st.sampled_from([v for vs in BAD_VALUES.values() for v in vs if not v.startswith("-")]))

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(before=st.lists(token, max_size=4), anchor=st.sampled_from(anchors), joined=st.booleans(),
           after=st.lists(token, max_size=4))
    def check(before, anchor, joined, after):
        option, value = anchor
        argv = [verb, *before, *([f"{option}={value}"] if joined else [option, value]), *after]
        failure = problems(argv, *call(argv, capsys))
        assert not failure, failure

    check()


# End to end: the real interpreter, the real stderr. Started together; each is ~1 s of start-up.
SUBPROCESS_CASES = {
    "no verb": [],
    "unknown verb": ["nope"],
    "int not a number": ["run", "--tasks", "abc"],
    "nan budget": ["run", "--max-seconds", "nan"],
    "huge int": ["run", "--tasks", "9" * 5000],
    "injection address": ["run", "--address", "'; rm -rf /"],
    "infinite size": ["run", "--size", "1e999"],
    "unicode workload": ["run", "--workload", "ﬁb"],
}


@pytest.fixture(scope="module")
def subprocess_runs(cli) -> Iterator[dict]:
    procs = {case: cli.start(*argv) for case, argv in SUBPROCESS_CASES.items()}
    # One more with a plain ASCII locale: the one line may hold "…" or "ﬁ" and must still print.
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    env.pop("PYTHONIOENCODING", None)
    procs["C locale"] = subprocess.Popen([sys.executable, "-m", "core", "run", "--workload", "ﬁb" * 200],
                                         cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                         encoding="utf-8", errors="replace")
    yield procs
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.mark.parametrize("case", [*SUBPROCESS_CASES, "C locale"])
def test_subprocess_prints_one_line_and_exits_2(cli, subprocess_runs, case):
    run = cli.finish(subprocess_runs[case], timeout=60)
    failure = problems(list(run.args), run.returncode, run.stdout, run.stderr, 0.0)
    assert not failure, failure


# =====================================================================================================
# App: URL query parameters
# =====================================================================================================

PAGES = re.findall(r"""st\.Page\(\s*["'](pages/[^"']+\.py)["']""", (REPO / "streamlit_app.py").read_text())

# Values that no slider, toggle, pills or segmented control of the lab accepts: each widget must
# ignore them and keep its default.
REFUSED_BY_ALL = ["'; rm -rf /", "<script>alert(1)</script>", "../../etc/passwd", "%00", "\x00", "{{7*7}}", "😀",
                  LONG, "nan", "inf", "1e309", "-1", "99999999999999999999999", "[1,2]", "a,b", ["nope", "also-nope"]]
# Nasty but possibly meaningful to some widget ("" empties a multiselect, "true" sets a toggle, Streamlit
# truncates "2.7" to 2 for an int slider and reads "٣" as 3): only the invariants are checked for these.
NASTY_OTHER = ["", "2.7", "true", "3,5", ["1", "999"], "٣"]


@pytest.fixture(scope="module", autouse=True)
def _app_state() -> Iterator[None]:
    """Start from empty caches: a measurement cached by another test module would (rightly) show results."""
    streamlit.cache_data.clear()
    streamlit.cache_resource.clear()
    yield
    close_all_clusters()


def walk(node: object) -> Iterator[object]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def bound_widgets(at: AppTest) -> dict[str, object]:
    """The widgets bound to the URL, by query parameter name."""
    found = {}
    for root in (at.main, at.sidebar):
        for el in walk(root):
            key = getattr(getattr(el, "proto", None), "query_param_key", "")
            if key:
                found[key] = el
    return found


def options_of(el: object) -> list[str]:
    return [getattr(o, "content", o) for o in getattr(el.proto, "options", [])]


def open_url(page: str, query: dict) -> AppTest:
    """A new visitor opening ``page`` with ``query`` in the URL (a fresh session: ~0.2 s)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page(page)
    at.query_params.update(query)
    at.run()
    return at


def page_state(at: AppTest) -> dict[str, object]:
    return {k: el.value for k, el in bound_widgets(at).items()}


def out_of_bounds(at: AppTest) -> list[str]:
    """Widget values a page could not have been written for: off the slider, not an option, not a bool."""
    bad = []
    for key, el in bound_widgets(at).items():
        value, kind_ = el.value, type(el).__name__
        values = list(value) if isinstance(value, (list, tuple)) else [] if value is None else [value]
        if kind_ == "Slider":  # a range slider's value is a pair
            bad += [f"{key}={v!r} outside [{el.min}, {el.max}]" for v in values if not el.min <= v <= el.max]
        elif kind_ == "SelectSlider":  # options are the formatted labels
            bad += [f"{key}={v!r} not an option" for v in values if el.format_func(v) not in options_of(el)]
        elif hasattr(el, "indices") or hasattr(el, "index"):  # pills, segmented, multiselect, selectbox, radio
            try:
                picked = el.indices if hasattr(el, "indices") else [] if el.index is None else [el.index]
            except ValueError:  # the value's label is not among the options
                picked = [-1]
            if not all(0 <= i < len(options_of(el)) for i in picked):
                bad.append(f"{key}={value!r} not among {options_of(el)}")
        elif kind_ in ("Toggle", "Checkbox") and not isinstance(value, bool):
            bad.append(f"{key}={value!r} is not a bool")
    return bad


def page_problems(at: AppTest, title: str, query: dict) -> str:
    shown = {k: (v[:20] + "…" if isinstance(v, str) and len(v) > 20 else v) for k, v in query.items()}
    found = []
    if at.exception:
        found.append(f"exception {[e.value[:200] for e in at.exception]}")
    if title not in [t.value for t in at.title]:
        found.append(f"title {title!r} missing")
    if [c for c in at.caption if c.value.startswith("Run `")]:
        found.append("a results panel: the URL started a run")
    found += out_of_bounds(at)
    return "; ".join(found) and f"{shown}: " + "; ".join(found)


class PageModel:
    """A page's URL parameters (also those its choices reveal) and its defaults in each context."""

    def __init__(self, page: str) -> None:
        self.page = page
        clean = open_url(page, {})
        assert not clean.exception, [e.value for e in clean.exception]
        assert clean.title, f"{page} has no title"
        self.title = clean.title[0].value
        # context (params that reveal widgets) -> default widget values in it
        self.contexts: dict[tuple[tuple[str, str], ...], dict[str, object]] = {(): page_state(clean)}
        for key, el in bound_widgets(clean).items():
            for option in options_of(el) if not isinstance(el.value, (list, tuple)) else []:
                state = page_state(open_url(page, {key: option}))
                if set(state) - set(self.contexts[()]):  # this choice shows more widgets
                    self.contexts[((key, option),)] = state

    @property
    def keys(self) -> list[str]:
        return sorted({k for state in self.contexts.values() for k in state})


_models: dict[str, PageModel] = {}


def model(page: str) -> PageModel:
    if page not in _models:
        _models[page] = PageModel(page)
    return _models[page]


def static_keys(page: str) -> set[str]:
    """Literal ``key="..."`` of widgets the page source binds with ``bind="query-params"``."""
    keys = set()
    for node in ast.walk(ast.parse((REPO / page).read_text())):
        if isinstance(node, ast.Call):
            kw = {k.arg: k.value for k in node.keywords}
            bind, key = kw.get("bind"), kw.get("key")
            if (isinstance(bind, ast.Constant) and bind.value == "query-params" and isinstance(key, ast.Constant)):
                keys.add(key.value)
    return keys


def test_pages_are_discovered():
    assert len(PAGES) >= 6 and "pages/cpu_bound.py" in PAGES, PAGES


@pytest.mark.parametrize("page", PAGES)
def test_nasty_url_values_never_break_a_page_or_start_a_run(page):
    m = model(page)
    assert static_keys(page) <= set(m.keys), "discovery missed URL-bound widgets the source declares"
    # Pages without URL parameters still get parameters meant for other pages.
    foreign = ["n", "tasks", "workers", "engines", "kernel", "page", "size"]
    failures, cases = [], 0
    for context, defaults in m.contexts.items():
        fixed = dict(context)
        keys = [k for k in defaults if k not in fixed] or foreign
        values = [*REFUSED_BY_ALL, *NASTY_OTHER]
        if context or not m.keys:  # revealed widgets, or a page without parameters: a sample will do
            values = values[::3]
        for value in values:
            query = {**{k: value for k in keys}, **fixed}
            at = open_url(page, query)
            cases += 1
            failure = page_problems(at, m.title, query)
            if not failure and value in REFUSED_BY_ALL:
                state = page_state(at)
                changed = {k: state.get(k) for k in defaults if state.get(k) != defaults[k]}
                if changed:
                    failure = f"{str(query)[:80]}: not back to the defaults {changed}"
            if failure:
                failures.append(failure)
    assert not failures, f"{len(failures)} of {cases} URLs misbehaved on {page}:\n" + "\n".join(failures)


def _url_value() -> st.SearchStrategy:
    one = st.one_of(
        st.sampled_from([v for v in REFUSED_BY_ALL + NASTY_OTHER if isinstance(v, str)]),
        st.text(max_size=30),
        st.integers(-(10**30), 10**30).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.from_regex(r"[0-9]{1,3}(,[0-9]{1,3}){1,3}", fullmatch=True),  # comma lists
    )
    return st.one_of(one, st.lists(one, min_size=2, max_size=3))  # a repeated key: ?n=1&n=2


@pytest.mark.parametrize("page", PAGES)
def test_random_urls_never_break_a_page_or_start_a_run(page):
    m = model(page)
    keys = m.keys or ["n", "tasks", "foo"]
    rng = random.Random(page)  # a seeded sample of contexts: reproducible
    contexts = list(m.contexts)

    @settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(st.dictionaries(st.sampled_from(keys), _url_value(), min_size=1, max_size=len(keys)))
    def check(query):
        query = {**query, **dict(rng.choice(contexts))}
        at = open_url(page, query)
        failure = page_problems(at, m.title, query)
        assert not failure, failure

    check()
