"""The Scaling & data transfer page through ``streamlit.testing.v1.AppTest``: load, one tiny run per section, bad URLs.

Runs are real and tiny (fib 20, 1 MB payloads, one repeat) and use the processes scheduler, not
LocalClusters, to stay fast; any cluster the app started is closed when the module ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from core.measure.machine import machine_info
from tests import app_helpers

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGE = "pages/scaling.py"
CORES = machine_info().usable_cores


def open_page(**query: str) -> AppTest:
    return app_helpers.open_page(PAGE, timeout=240, **query)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def chart_data(at: AppTest) -> list[pd.DataFrame]:
    """The data sets Streamlit ships beside each chart's spec (Altair's inline data, as Arrow tables)."""
    return [pa.ipc.open_stream(ds.data.data).read_pandas() for el in at.get("vega_lite_chart")
            for ds in el.proto.datasets]


def pills(at: AppTest, key: str):
    return next(w for w in at.get("button_group") if w.key == key)


def test_page_renders_without_measuring():
    at = open_page()
    assert [t.value for t in at.title] == ["Scaling & data transfer"]
    assert {"scaling-run", "scaling-again", "payloads-run", "payloads-again"} <= {b.key for b in at.button}
    assert not chart_specs(at), "a page load must not run a sweep"
    estimates = [c.value for c in at.caption if c.value.startswith("Estimated")]
    assert len(estimates) == 2, "each section shows its estimate before running"
    text = " ".join(m.value for m in at.markdown)
    assert "knee" in text and "GIL" in text and "pickle" in text


def test_scaling_section_runs_a_tiny_sweep_and_draws_the_knee():
    at = open_page(**{"sc-size-fib": "20", "sc-workers": "2", "sc-k": "1", "sc-repeats": "1"})
    at.toggle(key="sc-sync").set_value(False).run()
    at.button(key="scaling-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    specs = chart_specs(at)
    assert len(specs) == 1
    spec = json.dumps(specs[0])
    assert '"rule"' in spec and "Amdahl fit" in spec and "ideal" in spec
    labels = {str(v) for frame in chart_data(at) if "label" in frame for v in frame["label"]}
    if CORES <= 2:
        assert f"{CORES} cores" in labels or CORES == 1, labels  # the core count (the knee) is marked
    frame = at.dataframe[0].value
    assert list(frame["workers"]) == [1, 2] and set(frame["tasks"]) == {2}
    assert frame["speedup"].iloc[0] == pytest.approx(1.0)
    assert any("Amdahl fit" in m.value for m in at.markdown)
    # A rerun shows the cached sweep: same run ids, nothing measured again.
    ids = list(frame["run_id"])
    at.run()
    assert list(at.dataframe[0].value["run_id"]) == ids


def test_transfer_section_runs_and_charts_seconds_and_throughput():
    at = open_page(**{"xf-tasks": "2", "xf-workers": "1", "xf-repeats": "1"})
    pills(at, "xf-engines").set_value(["threads", "processes"]).run()
    pills(at, "xf-sizes").set_value(["1", "10"]).run()
    at.button(key="payloads-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    specs = chart_specs(at)
    assert len(specs) == 1
    spec = json.dumps(specs[0])
    assert '"log"' in spec and "throughput_mb_s" in spec
    frame = at.dataframe[-1].value
    assert sorted(zip(frame["scheduler"], frame["mb"], strict=True)) == [
        ("processes", 1), ("processes", 10), ("threads", 1), ("threads", 10)]
    assert any("MB/s" in m.value for m in at.markdown)


def test_bad_query_params_fall_back_to_defaults():
    at = open_page(**{"sc-size-fib": "banana", "sc-workers": "999", "sc-engine": "gpu", "sc-workload": "nope",
                      "sc-repeats": "-2", "xf-tasks": "-1", "xf-workers": "x"})
    assert at.slider(key="sc-size-fib").value == 28
    assert at.slider(key="sc-workers").value == min(max(4, 2 * CORES), max(4, 4 * CORES), 32)
    assert at.slider(key="sc-repeats").value == 3
    assert pills(at, "sc-engine").value == "processes"
    assert pills(at, "sc-workload").value == "fib"
    assert at.slider(key="xf-tasks").value == 4
    assert not chart_specs(at)
