"""Part 4 of ``overhead``: the smallest fib n from which a process engine beats sync on this machine.

A comparison over fib n: every (n, engine) — sync included — is a point of the same interleaved rounds
(:mod:`core.kinds.points`), so a burst of load hits every n and every engine alike and cannot move the
crossing. Where an engine never wins within the sweep, its measured overhead gives an extrapolation,
labelled as one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from core.fmt import duration as fmt_duration
from core.kinds.base import RunContext, StrictJson, machine_line, records
from core.kinds.overhead.common import (
    ADVICE,
    BREAK_EVEN_ENGINES,
    LIMITS,
    checked_int,
    checked_names,
    finite_or_none,
    log_domain,
    log_ticks,
    now_iso,
)
from core.kinds.points import Points, measure_points, points_cost
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo, machine_info
from core.measure.noise import Noise
from core.progress import Progress
from core.spec import SCHEDULER_LABELS, ExperimentSpec, short_repr
from core.workloads import WORKLOADS, fib_calls

# --- 4 · break-even task size ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakEvenSpec:
    """A sweep of fib ``n``: ``tasks`` × fib(n) on sync and on each process engine, at every n.

    ``processes`` starts a new pool for every compute (Dask's default) with chunksize 1;
    cluster engines use a running LocalCluster (its one-time start is reported, not timed in).
    """

    sizes: tuple[int, ...] = (18, 21, 24, 27, 30)
    tasks: int = 4
    workers: int = 2
    repeats: int = 2
    engines: tuple[str, ...] = ("processes", "cluster-processes")

    def __post_init__(self) -> None:
        wl = WORKLOADS["fib"]
        low, high = int(wl.min_size), int(wl.max_size)
        sizes = (self.sizes,) if isinstance(self.sizes, int) else tuple(self.sizes)
        count_low, count_high = LIMITS["sizes"]
        if not count_low <= len(sizes) <= count_high or len(set(sizes)) != len(sizes):
            raise ValueError(
                f"sizes must be {count_low} to {count_high} distinct fib n values (got {short_repr(sizes)})"
            )
        for n in sizes:
            checked_int("sizes", n, (low, high))
        object.__setattr__(self, "sizes", tuple(sorted(sizes)))
        checked_int("tasks", self.tasks, LIMITS["fib_tasks"])
        checked_int("workers", self.workers)
        checked_int("repeats", self.repeats)
        object.__setattr__(self, "engines", checked_names("engines", self.engines, BREAK_EVEN_ENGINES))

    def experiment(self, scheduler: str, n: int) -> ExperimentSpec:
        """The run of ``scheduler`` at fib ``n`` (sync with one worker, processes with a new pool)."""
        return ExperimentSpec(workload="fib", size=n, tasks=self.tasks, scheduler=scheduler,  # type: ignore[arg-type]
                              workers=1 if scheduler == "sync" else self.workers, repeats=self.repeats, warmup=1)

    def experiments(self) -> list[ExperimentSpec]:
        """Every point of the sweep: sync and every engine at every n."""
        return [self.experiment(s, n) for n in self.sizes for s in ("sync", *self.engines)]

    @property
    def label(self) -> str:
        return f"overhead: break-even sweep fib {self.sizes[0]}..{self.sizes[-1]}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sizes": list(self.sizes), "engines": list(self.engines)}


def sweep_sizes(start: int, stop: int, step: int) -> tuple[int, ...]:
    """``range(start, stop + 1, step)`` as a tuple, always ending at ``stop`` (the sweep's largest n)."""
    if step < 1 or stop < start:
        raise ValueError(f"the sweep needs start ≤ stop and step ≥ 1 (got {start}..{stop} step {step})")
    sizes = list(range(start, stop + 1, step))
    if sizes[-1] != stop:
        sizes.append(stop)
    return tuple(sizes)


def break_even_cost(spec: BreakEvenSpec) -> Cost:
    """Rough cost of the sweep: every (n, engine) a point of interleaved rounds, each cluster started once."""
    return points_cost(spec.experiments(), spec.repeats, what="this break-even sweep", advice=ADVICE)


@dataclass(frozen=True)
class BreakEvenResult(StrictJson):
    """What :func:`measure_break_even` measured.

    Attributes
    ----------
    runs : DataFrame
        One row per engine, n and repeat: ``engine``, ``scheduler``, ``n``, ``repeat``, ``wall_s``,
        ``startup_s``, ``compute_s``, ``teardown_s``.
    summary : DataFrame
        One row per engine and n: median ``wall_s`` (min/max), ``sync_wall_s`` and ``speedup``
        (sync ÷ engine) and ``faster`` (median wall below sync's).
    crossings : DataFrame
        One row per parallel engine: ``break_even_n`` (the first n from which its median wall stays
        below sync's for the rest of the sweep, or null: "not within range"), ``first_faster_n``,
        ``extrapolated_n`` (when not within range: where the measured overhead and fib's growth say it
        would cross; an extrapolation, not a measurement), ``overhead_s`` and ``setup_s``.
    rounds : DataFrame
        When each (n, engine) point ran in each round (:class:`core.kinds.points.Points`).
    noise : Noise
        Other programs' CPU while it measured.
    """

    spec: BreakEvenSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    runs: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    crossings: pd.DataFrame = field(repr=False)
    rounds: pd.DataFrame = field(repr=False)
    noise: Noise

    def break_even_n(self, scheduler: str) -> int | None:
        """The measured break-even n of ``scheduler``, or None: not within the sweep's range."""
        row = self.crossings.loc[self.crossings["scheduler"] == scheduler]
        if row.empty:
            raise KeyError(f"{scheduler} was not in the sweep")
        value = row["break_even_n"].iloc[0]
        return None if pd.isna(value) else int(value)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "break_even", "run_id": self.run_id, "started_at": self.started_at,
                "spec": self.spec.to_dict(), "machine": self.machine.to_dict(),
                "crossings": records(self.crossings), "summary": records(self.summary),
                "runs": records(self.runs)}


    def metrics(self) -> list[tuple[str, str, str, str]]:
        out = []
        for row in self.crossings.itertuples():
            notes = []
            if pd.notna(row.extrapolated_n):
                notes.append(f"extrapolated: about n = {int(row.extrapolated_n)} (a model, not a measurement)")
            if pd.notna(row.overhead_s):
                notes.append(f"overhead at n = {self.spec.sizes[-1]}: {fmt_duration(row.overhead_s)} more than a"
                             f" perfect split over {row.lanes} lane(s)")
            value = f"wins from n = {int(row.break_even_n)}" if pd.notna(row.break_even_n) else "not within range"
            out.append((row.engine, value, " · ".join(notes), f"Slower than sync at every n in {row.sizes}."
                        if pd.isna(row.break_even_n) else "The first n from which it stays faster than sync."))
        return out

    def explain(self) -> list[str]:
        sync_rows = self.summary[self.summary["scheduler"] == "sync"].set_index("n")["wall_s"]
        last = self.spec.sizes[-1]
        task_s = float(sync_rows[last]) / self.spec.tasks
        out = [f"At n = {last} one fib task takes about {fmt_duration(task_s)} here (sync ÷ {self.spec.tasks} tasks)."]
        for row in self.crossings.itertuples():
            if pd.notna(row.break_even_n):
                out.append(f"{row.engine} beats sync from n = {int(row.break_even_n)}: from there on, splitting the"
                           f" work over {row.lanes} core(s) saves more than its overhead costs.")
            elif row.lanes <= 1:
                out.append(f"{row.engine} has one lane for pure-Python fib (one GIL, or one core): it cannot win.")
            else:
                guess = f" — about n = {int(row.extrapolated_n)} by extrapolation" if pd.notna(row.extrapolated_n) \
                    else ""
                out.append(f"{row.engine} did not beat sync up to n = {last}{guess}. At n = {last} it took"
                           f" {fmt_duration(row.overhead_s)} more than sync's time split perfectly over {row.lanes}"
                           " cores: that overhead has to be earned back by the split before it wins.")
        if "processes" in self.spec.engines:
            out.append("Rule of thumb: a fresh process pool pays off only when one compute holds more parallel work"
                       " than the pool's start-up (section 2). Keep a pool or a LocalCluster running and only the"
                       " per-compute and per-task costs (section 1) remain to be earned back.")
        return out

    def charts(self) -> list[tuple[str, Any]]:
        return [("Break-even", break_even_chart(self.summary, self.crossings))]

    def captions(self) -> dict[str, str]:
        return {"Break-even": "Median wall time per compute (log scale: equal steps are equal ratios); vertical bars:"
                              " fastest to slowest round. Dashed lines: the measured break-even n. Every n and engine"
                              " ran once in every round."}

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"crossings": self.crossings, "summary": self.summary, "runs": self.runs, "rounds": self.rounds}

    def text(self) -> str:
        return "\n".join([machine_line(self.machine), *break_even_lines(self.to_dict())])


