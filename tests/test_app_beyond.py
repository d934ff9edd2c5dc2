"""The Beyond Dask and Your function pages through the real app (``streamlit.testing.v1.AppTest``).

Runs are real and small. The Your function page imports a module this test writes into a temporary
directory, and only in local mode: on a shared server (the default) it says why it is off and offers nothing.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from core.presets import preset
from tests.app_helpers import open_page


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Settings and results are cached per server: each test starts as a fresh server would."""
    streamlit.cache_resource.clear()
    streamlit.cache_data.clear()
    yield
    streamlit.cache_resource.clear()


def results_shown(at: AppTest) -> bool:
    return any(c.value.startswith("Run `") for c in at.caption)


# --- Beyond Dask ----------------------------------------------------------------------------------------------


def test_beyond_dask_shows_every_arms_code_and_measures_nothing_on_load():
    at = open_page("pages/beyond_dask.py")
    assert at.title[0].value == "Beyond Dask: the GIL is Python's"
    assert not results_shown(at)
    codes = [c.value for c in at.code]
    joined = "\n".join(codes)
    # The preset's engines beyond Dask, each with the lines a user writes (fib mapped over its arguments).
    for needle in ("ThreadPoolExecutor(2)", "ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(\"spawn\"))",
                   "Parallel(n_jobs=2, batch_size=1)", "def fib(n):"):
        assert needle in joined, needle
    default = preset("beyond-dask")
    assert sum(f"[{default.size!r}] * {default.tasks}" in c for c in codes) == len(default.arms)  # each, mapped


def test_beyond_dask_offers_every_engine_with_its_code():
    at = open_page("pages/beyond_dask.py", **{"bd-engines-fib": ["multiprocessing", "joblib-threads"]})
    joined = "\n".join(c.value for c in at.code)
    for needle in ("get_context(\"spawn\").Pool(2)", "Parallel(n_jobs=2, backend=\"threading\", batch_size=1)"):
        assert needle in joined, needle


def test_beyond_dask_runs_its_engines_with_verdicts_beside_their_code():
    at = open_page("pages/beyond_dask.py", **{"bd-kernel": "sleep", "bd-size-sleep": "0.05", "bd-tasks": "4",
                                              "bd-threads": "4", "rounds": "7"})
    assert "time.sleep" in "\n".join(c.value for c in at.code)
    at.button(key="beyond-sleep-run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert results_shown(at)
    verdict_captions = [c.value for c in at.caption if c.value.startswith("Measured above:")]
    assert len(verdict_captions) == 3, verdict_captions  # Dask threads, futures-threads, joblib-threads
    assert all("faster" in c for c in verdict_captions), verdict_captions  # sleeps overlap on every thread pool
    text = "\n".join(m.value for m in at.markdown)
    assert "futures-threads ×4" in text and "joblib-threads ×4" in text


def test_beyond_dask_numpy_kernel_draws_its_defaults():
    at = open_page("pages/beyond_dask.py", **{"bd-kernel": "numpy-matmul"})
    assert "def matmul(side):" in "\n".join(c.value for c in at.code)
    assert not results_shown(at)


# --- Your function ---------------------------------------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path: Path) -> Iterator[str]:
    name = f"gil_lab_app_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent('''
        import time

        def nap(seconds):
            time.sleep(seconds)
            return seconds

        def boom():
            raise ValueError("no luck")
    '''))
    sys.path.insert(0, str(tmp_path))
    yield name
    sys.path.remove(str(tmp_path))


def test_your_function_is_off_on_a_shared_server(monkeypatch):
    monkeypatch.delenv("GIL_LAB_MODE", raising=False)
    monkeypatch.delenv("GIL_LAB_ALLOW_USER_FUNCTIONS", raising=False)
    at = open_page("pages/your_function.py")
    assert at.title[0].value == "Your function: threads or processes?"
    assert any("Off on this server" in i.value for i in at.info)
    assert not at.text_input and not at.button  # nothing to type, nothing to run


def test_your_function_measures_a_function_in_local_mode_with_the_advice_first(monkeypatch, user_module):
    monkeypatch.setenv("GIL_LAB_ALLOW_USER_FUNCTIONS", "true")
    at = open_page("pages/your_function.py", **{"uf-tasks": "4", "uf-threads": "4", "rounds": "7"})
    assert not any("Off on this server" in i.value for i in at.info)
    at.text_input(key="uf-function").input(f"{user_module}:nap")
    at.text_input(key="uf-args").input("[0.05]")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(c.value.startswith("One trial call in a fresh process") for c in at.caption)
    at.button(key="your-function-run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert results_shown(at)
    advice = [s.value for s in at.success]
    assert advice and advice[0].startswith("**Threads help: it releases the GIL"), advice
    assert any(m.value.startswith("- **Advice:** Threads help") for m in at.markdown)


@pytest.mark.parametrize("function, args, words", [
    ("{m}:boom", "[]", ("FunctionFailed", "ValueError: no luck")),
    ("{m}:nope", "[]", ("FunctionInputError", "AttributeError")),
    ("gil_lab_no_such_module:f", "[]", ("ModuleNotFoundError",)),
    ("{m}:nap", "[0.05", ("function_args", "JSON")),
    ("not a path", "[]", ("dotted.module:name",)),
])
def test_your_function_bad_input_is_one_line_and_the_page_keeps_working(monkeypatch, user_module, function, args,
                                                                        words):
    monkeypatch.setenv("GIL_LAB_ALLOW_USER_FUNCTIONS", "true")
    at = open_page("pages/your_function.py")
    at.text_input(key="uf-function").input(function.replace("{m}", user_module))
    at.text_input(key="uf-args").input(args)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    assert all(w in errors[0] for w in words), errors
    assert not results_shown(at)
    # Fix the input: the page works again.
    at.text_input(key="uf-function").input(f"{user_module}:nap")
    at.text_input(key="uf-args").input("[0.01]")
    at.run()
    assert not at.error and any(c.value.startswith("One trial call") for c in at.caption)
