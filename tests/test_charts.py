"""Tests of the Altair chart builders in :mod:`core.report.charts`, read through ``chart.to_dict()``.

Most tests use small hand-made tidy frames (a few engines, a few repeats), so the expected medians
and speed-ups can be computed from the input here; one test charts a tiny real run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import pytest

from core.measure.spec import SCHEDULER_LABELS
from core.report import charts
from core.report.charts import (
    ENGINE_COLORS,
    cpu_share_chart,
    median_repeat_tasks,
    runtime_chart,
    schematic_chart,
    speedup_chart,
    timeline_chart,
)

# --- synthetic frames --------------------------------------------------------------------------------

# Deliberately not alphabetical, so that "keeps the frame's order" is a real check.
WALLS = {
    "threads": [2.2, 2.0, 2.6],
    "sync": [4.1, 3.9, 4.0],
    "processes": [1.4, 1.0, 1.1],
}


def make_runs(walls: dict[str, list[float]] = WALLS) -> pd.DataFrame:
    rows = []
    for k, (scheduler, values) in enumerate(walls.items()):
        for repeat, wall in enumerate(values):
            startup = 0.3 if scheduler == "processes" else 0.0
            teardown = 0.1 if scheduler == "processes" else 0.0
            rows.append({
                "run_id": f"run{k}", "scheduler": scheduler, "engine": SCHEDULER_LABELS[scheduler],
                "workload": "fib", "size": 25, "tasks": 3, "workers": 2, "threads_per_worker": 1,
                "repeat": repeat, "wall_s": wall, "startup_s": startup, "compute_s": wall - startup - teardown,
                "teardown_s": teardown,
            })
    return pd.DataFrame(rows)


def make_tasks(runs: pd.DataFrame, per_repeat: int = 3) -> pd.DataFrame:
    rows = []
    for run in runs.itertuples():
        threaded = run.scheduler == "threads"
        for task in range(per_repeat):
            start = 0.1 * task + 0.01 * run.repeat
            wall = run.compute_s / 2
            share = 0.5 + 0.1 * task if threaded else 0.97 + 0.01 * task
            lane_no = task % 2 + 1
            lane = (f"main process · thread {lane_no}" if run.scheduler != "processes"
                    else f"process {lane_no} · thread 1")
            rows.append({
                "run_id": run.run_id, "scheduler": run.scheduler, "engine": run.engine, "repeat": run.repeat,
                "task": task, "start_s": start, "end_s": start + wall, "wall_s": wall, "cpu_s": share * wall,
                "cpu_share": share, "pid": 100 + (lane_no if run.scheduler == "processes" else 0),
                "thread_id": 7000 + lane_no, "worker": "0", "lane": lane,
            })
    return pd.DataFrame(rows)


@pytest.fixture
def runs() -> pd.DataFrame:
    return make_runs()


@pytest.fixture
def tasks(runs: pd.DataFrame) -> pd.DataFrame:
    return make_tasks(runs)


# --- reading specs ------------------------------------------------------------------------------------


def mark_type(layer: dict[str, Any]) -> str:
    mark = layer["mark"]
    return mark if isinstance(mark, str) else mark["type"]


def layer_data(spec: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    return spec["datasets"][layer["data"]["name"]]


def layers_of(spec: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [layer for layer in spec["layer"] if mark_type(layer) == kind]


def tooltip_fields(encoding: dict[str, Any]) -> set[str]:
    return {t["field"] for t in encoding["tooltip"]}


def engine_order(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["engine"]))


def expected_median_repeats(runs: pd.DataFrame) -> dict[str, int]:
    """Independent re-statement of the rule: sort by wall, take the lower middle."""
    chosen = {}
    for run_id, group in runs.groupby("run_id"):
        ordered = sorted(zip(group["wall_s"], group["repeat"], strict=True))
        chosen[run_id] = ordered[(len(ordered) - 1) // 2][1]
    return chosen


# --- colours -----------------------------------------------------------------------------------------


def test_engine_colors_cover_every_engine_with_distinct_hex_colours() -> None:
    assert set(ENGINE_COLORS) == set(SCHEDULER_LABELS.values())
    assert len(set(ENGINE_COLORS.values())) == len(ENGINE_COLORS)
    assert all(c.startswith("#") and len(c) == 7 for c in ENGINE_COLORS.values())


@pytest.mark.parametrize("builder", [runtime_chart, speedup_chart])
def test_engine_colours_are_the_same_in_every_chart(builder: Any, runs: pd.DataFrame) -> None:
    spec = builder(runs).to_dict()
    color = layers_of(spec, "bar")[0]["encoding"]["color"]
    order = engine_order(runs)
    assert color["field"] == "engine" and color["type"] == "nominal"
    assert color["scale"]["domain"] == order
    assert color["scale"]["range"] == [ENGINE_COLORS[e] for e in order]


def test_unknown_engine_labels_still_get_a_colour(runs: pd.DataFrame) -> None:
    odd = runs.assign(engine=runs["engine"].replace({"threads": "threads (8 workers)"}))
    spec = runtime_chart(odd).to_dict()
    scale = layers_of(spec, "bar")[0]["encoding"]["color"]["scale"]
    assert len(scale["range"]) == len(scale["domain"]) == 3
    assert all(isinstance(c, str) and c.startswith("#") for c in scale["range"])


# --- runtime chart -----------------------------------------------------------------------------------


def test_runtime_chart_bars_are_medians_with_min_max_error_bars(runs: pd.DataFrame) -> None:
    spec = runtime_chart(runs).to_dict()
    assert {mark_type(layer) for layer in spec["layer"]} == {"bar", "errorbar", "circle"}
    assert spec["width"] == "container"

    bar = layers_of(spec, "bar")[0]
    enc = bar["encoding"]
    assert (enc["x"]["field"], enc["x"]["type"]) == ("engine", "nominal")
    assert enc["x"]["sort"] == engine_order(runs)
    assert (enc["y"]["field"], enc["y"]["type"]) == ("wall_median_s", "quantitative")
    assert enc["y"]["title"] == "Wall time (s)"
    assert {"engine", "wall_median_s", "startup_median_s", "compute_median_s", "repeats"} <= tooltip_fields(enc)

    grouped = runs.groupby("engine")
    rows = {r["engine"]: r for r in layer_data(spec, bar)}
    assert list(rows) == engine_order(runs)
    for engine, row in rows.items():
        assert row["wall_median_s"] == pytest.approx(grouped["wall_s"].median()[engine])
        assert row["wall_min_s"] == pytest.approx(grouped["wall_s"].min()[engine])
        assert row["wall_max_s"] == pytest.approx(grouped["wall_s"].max()[engine])
        assert row["startup_median_s"] == pytest.approx(grouped["startup_s"].median()[engine])
        assert row["compute_median_s"] == pytest.approx(grouped["compute_s"].median()[engine])
        assert row["repeats"] == grouped.size()[engine]

    err = layers_of(spec, "errorbar")[0]["encoding"]
    assert (err["y"]["field"], err["y2"]["field"]) == ("wall_min_s", "wall_max_s")

    points = layers_of(spec, "circle")[0]
    assert points["encoding"]["y"]["field"] == "wall_s"
    assert sorted(r["wall_s"] for r in layer_data(spec, points)) == sorted(runs["wall_s"])

    for layer in spec["layer"]:
        assert layer["encoding"]["tooltip"], f"{mark_type(layer)} layer has no tooltip"


def test_runtime_chart_draws_the_ideal_as_a_labelled_dashed_rule(runs: pd.DataFrame) -> None:
    spec = runtime_chart(runs, ideal_s=0.5, title="fib × 3").to_dict()
    assert spec["title"] == "fib × 3"
    rule = layers_of(spec, "rule")[0]
    assert rule["mark"]["strokeDash"]
    assert rule["encoding"]["y"]["field"] == "ideal_s"
    assert layer_data(spec, rule)[0]["ideal_s"] == 0.5
    texts = layers_of(spec, "text")
    assert texts and all(t["encoding"]["text"]["field"] == "label" for t in texts)
    assert {r["label"] for t in texts for r in layer_data(spec, t)} == {"ideal on this machine: 0.5 s"}
    assert all(layer["encoding"]["tooltip"] for layer in spec["layer"])


def test_runtime_chart_rejects_bad_input(runs: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="ideal_s"):
        runtime_chart(runs, ideal_s=-1.0)
    with pytest.raises(ValueError, match="wall_s"):
        runtime_chart(runs.drop(columns="wall_s"))
    with pytest.raises(ValueError, match="empty"):
        runtime_chart(runs.iloc[0:0])


def test_builders_do_not_modify_their_input(runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    runs_before, tasks_before = runs.copy(), tasks.copy()
    runtime_chart(runs, ideal_s=1.0)
    speedup_chart(runs)
    cpu_share_chart(tasks)
    timeline_chart(tasks, runs=runs)
    median_repeat_tasks(runs, tasks)
    pd.testing.assert_frame_equal(runs, runs_before)
    pd.testing.assert_frame_equal(tasks, tasks_before)


# --- speed-up chart ----------------------------------------------------------------------------------


def test_speedup_chart_divides_the_baseline_median_by_each_median(runs: pd.DataFrame) -> None:
    spec = speedup_chart(runs).to_dict()
    assert {mark_type(layer) for layer in spec["layer"]} == {"bar", "text", "rule"}
    bar = layers_of(spec, "bar")[0]
    assert (bar["encoding"]["y"]["field"], bar["encoding"]["y"]["type"]) == ("speedup", "quantitative")
    assert {"wall_median_s", "baseline_median_s"} <= tooltip_fields(bar["encoding"])

    medians = runs.groupby("engine")["wall_s"].median()
    base = runs.loc[runs["scheduler"] == "sync", "wall_s"].median()
    rows = {r["engine"]: r for r in layer_data(spec, bar)}
    assert list(rows) == engine_order(runs)
    for engine, row in rows.items():
        assert row["speedup"] == pytest.approx(base / medians[engine])
        assert row["baseline_median_s"] == pytest.approx(base)
        assert row["label"].endswith("×")
    assert rows[SCHEDULER_LABELS["sync"]]["label"] == "1.0×"
    assert rows[SCHEDULER_LABELS["threads"]]["label"] == f"{base / medians['threads']:.1f}×"

    rule = layers_of(spec, "rule")[0]
    assert layer_data(spec, rule) == [{"speedup": 1.0, "label": "same as sync"}]
    assert all(layer["encoding"]["tooltip"] for layer in spec["layer"])


def test_speedup_chart_labels_read_like_the_tutorial() -> None:
    runs = make_runs({"sync": [2.0, 2.0], "threads": [1.0, 1.0], "processes": [40.0, 40.0]})
    spec = speedup_chart(runs).to_dict()
    labels = {r["engine"]: r["label"] for r in layer_data(spec, layers_of(spec, "bar")[0])}
    assert labels == {"sync (one thread)": "1.0×", "threads": "2.0×", "processes": "0.05×"}


def test_speedup_chart_needs_its_baseline(runs: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'sync'"):
        speedup_chart(runs[runs["scheduler"] != "sync"])
    spec = speedup_chart(runs, baseline="threads").to_dict()
    rows = layer_data(spec, layers_of(spec, "bar")[0])
    threads = next(r for r in rows if r["engine"] == "threads")
    assert threads["speedup"] == pytest.approx(1.0)


# --- CPU share chart ---------------------------------------------------------------------------------


def test_cpu_share_chart_bars_are_median_task_shares(tasks: pd.DataFrame) -> None:
    tasks = tasks.copy()
    tasks.loc[0, "cpu_share"] = float("nan")  # a task too short to time
    spec = cpu_share_chart(tasks).to_dict()
    assert {mark_type(layer) for layer in spec["layer"]} == {"bar", "circle", "rule", "text"}
    bar = layers_of(spec, "bar")[0]
    assert bar["encoding"]["y"]["axis"]["format"] == "%"
    assert "%" in bar["encoding"]["y"]["title"]
    medians = tasks.groupby("engine")["cpu_share"].median()
    rows = {r["engine"]: r for r in layer_data(spec, bar)}
    assert list(rows) == engine_order(tasks)
    for engine, row in rows.items():
        assert row["median_share"] == pytest.approx(medians[engine])

    points = layers_of(spec, "circle")[0]
    assert points["encoding"]["y"]["field"] == "cpu_share"
    assert len(layer_data(spec, points)) == tasks["cpu_share"].notna().sum()

    rule = layers_of(spec, "rule")[0]
    assert layer_data(spec, rule) == [{"share": 1.0, "label": "running the whole time"}]
    assert all(layer["encoding"]["tooltip"] for layer in spec["layer"])


# --- median repeat and timeline ----------------------------------------------------------------------


def test_median_repeat_tasks_picks_the_median_wall_repeat() -> None:
    # odd count: walls 3, 1, 2 -> repeat 2; even count: walls 4, 1, 3, 2 -> lower middle (2 s) -> repeat 3
    runs = pd.concat([
        make_runs({"sync": [3.0, 1.0, 2.0]}),
        make_runs({"threads": [4.0, 1.0, 3.0, 2.0]}).assign(run_id="run1"),
    ], ignore_index=True)
    tasks = make_tasks(runs)
    picked = median_repeat_tasks(runs, tasks)
    assert expected_median_repeats(runs) == {"run0": 2, "run1": 3}
    assert picked.groupby("run_id")["repeat"].unique().map(list).to_dict() == {"run0": [2], "run1": [3]}
    assert len(picked) == 2 * 3
    wanted = {("run0", 2), ("run1", 3)}
    expected = tasks[[key in wanted for key in zip(tasks["run_id"], tasks["repeat"], strict=True)]]
    pd.testing.assert_frame_equal(picked, expected)


def test_median_repeat_tasks_falls_back_to_the_lowest_repeat_present(runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    only_repeat_1 = tasks[tasks["repeat"] == 1]
    unknown = tasks.assign(run_id="not-in-runs")
    assert set(median_repeat_tasks(runs, only_repeat_1)["repeat"]) == {1}
    assert set(median_repeat_tasks(runs, unknown)["repeat"]) == {0}


def test_timeline_chart_is_a_gantt_faceted_by_engine(runs: pd.DataFrame, tasks: pd.DataFrame) -> None:
    spec = timeline_chart(tasks, runs=runs, title="Timeline").to_dict()
    assert spec["title"] == "Timeline"
    assert spec["facet"]["row"]["field"] == "engine"
    assert spec["facet"]["row"]["sort"] == engine_order(tasks)
    assert spec["resolve"]["scale"]["y"] == "independent"
    assert mark_type(spec["spec"]) == "bar"

    enc = spec["spec"]["encoding"]
    assert (enc["x"]["field"], enc["x"]["type"]) == ("start_s", "quantitative")
    assert enc["x"]["title"] == "Seconds since compute started"
    assert enc["x2"]["field"] == "end_s"
    assert (enc["y"]["field"], enc["y"]["type"]) == ("lane", "nominal")
    assert (enc["color"]["field"], enc["color"]["type"]) == ("task", "nominal")
    assert enc["opacity"]["scale"] == {"domain": [0, 1], "range": [0.35, 1]}
    assert enc["opacity"]["legend"]["title"] == "CPU share of task time"
    assert {"engine", "task", "lane", "start_s", "end_s", "wall_s", "cpu_s", "cpu_share", "pid"} <= tooltip_fields(enc)
    share_tip = next(t for t in enc["tooltip"] if t["field"] == "cpu_share")
    assert share_tip["format"].endswith("%")

    rows = spec["datasets"][spec["data"]["name"]]
    chosen = expected_median_repeats(runs)
    assert {(r["run_id"], r["repeat"]) for r in rows} == set(chosen.items())
    assert len(rows) == len(chosen) * 3


def test_timeline_chart_without_runs_shows_repeat_zero(tasks: pd.DataFrame) -> None:
    spec = timeline_chart(tasks).to_dict()
    rows = spec["datasets"][spec["data"]["name"]]
    assert {r["repeat"] for r in rows} == {0}
    assert len(rows) == (tasks["repeat"] == 0).sum()


def test_timeline_lanes_sort_naturally_and_short_tasks_draw_solid(tasks: pd.DataFrame) -> None:
    many = tasks[tasks["repeat"] == 0].copy()
    many.loc[many.index[:2], "lane"] = ["process 10 · thread 1", "process 2 · thread 1"]
    many.loc[many.index[0], "cpu_share"] = float("nan")
    spec = timeline_chart(many).to_dict()
    rows = {r["lane"]: r for r in spec["datasets"][spec["data"]["name"]]}
    assert rows["process 2 · thread 1"]["lane_order"] < rows["process 10 · thread 1"]["lane_order"]
    assert rows["process 10 · thread 1"]["cpu_share"] is None
    assert rows["process 10 · thread 1"]["cpu_share_shown"] == 1.0


# --- schematic ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 4, 7])
def test_schematic_has_n_threads_on_each_side(n: int) -> None:
    spec = schematic_chart(n).to_dict()
    assert spec["config"]["view"]["strokeWidth"] == 0
    frame = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    counts = frame.groupby(["panel", "kind"]).size()
    assert counts[("left", "thread")] == n
    assert counts[("right", "thread")] == n
    assert counts[("left", "process")] == 1 and counts[("left", "GIL")] == 1
    assert counts[("right", "process")] == n and counts[("right", "GIL")] == n

    left, right = spec["hconcat"]
    assert left["title"]["text"] == f"One process, {n} thread{'s' if n > 1 else ''} (one GIL shared)"
    assert right["title"]["text"].endswith("one thread each (a GIL each)")
    for panel in (left, right):
        kinds = {mark_type(layer) for layer in panel["layer"]}
        assert kinds == {"rect", "text"}
        for layer in panel["layer"]:
            enc = layer["encoding"]
            assert enc["x"]["axis"] is None and enc["y"]["axis"] is None
            assert enc["tooltip"]
        rect = next(layer for layer in panel["layer"] if mark_type(layer) == "rect")
        assert {"x2", "y2"} <= set(rect["encoding"])
        assert rect["encoding"]["color"]["field"] == "kind"
        assert len(set(rect["encoding"]["color"]["scale"]["range"])) == 3

    # Every thread box sits inside a process box of its own panel.
    boxes = frame[frame["kind"] != "note"]
    for _, thread in boxes[boxes["kind"] == "thread"].iterrows():
        procs = boxes[(boxes["panel"] == thread["panel"]) & (boxes["kind"] == "process")]
        assert ((procs["x"] <= thread["x"]) & (procs["x2"] >= thread["x2"])
                & (procs["y"] <= thread["y"]) & (procs["y2"] >= thread["y2"])).any()
    assert sum(p["width"] for p in spec["hconcat"]) + spec["spacing"] <= 720


@pytest.mark.parametrize("n", [0, 17, 2.5, True])
def test_schematic_rejects_silly_sizes(n: Any) -> None:
    with pytest.raises(ValueError, match="n must be"):
        schematic_chart(n)


# --- real data ---------------------------------------------------------------------------------------


def test_charts_of_a_tiny_real_run() -> None:
    from core.measure.results import combine
    from core.measure.run import run_experiment
    from core.measure.spec import ExperimentSpec

    results = [run_experiment(ExperimentSpec(workload="fib", size=20, tasks=2, scheduler=s, workers=2, repeats=2))
               for s in ("sync", "threads")]
    runs, tasks = combine(results)
    built = {
        "runtime": runtime_chart(runs, ideal_s=float(runs["wall_s"].min())),
        "speedup": speedup_chart(runs),
        "cpu": cpu_share_chart(tasks),
        "timeline": timeline_chart(tasks, runs=runs),
    }
    for chart in built.values():
        json.loads(chart.to_json())  # valid against the Vega-Lite schema and serialisable

    spec = built["runtime"].to_dict()
    rows = {r["engine"]: r for r in layer_data(spec, layers_of(spec, "bar")[0])}
    assert list(rows) == [SCHEDULER_LABELS["sync"], SCHEDULER_LABELS["threads"]]
    for result in results:
        assert rows[result.runs["engine"].iloc[0]]["wall_median_s"] == pytest.approx(result.wall_s)

    spec = built["speedup"].to_dict()
    rows = {r["engine"]: r for r in layer_data(spec, layers_of(spec, "bar")[0])}
    assert rows[SCHEDULER_LABELS["sync"]]["speedup"] == pytest.approx(1.0)
    assert rows["threads"]["speedup"] == pytest.approx(results[0].wall_s / results[1].wall_s)

    spec = built["timeline"].to_dict()
    shown = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    for result in results:
        mine = shown[shown["run_id"] == result.run_id]
        assert set(mine["repeat"]) == {result.median_repeat}
        assert sorted(mine["task"]) == [0, 1]
    assert set(shown.loc[shown["engine"] == SCHEDULER_LABELS["sync"], "lane"]) == {"main process · thread 1"}

    spec = built["cpu"].to_dict()
    rows = {r["engine"]: r for r in layer_data(spec, layers_of(spec, "bar")[0])}
    for result in results:
        assert rows[result.runs["engine"].iloc[0]]["median_share"] == pytest.approx(result.cpu_share, nan_ok=True)


def test_module_does_not_import_streamlit() -> None:
    source = Path(charts.__file__).read_text(encoding="utf-8")
    assert "streamlit" not in source
    assert isinstance(schematic_chart(), alt.HConcatChart)