def _lanes(spec: BreakEvenSpec, scheduler: str) -> int:
    """fib tasks that can really run at once: one per process (workers, capped by cores and tasks).

    Threads of one process share its GIL, so for pure-Python fib they are one lane however many.
    """
    if scheduler in ("threads", "cluster-threads"):
        return 1
    return max(1, min(spec.workers, machine_info().usable_cores, spec.tasks))


def extrapolate_break_even(
    sizes: Iterable[int], sync_wall_s: float, engine_wall_s: float, lanes: int, limit: int = 60
) -> tuple[int | None, float]:
    """Where an engine that loses at the sweep's largest n would start to win, and its fixed overhead.

    Model: sync's wall grows with fib's call count; the engine's wall = overhead + sync's ÷ ``lanes``.
    The overhead is read from the largest measured n. Returns ``(n or None, overhead_s)``; None when
    the engine cannot win (one lane: no parallelism to pay for its overhead).
    """
    n_last = max(sizes)
    overhead = engine_wall_s - sync_wall_s / lanes
    if lanes <= 1:
        return None, overhead
    for n in range(n_last + 1, limit + 1):
        sync_n = sync_wall_s * fib_calls(n) / fib_calls(n_last)
        if overhead + sync_n / lanes < sync_n:
            return n, overhead
    return None, overhead


