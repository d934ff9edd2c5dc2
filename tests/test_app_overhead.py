"""The Overhead anatomy page through ``streamlit.testing.v1.AppTest``: renders, runs a small section, survives bad URLs.

Runs are real and tiny; the app's LocalClusters are closed when the module ends.
"""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests import app_helpers

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGE = "pages/overhead.py"
SECTIONS = ["per-task", "startup", "chunksize", "break-even"]


def open_page(**query: str) -> AppTest:
    return app_helpers.open_page(PAGE, **query)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def test_page_renders_every_section_without_measuring():
    at = open_page()
    assert [t.value for t in at.title] == ["Overhead anatomy"]
    headers = [h.value for h in at.header]
    assert len(headers) == 4 and headers[0].startswith("1 ·") and headers[3].startswith("4 ·")
    keys = {b.key for b in at.button}
    assert {f"{s}-run" for s in SECTIONS} <= keys and {f"{s}-again" for s in SECTIONS} <= keys
    assert not chart_specs(at), "a page load must not measure anything"
    assert sum("press **Run experiment**" in i.value for i in at.info) == 4
    assert any(c.value.startswith("Estimated ≈") for c in at.caption)


def test_a_small_per_task_run_shows_the_chart_with_dask_reference_figures():
    at = open_page(**{"pt-tasks": "100", "pt-repeats": "1", "pt-workers": "1"})
    assert at.select_slider(key="pt-tasks").value == 100
    at.pills(key="pt-engines").set_value(["sync", "threads"]).run()
    at.button(key="per-task-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    specs = chart_specs(at)
    assert len(specs) == 1
    assert '"type": "log"' in json.dumps(specs[0])  # per-task costs span decades
    # Dask's quoted figure travels in the chart's data (Arrow bytes), next to the measured bars.
    data = b"".join(ds.data.data for ds in at.get("vega_lite_chart")[0].proto.datasets)
    assert "docs: 50 µs".encode() in data
    assert [m.label for m in at.metric] == ["sync", "threads"]
    assert all(m.value.endswith(("µs", "ms")) for m in at.metric)
    assert any("Dask's docs: 50 µs" in c.value for c in at.caption)
    # Shown again on the next rerun from the shared cache, with the same run id.
    run_id = next(c.value for c in at.caption if c.value.startswith("Run `"))
    at.run()
    assert next(c.value for c in at.caption if c.value.startswith("Run `")) == run_id


def test_bad_query_params_fall_back_to_defaults():
    at = open_page(**{"pt-tasks": "banana", "pt-workers": "-3", "pt-repeats": "99", "ck-n": "x", "be-step": "0",
                      "pt-graph": "dict", "su-workers": "1e9"})
    assert at.select_slider(key="pt-tasks").value == 1000
    assert at.slider(key="pt-workers").value == 2
    assert at.slider(key="pt-repeats").value == 3
    assert at.slider(key="ck-n").value == 27
    assert at.slider(key="be-step").value == 3
    assert at.slider(key="su-workers").value == 2
    assert not at.exception


def test_an_oversized_measurement_is_refused_with_a_message():
    at = open_page(**{"pt-tasks": "10000", "pt-repeats": "5"})
    assert at.button(key="per-task-run").disabled
    assert any("Too big" in w.value for w in at.warning)
    assert not at.button(key="startup-run").disabled  # the other sections are unaffected
