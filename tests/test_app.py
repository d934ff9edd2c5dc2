"""The real app through ``streamlit.testing.v1.AppTest``: pages, runs, cache, charts, bad input.

Runs are real (tiny sizes); the app's LocalClusters are closed when the module ends.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_helpers import charts, marks, open_page

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
PAGES = ["pages/start.py", "pages/cpu_bound.py", "pages/io_bound.py", "pages/numpy_gil.py",
         "pages/local_cluster.py", "pages/takeaways.py"]


def run_ids(at: AppTest) -> str:
    found = [c.value for c in at.caption if c.value.startswith("Run `")]
    assert found, "no 'Run `…`' caption: the results panel did not render"
    return found[0].split(" — ")[0]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page):
    at = open_page(page)
    assert at.title, f"{page} has no title"
    # No multi-second work on page load: nothing was measured.
    assert not [c for c in at.caption if c.value.startswith("Run `")]


def test_start_page_draws_the_schematic_as_a_real_figure():
    at = open_page("pages/start.py")
    specs = charts(at)
    assert specs and "rect" in marks(specs[0]), "the threads-vs-processes schematic should be a chart of boxes"
    first = AppTest.from_file(APP, default_timeout=60).run()  # (AppTest drops the sidebar tree on reruns)
    sidebar = " ".join(str(getattr(c, "value", "")) for c in first.sidebar.children.values())
    assert "usable core" in sidebar and "GIL" in sidebar


def test_cpu_page_runs_caches_and_remeasures():
    at = open_page("pages/cpu_bound.py", n="21", tasks="2", workers="2", rounds="7")
    assert at.slider(key="n").value == 21  # the URL set the slider
    at.button(key="cpu-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    first = run_ids(at)
    specs = charts(at)
    assert len(specs) >= 4, "speed-up, runtime, timeline and CPU-share charts"
    all_marks = set().union(*(marks(s) for s in specs))
    assert {"bar", "rule", "point"} <= all_marks
    frame = at.dataframe[0].value
    assert set(frame["size"]) == {21} and set(frame["scheduler"]) == {"sync", "threads", "processes"}
    assert len(frame) == 3 * 7  # one row per engine per round
    labels = [m.label for m in at.metric]
    assert labels == ["sync", "threads ×2", "processes ×2"], labels
    verdict_notes = [c.value for c in at.caption if c.value.startswith("**")]
    assert len(verdict_notes) == 2 and all(any(v in c for v in ("faster", "same", "slower", "undecided"))
                                           for c in verdict_notes), verdict_notes
    assert any(m.value.startswith("- **") for m in at.markdown), "the plain-language reading is missing"
    assert any("other programs used" in c.value for c in at.caption), "the noise line is missing"

    # A rerun with the same settings shows the stored measurement: same run id, nothing re-measured.
    at.run()
    assert run_ids(at) == first
    # "Measure again" takes a fresh measurement: a new run id.
    at.button(key="cpu-again").click().run()
    assert run_ids(at) != first


def test_cpu_page_default_is_the_cpu_bound_preset():
    """The page, the CLI, the tests and the benches share one default: the preset."""
    from core.presets import preset

    at = open_page("pages/cpu_bound.py")
    assert (at.slider(key="n").value, at.slider(key="tasks").value, at.slider(key="workers").value) == (
        int(preset("cpu-bound").size), preset("cpu-bound").tasks, preset("cpu-bound").arms[1].workers)


def test_slider_change_changes_the_spec():
    at = open_page("pages/cpu_bound.py", n="20", tasks="2", workers="2", rounds="7")
    at.button(key="cpu-run").click().run()
    before = run_ids(at)
    at.slider(key="n").set_value(19).run()
    at.button(key="cpu-run").click().run()
    assert run_ids(at) != before
    assert set(at.dataframe[0].value["size"]) == {19}


def test_bad_url_values_fall_back_to_defaults():
    at = open_page("pages/cpu_bound.py", n="banana", tasks="9999", workers="-3", rounds="lots")
    assert at.slider(key="n").value == 25
    assert at.slider(key="tasks").value == 4
    assert at.slider(key="workers").value == 2


def test_oversized_run_is_refused_with_a_message_and_the_app_keeps_working():
    at = open_page("pages/cpu_bound.py", n="34", tasks="16")
    assert at.button(key="cpu-run").disabled
    assert any("Too big" in w.value for w in at.warning)
    at.slider(key="n").set_value(20).run()
    assert not at.button(key="cpu-run").disabled


def test_local_cluster_page_runs_both_clusters_and_shows_the_map_pitfall():
    at = open_page("pages/local_cluster.py", n="18", tasks="2", rounds="7", **{"t-workers": "1", "t-threads": "2",
                                                                              "p-workers": "2", "p-threads": "1"})
    at.button(key="cluster-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    frame = at.dataframe[0].value
    assert set(frame["scheduler"]) == {"sync", "cluster-threads", "cluster-processes"}
    assert len(charts(at)) >= 4
    at.button(key="pitfall").click().run()
    values = {m.label: m.value for m in at.metric}
    assert values["client.map(fib, [20]*4)"] == "1 task run"
    assert values["client.map(..., pure=False)"] == "4 tasks run"


def test_io_page_runs_and_labels_the_default_pool():
    at = open_page("pages/io_bound.py", sleep="0.02", tasks="4", workers="4", rounds="7")
    at.button(key="io-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    engines = list(dict.fromkeys(at.dataframe[0].value["engine"]))
    assert any("Dask's default" in e for e in engines) and "threads ×4" in engines
    # Waiting releases the GIL: four threads overlap four sleeps, a decided and physical verdict.
    notes = [c.value for c in at.caption if c.value.startswith("**")]
    assert len(notes) == 2 and all(n.startswith("**faster") for n in notes), notes


def test_numpy_page_runs_a_kernel_and_the_transfer_comparison():
    at = open_page("pages/numpy_gil.py", **{"np-tasks": "2", "rounds": "7", "mb": "1", "tr-tasks": "2"})
    kernel = next(w for w in at.get("button_group") if w.key == "kernel")
    kernel.set_value("numpy-small").run()
    at.slider(key="size-numpy-small").set_value(1).run()
    at.button(key="numpy-numpy-small-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert set(at.dataframe[0].value["workload"]) == {"numpy-small"}
    at.button(key="transfer-run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert set(at.dataframe[-1].value["workload"]) == {"transfer"}


def test_takeaways_show_the_users_own_run():
    at = open_page("pages/io_bound.py", sleep="0.02", tasks="2", workers="2", rounds="7")
    at.button(key="io-run").click().run()
    at.switch_page("pages/takeaways.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("From your run" in c.value for c in at.caption)
    assert charts(at), "the I/O lesson should show the user's chart"
    table = " ".join(str(v) for v in at.table[0].value.to_numpy().ravel())
    assert "usable cores" in table and "GIL" in table
