"""The GIL trace and Interpreter & BLAS pages through ``streamlit.testing.v1.AppTest``, with real (tiny) runs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tests.app_helpers import charts, marks, open_page


def _chart_frames(at) -> list[pa.Table]:
    """The data of each chart: Streamlit ships it beside the spec, as Arrow."""
    return [pa.ipc.open_stream(el.proto.datasets[0].data.data).read_all() for el in at.get("vega_lite_chart")]


def _metrics(at) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in at.metric:
        found.setdefault(m.label, []).append(m.value)
    return found


@pytest.mark.parametrize("page", ["pages/gil_trace.py", "pages/interpreter.py"])
def test_page_renders_without_running_anything(page):
    at = open_page(page)
    assert at.title
    assert "parallel_fraction" not in _metrics(at), "a page load must not start a trace"
    assert not [c for c in at.caption if c.value.startswith("Run ids:")]


def test_gil_trace_page_runs_caches_and_measures_again():
    at = open_page("pages/gil_trace.py", **{"trace-seconds": "0.1", "trace-threads": "2"})
    assert at.slider(key="trace-seconds").value == pytest.approx(0.1)
    workloads = next(w for w in at.get("button_group") if w.key == "trace-workloads")
    workloads.set_value(["python", "sleep"]).run()
    at.button(key="trace-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    values = _metrics(at)["parallel_fraction"]
    assert len(values) == 2, values
    python_pf, sleep_pf = (int(v.rstrip("%")) for v in values)
    # The physics is tested with longer traces in test_gil_trace.py; on a busy machine 0.1 s is noisy.
    assert python_pf < 10 and sleep_pf > python_pf, values
    specs = charts(at)
    assert len(specs) == 2 and all("bar" in marks(s) for s in specs)
    frames = _chart_frames(at)
    assert all(f.num_rows > 0 and {"start_ms", "end_ms", "lane"} <= set(f.column_names) for f in frames)
    threads_tables = [d.value for d in at.dataframe if "mean_slice_ms" in d.value.columns]
    assert len(threads_tables) == 2 and list(threads_tables[0]["thread"]) == [1, 2]
    assert any("handed the interpreter over" in m.value for m in at.markdown)

    # A rerun shows the cached traces (same figures); "Measure again" takes new ones.
    first = threads_tables[0]["units"].tolist()
    at.run()
    assert [d.value for d in at.dataframe if "mean_slice_ms" in d.value.columns][0]["units"].tolist() == first
    at.button(key="trace-again").click().run()
    assert not at.exception, [e.value for e in at.exception]
    again = [d.value for d in at.dataframe if "mean_slice_ms" in d.value.columns][0]["units"].tolist()
    assert again != first


def test_gil_trace_window_narrows_the_chart():
    at = open_page("pages/gil_trace.py", **{"trace-seconds": "0.2", "trace-threads": "2"})
    next(w for w in at.get("button_group") if w.key == "trace-workloads").set_value(["python"]).run()
    at.button(key="trace-run").click().run()
    window = next(s for s in at.slider if s.label == "Show (ms)")
    window.set_value((0.0, 30.0)).run()
    assert not at.exception, [e.value for e in at.exception]
    spec = charts(at)[0]
    assert spec["encoding"]["x"]["scale"]["domain"] == [0.0, 30.0]


def test_gil_trace_bad_query_params_fall_back():
    at = open_page("pages/gil_trace.py", **{"trace-threads": "banana", "trace-seconds": "99",
                                            "trace-interval": "-4", "trace-workloads": "fib"})
    assert at.slider(key="trace-threads").value == 2
    assert at.slider(key="trace-seconds").value == pytest.approx(0.5)
    assert at.slider(key="trace-interval").value == pytest.approx(5.0)
    assert not at.button(key="trace-run").disabled


def test_interpreter_page_tables_and_the_blas_comparison():
    at = open_page("pages/interpreter.py", **{"blas-side": "200", "blas-tasks": "2", "blas-repeats": "1"})
    table = " ".join(str(v) for v in at.table[0].value.to_numpy().ravel())
    assert "CPython" in table or "PyPy" in table
    assert any("num_threads" in d.value.columns for d in at.dataframe), "the BLAS pools table is missing"
    at.button(key="blas-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = next(d.value for d in at.dataframe if "wall_s" in d.value.columns)
    assert set(runs["workload"]) == {"numpy-matmul"} and len(runs) == 2
    assert any(e.startswith("BLAS pinned") for e in runs["engine"]) and any("default" in e for e in runs["engine"])
    assert any("bar" in marks(s) for s in charts(at))
    assert any("arm was faster" in m.value for m in at.markdown)


def test_interpreter_page_bad_query_params_fall_back():
    at = open_page("pages/interpreter.py", **{"blas-side": "9999999", "blas-workers": "x"})
    assert at.slider(key="blas-side").value == 600
    assert at.slider(key="blas-workers").value == 2
