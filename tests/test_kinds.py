"""The measurement protocol across the evidence kinds: registry, costs, tiny real runs, interleaved rounds.

Every kind registered in ``core.kinds.KINDS`` is a CLI verb and a page panel's kind; these tests run
each evidence kind once, tiny and real, and check what the protocol promises of its result (strict
JSON, sentences, titled charts, a terminal table, frames). The sweeping kinds measure their points in
interleaved rounds: checked from the workers' own time stamps, not from the code's intent.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import altair as alt
import pandas as pd
import psutil
import pytest

from core.kinds import KINDS, kind, kind_of
from core.kinds.base import Result, RunContext, check, measure
from core.measure.estimate import PROCESS_WORKER_BYTES, BudgetError, Cost
from core.measure.spec import ExperimentSpec
from core.workloads import MB


def test_every_registered_kind_names_its_verb_and_costs_its_default_spec():
    for name in KINDS:
        k = kind(name)
        assert k.name == name and k.title and k.help
        if name == "compare":
            continue  # the comparison's own tests cover it
        types = k.spec_type if isinstance(k.spec_type, tuple) else (k.spec_type,)
        for spec_type in types:
            spec = spec_type()
            assert kind_of(spec) is k
            cost = k.cost(spec)
            assert isinstance(cost, Cost) and cost.seconds > 0 and cost.memory_bytes >= 0, (name, spec_type)


def test_the_overhead_set_costs_what_its_parts_cost_together():
    from core.kinds.overhead import KIND, BreakEvenSpec, OverheadSpec

    spec = OverheadSpec(break_even=BreakEvenSpec(sizes=(15, 18)))
    parts = [KIND.cost(p) for p in spec.parts()]
    whole = KIND.cost(spec)
    assert whole.seconds == pytest.approx(sum(p.seconds for p in parts))
    assert whole.memory_bytes == max(p.memory_bytes for p in parts)
    with pytest.raises(BudgetError, match="budget"):
        check(whole, max_seconds=whole.seconds / 2)


def test_points_cost_counts_every_pool_once_and_every_payload():
    from core.kinds.points import points_cost
    from core.measure.estimate import memory_bytes

    small, big = (ExperimentSpec(workload="transfer", size=mb, tasks=4, scheduler="processes", workers=2,
                                 reuse_pool=True) for mb in (10, 50))
    cost = points_cost([small, big], 2, what="this sweep", advice="")
    pool = PROCESS_WORKER_BYTES["processes"] * 2
    # One pool for both sizes; the big point's copies while it computes; the small one's payload waiting.
    assert cost.memory_bytes == pool + (memory_bytes(big) - pool) + 10 * MB
    assert cost.memory_bytes < memory_bytes(small) + memory_bytes(big)


# --- tiny real runs of every evidence kind -------------------------------------------------------------


def _tiny_specs():
    from core.kinds.blas import BlasSpec
    from core.kinds.gil_trace import GilTraceSpec
    from core.kinds.overhead import BreakEvenSpec, ChunksizeSpec, PerTaskSpec, StartupSpec
    from core.kinds.scaling import ScalingSpec
    from core.kinds.transfer import TransferSpec

    return {
        "sweep": ScalingSpec(workload="fib", size=18, scheduler="threads", workers=(1, 2), tasks=2, repeats=2),
        "transfer": TransferSpec(sizes_mb=(1, 2), schedulers=("threads",), tasks=2, repeats=1),
        "per-task": PerTaskSpec(engines=("sync", "threads"), tasks=20, repeats=1),
        "startup": StartupSpec(cases=("sync", "threads"), repeats=1),
        "chunksize": ChunksizeSpec(n=18, tasks=2, workers=2, repeats=1),
        "break-even": BreakEvenSpec(sizes=(15, 16), tasks=2, repeats=1, engines=("threads",)),
        "gil-trace": GilTraceSpec(threads=2, seconds=0.05, workload="sleep"),
        "blas": BlasSpec(side=100, tasks=2, workers=2, repeats=1),
    }


@pytest.fixture(scope="module")
def tiny_results(registry):
    return {name: measure(kind_of(spec), spec, RunContext(clusters=registry)) for name, spec in _tiny_specs().items()}


@pytest.mark.parametrize("name", list(_tiny_specs()))
def test_every_evidence_result_keeps_the_protocol(tiny_results, parse_json, name):
    result = tiny_results[name]
    assert isinstance(result, Result)
    assert result.machine.usable_cores >= 1 and result.run_id and result.started_at
    data = parse_json(result.to_json())  # strict: a NaN would fail here
    assert isinstance(data, dict) and data
    sentences = result.explain()
    assert sentences and all(isinstance(s, str) and s for s in sentences)
    charts = result.charts()
    assert charts and all(isinstance(title, str) and isinstance(chart, alt.TopLevelMixin) for title, chart in charts)
    for _, chart in charts:
        chart.to_dict()  # a valid Vega-Lite spec
    assert isinstance(result.text(), str) and result.text().strip()
    frames = result.frames()
    assert frames and all(isinstance(f, pd.DataFrame) for f in frames.values())
    assert not next(iter(frames.values())).empty, "the first frame is the one the Data tab shows"


def test_a_scaling_sweep_interleaves_its_worker_counts_round_by_round():
    from core.kinds.scaling import scaling_sweep

    repeats = 3
    result = scaling_sweep("fib", 20, "threads", [1, 2], tasks=2, repeats=repeats, include_sync=True,
                           max_seconds=None)
    rounds = result.rounds
    points = ["sync", "1 worker", "2 workers"]
    assert sorted(rounds["point"].unique()) == sorted(points)
    # Every worker count (and sync) has exactly one repeat per round ...
    assert {p: sorted(g) for p, g in rounds.groupby("point")["round"]} == {p: list(range(repeats)) for p in points}
    for count in (1, 2):
        assert sorted(result.runs.loc[(result.runs["scheduler"] == "threads") & (result.runs["workers"] == count),
                                      "repeat"]) == list(range(repeats))
    # ... and the rounds follow each other: every point of round r started before any point of round r + 1
    # (the tasks' own start stamps, taken in the worker).
    starts = rounds.groupby("round")["start_s"]
    assert (starts.max().iloc[:-1].to_numpy() < starts.min().iloc[1:].to_numpy()).all(), rounds
    # The order rotates, so no point always runs first.
    first = rounds[rounds["order"] == 0].sort_values("round")["point"].tolist()
    assert len(set(first)) == repeats, first
    assert result.noise.cores == result.cores


def test_a_break_even_sweep_measures_every_n_and_engine_in_every_round(registry):
    from core.kinds.overhead import BreakEvenSpec, measure_break_even

    result = measure_break_even(BreakEvenSpec(sizes=(15, 16), tasks=2, repeats=2, engines=("threads",)),
                                clusters=registry)
    assert len(result.rounds) == 2 * 2 * 2  # rounds × sizes × (sync + threads)
    assert (result.rounds.groupby("point")["round"].nunique() == 2).all()
    starts = result.rounds.groupby("round")["start_s"]
    assert starts.max().iloc[0] < starts.min().iloc[1]


def test_a_gil_trace_stops_when_asked_and_leaves_no_child():
    from core.engines import RunCancelled
    from core.kinds.gil_trace import GilTraceSpec, run_gil_trace

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    t0 = time.monotonic()
    with pytest.raises(RunCancelled):
        run_gil_trace(GilTraceSpec(threads=2, seconds=3.0), RunContext(should_stop=lambda: True))
    assert time.monotonic() - t0 < 2.5, "a stop request must not wait for the 3 s trace"
    left = {p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE}
    assert not left - before


# --- the CLI: every kind a verb, with the measuring options -------------------------------------------------


def test_cli_blas_json(cli, parse_json):
    run = cli("blas", "--side", "100", "--tasks", "2", "--repeats", "1", "--json")
    assert run.returncode == 0, run.stderr
    data = parse_json(run.stdout)
    assert data["kind"] == "blas" and [row["blas_threads"] for row in data["summary"]][0] == 1
    assert len(data["arms"]) == 2 and all(arm["spec"]["workload"] == "numpy-matmul" for arm in data["arms"])


@pytest.mark.parametrize(("args", "word"), [
    (["gil-trace", "--seconds", "3", "--max-seconds", "1"], "budget"),
    (["blas", "--side", "10"], "side"),
    (["sweep", "--workers", "1,2", "--repeats", "0"], "repeats"),
])
def test_cli_refusals_exit_2_with_one_line(cli, args, word):
    run = cli(*args)
    assert run.returncode == 2, (run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m core: error:") and word in lines[0], run.stderr
    assert not run.stdout and "Traceback" not in run.stderr


def test_no_kind_imports_the_cli():
    """``core.cli`` is built on the kinds; a kind importing it back would tie the two in a loop."""
    root = Path(__file__).resolve().parents[1] / "core" / "kinds"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "core.cli" and not (node.module == "core" and any(
                    a.name == "cli" for a in node.names)), path
            elif isinstance(node, ast.Import):
                assert all(a.name != "core.cli" for a in node.names), path
