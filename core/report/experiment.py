"""One run in words, charts and a terminal report: how :class:`~core.measure.results.ExperimentResult` shows itself.

The result is measurement data (:mod:`core.measure`); what it says about itself lives here with the
lab's other words and charts, so that the measurement layer never imports the kinds built on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.report.explain import cluster_line

if TYPE_CHECKING:
    from core.measure.results import ExperimentResult


def text(result: ExperimentResult) -> str:
    """The terminal's report of one run: the machine, every repeat, and the median repeat's tasks."""
    m = result.machine
    rep = result.median_repeat
    tasks = result.tasks[result.tasks["repeat"] == rep]
    cluster = cluster_line(result.engine)
    lines = [
        f"{result.spec.label}   [run {result.run_id}]",
        f"{'client' if result.spec.scheduler == 'external' else 'machine'}: {m.usable_cores} usable of"
        f" {m.logical_cores} logical cores · Python {m.python_version}"
        f" (GIL {m.gil_label}) · dask {m.dask_version} · distributed {m.distributed_version}"
        f" · numpy {m.numpy_version}",
        f"engine: {result.engine['n_workers']} worker(s) × {result.engine['threads_per_worker']} thread(s)"
        + (f" · one-time start-up {result.setup_s:.3f} s" if result.setup_s > 0.001 else ""),
        *([f"cluster: {cluster}"] if cluster else []),
        "",
        result.runs[["repeat", "wall_s", "startup_s", "compute_s", "teardown_s"]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}"),
        "",
        *([f"returned {result.values[0]!r}" if result.values else "", ""] if result.spec.call else []),
        f"median wall {result.wall_s:.3f} s (min {result.wall_min_s:.3f}, max {result.wall_max_s:.3f})"
        f" · median task CPU/wall {result.cpu_share:.2f}"
        f" · CPU used {result.cpu_utilization:.0%} of {int(result.runs['lanes'].iloc[0])} lane(s)",
        "",
        f"tasks of repeat {rep} (the median one):",
        tasks[["task", "start_s", "end_s", "cpu_s", "cpu_share", "pid", "thread_id", "host", "lane"]].to_string(
            index=False, float_format=lambda v: f"{v:.3f}"),
    ]
    return "\n".join(lines)


def explain(result: ExperimentResult) -> list[str]:
    """What one run shows on its own: its CPU evidence and its start-up (a comparison says the rest)."""
    out = []
    util, share = result.cpu_utilization, result.cpu_share
    lanes = int(result.runs["lanes"].iloc[0])
    if util == util:
        out.append(f"The {lanes} lane(s) computed for {util:.0%} of the compute time; a task had the CPU for"
                   f" {share:.0%} of its own time (≪ 100 %: it waited — for the GIL, a core or I/O).")
    phases = float(result.runs["startup_s"].median() + result.runs["teardown_s"].median())
    if phases > 0.05:
        out.append(f"Each repeat spent {phases * 1000:.0f} ms starting and stopping its engine around"
                   f" {float(result.runs['compute_s'].median()) * 1000:.0f} ms of compute.")
    if result.setup_s > 0.05:
        out.append(f"Starting the engine took {result.setup_s:.2f} s once, before the repeats.")
    if result.spec.scheduler == "external" and cluster_line(result.engine):
        out.append(f"The tasks ran on {cluster_line(result.engine)}.")
    return out


def charts(result: ExperimentResult) -> list[tuple[str, Any]]:
    from core.report import charts as c

    return [("Runtime", c.runtime_chart(result.runs)), ("Timeline", c.timeline_chart(result.tasks, result.runs)),
            ("CPU share", c.cpu_share_chart(result.tasks))]