def measure_break_even(
    spec: BreakEvenSpec,
    *,
    clusters: Any = None,
    progress: Progress | None = None,
    ctx: RunContext | None = None,
) -> BreakEvenResult:
    """Sweep fib n on sync and each parallel engine; find where each starts to beat sync.

    Every (n, engine) is a point of the same interleaved rounds (:mod:`core.kinds.points`): each round
    runs all of them once, in a rotated order, so a burst of load on the shared machine hits every
    engine and every n alike, and a crossing cannot come from the machine changing half-way.

    Parameters
    ----------
    spec : BreakEvenSpec
    clusters : ClusterSource, optional
        Where cluster engines find their running LocalCluster (see :func:`core.measure.run.run_experiment`).
    progress : callable, optional
        ``progress(message, fraction)`` during the rounds.
    ctx : RunContext, optional
        The run's context (overrides ``clusters`` and ``progress``).
    """
    ctx = ctx or RunContext(clusters=clusters, **({"progress": progress} if progress else {}))
    started_at, run_id = now_iso(), uuid.uuid4().hex[:8]
    experiments = spec.experiments()
    points: Points = measure_points(experiments, spec.repeats, ctx,
                                    labels=[f"{SCHEDULER_LABELS[e.scheduler]} · n = {int(e.size)}"
                                            for e in experiments])
    rows = []
    setup: dict[str, float] = {}
    for r in points.results:
        setup[r.spec.scheduler] = setup.get(r.spec.scheduler, 0.0) + r.setup_s
        frame = r.runs[["repeat", "wall_s", "startup_s", "compute_s", "teardown_s"]].assign(
            engine=SCHEDULER_LABELS[r.spec.scheduler], scheduler=r.spec.scheduler, n=int(r.spec.size))
        rows.append(frame)
    runs = pd.concat(rows, ignore_index=True)[["engine", "scheduler", "n", "repeat", "wall_s", "startup_s",
                                               "compute_s", "teardown_s"]]
    summary = (runs.groupby(["engine", "scheduler", "n"], sort=False)
               .agg(wall_s=("wall_s", "median"), wall_min_s=("wall_s", "min"), wall_max_s=("wall_s", "max"),
                    startup_s=("startup_s", "median"), compute_s=("compute_s", "median"))
               .reset_index())
    sync = summary[summary["scheduler"] == "sync"].set_index("n")["wall_s"]
    summary["sync_wall_s"] = summary["n"].map(sync)
    summary["speedup"] = summary["sync_wall_s"] / summary["wall_s"]
    summary["faster"] = summary["wall_s"] < summary["sync_wall_s"]
    crossings = []
    for scheduler in spec.engines:
        mine = summary[summary["scheduler"] == scheduler].sort_values("n")
        faster = mine["faster"].tolist()
        ns = mine["n"].tolist()
        first = next((n for n, f in zip(ns, faster, strict=True) if f), None)
        # The first n from which it stays faster: one noisy win below the real crossing is not it.
        stays = next((ns[i] for i in range(len(ns)) if all(faster[i:])), None)
        lanes = _lanes(spec, scheduler)
        extrapolated, overhead = extrapolate_break_even(spec.sizes, float(sync[ns[-1]]),
                                                        float(mine["wall_s"].iloc[-1]), lanes)
        if stays is not None:
            extrapolated = None  # measured: no need to guess
        crossings.append({"engine": SCHEDULER_LABELS[scheduler], "scheduler": scheduler, "break_even_n": stays,
                          "first_faster_n": first, "extrapolated_n": extrapolated,
                          "overhead_s": finite_or_none(overhead), "lanes": lanes, "setup_s": setup.get(scheduler, 0.0),
                          "sizes": f"{spec.sizes[0]}..{spec.sizes[-1]}"})
    crossings_frame = pd.DataFrame(crossings).astype({"break_even_n": "Int64", "first_faster_n": "Int64",
                                                      "extrapolated_n": "Int64"})
    return BreakEvenResult(spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at,
                           runs=runs, summary=summary, crossings=crossings_frame, rounds=points.rounds,
                           noise=points.noise)




# --- the chart -------------------------------------------------------------------------------------

_BREAK_EVEN_COLUMNS = ["engine", "n", "wall_s", "wall_min_s", "wall_max_s"]


def break_even_chart(summary: pd.DataFrame, crossings: pd.DataFrame | None = None, title: str | None = None) -> Any:
    """Wall time against task size (fib n) for sync and the parallel engines, with where each starts to win.

    Parameters
    ----------
    summary : pandas.DataFrame
        One row per engine and n (:attr:`BreakEvenResult.summary`): ``engine``, ``n``, ``wall_s``
        (median), ``wall_min_s``, ``wall_max_s``; ``speedup`` joins the tooltip.
    crossings : pandas.DataFrame, optional
        ``engine`` and ``break_even_n`` (null: not within range): a dashed vertical ``rule`` in the
        engine's colour marks each measured crossing, labelled "<engine> wins from n = N".
    title : str, optional
        Chart title; none by default.

    Returns
    -------
    altair.LayerChart
        ``line`` + ``point`` per engine (median wall, log y), a ``rule`` from min to max per point, and
        the crossing rules and their ``text``. Width follows the container.

    Raises
    ------
    ValueError
        If ``summary`` is empty or lacks a column.
    """
    import altair as alt

    from core.report.palette import by_engine, engine_scale, require

    data, order = by_engine(summary, _BREAK_EVEN_COLUMNS, "break-even summary")
    data["text"] = data["wall_s"].map(fmt_duration)
    domain = log_domain([*data["wall_min_s"], *data["wall_max_s"]])
    y_title = "Median wall time (log scale)"
    y_scale = alt.Scale(type="log", domain=domain, nice=False)
    y_axis = alt.Axis(values=log_ticks(domain), labelExpr=(
        "datum.value >= 1 ? format(datum.value, '~g') + ' s' : format(datum.value * 1000, '~g') + ' ms'"))
    n_values = sorted(int(n) for n in data["n"].unique())
    x = alt.X("n:Q", title="fib n of each task (work grows ~1.6× per step)",
              scale=alt.Scale(domain=[n_values[0] - 0.5, n_values[-1] + 0.5], nice=False, zero=False),
              axis=alt.Axis(values=n_values, format="d"))
    color = alt.Color("engine:N", scale=engine_scale(order),
                      legend=alt.Legend(title=None, orient="bottom", labelLimit=320))
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("n:Q", title="fib n"),
               alt.Tooltip("text:N", title="Median wall"),
               alt.Tooltip("wall_min_s:Q", title="Fastest (s)", format=".3~g"),
               alt.Tooltip("wall_max_s:Q", title="Slowest (s)", format=".3~g")]
    if "speedup" in data:
        tooltip.append(alt.Tooltip("speedup:Q", title="Speed-up over sync (×)", format=".2~f"))
    base = alt.Chart(data)
    y = alt.Y("wall_s:Q", title=y_title, scale=y_scale, axis=y_axis)
    layers: list[Any] = [
        base.mark_line(strokeWidth=2).encode(x=x, y=y, color=color, detail="engine:N"),
        base.mark_rule(strokeWidth=1.5).encode(x=x, y=alt.Y("wall_min_s:Q", title=y_title, scale=y_scale),
                                               y2="wall_max_s:Q", color=color, tooltip=tooltip),
        base.mark_point(filled=True, size=60).encode(x=x, y=y, color=color, tooltip=tooltip),
    ]
    if crossings is not None:
        require(crossings, ["engine", "break_even_n"], "crossings")
        marks = crossings.dropna(subset=["break_even_n"])[["engine", "break_even_n"]].copy()
        marks["engine"] = marks["engine"].astype(str)
        marks = marks[marks["engine"].isin(order)]
        if not marks.empty:
            marks["n"] = marks["break_even_n"].astype(float)
            marks["label"] = marks["engine"] + " wins from n = " + marks["break_even_n"].astype(int).astype(str)
            # Labels stack down from the top of the plot, one line each, so crossings at one n stay readable.
            marks["label_y"] = [domain[1] / 1.9 ** row for row in range(len(marks))]
            mark_tooltip = [alt.Tooltip("label:N", title="Break-even")]
            ref = alt.Chart(marks)
            text = {"align": "right", "baseline": "top", "dx": -4, "dy": 2, "fontWeight": "bold"}
            y_text = alt.Y("label_y:Q", title=y_title, scale=y_scale)
            layers += [
                ref.mark_rule(strokeDash=[6, 4], strokeWidth=2).encode(x=x, color=color, tooltip=mark_tooltip),
                ref.mark_text(**text, stroke="white", strokeWidth=4, strokeJoin="round").encode(
                    x=x, y=y_text, text="label:N", tooltip=mark_tooltip),
                ref.mark_text(**text).encode(x=x, y=y_text, text="label:N", color=color, tooltip=mark_tooltip),
            ]
    chart = alt.layer(*layers).properties(width="container", height=340)
    return chart.properties(title=title) if title else chart


def break_even_lines(be: dict[str, Any]) -> list[str]:
    lines = [f"break-even: {be['spec']['tasks']} × fib(n), n = {', '.join(map(str, be['spec']['sizes']))}:"]
    for row in be["crossings"]:
        if row["break_even_n"] is not None:
            where = f"beats sync from n = {row['break_even_n']}"
        else:
            guess = row["extrapolated_n"]
            where = "not within range" + (f" (extrapolated: about n = {guess})" if guess is not None else "")
        lines.append(f"  {row['engine']}: {where}")
    return lines
