"""The comparison's result: JSON both ways, frames, the terminal's text, the live table and metrics.

The sentences are :mod:`core.kinds.compare.words`' and the charts :mod:`core.kinds.compare.charts`'; what
they all say comes from the verdicts (:mod:`core.kinds.compare.verdicts`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd

from core.fmt import ms as _ms
from core.fmt import times as _fmt_x
from core.fmt import times_range
from core.kinds.base import strict_json
from core.kinds.compare.charts import runtime_ci_chart, speedup_ci_chart
from core.kinds.compare.spec import Arm, CompareSpec
from core.kinds.compare.verdicts import Verdict, arm_cores, ideal_wall
from core.kinds.compare.words import explain_comparison
from core.measure.machine import MachineInfo
from core.measure.noise import Noise
from core.measure.results import ExperimentResult, ResultBase, combine
from core.measure.stats import (
    CONFIDENCE,
    MAX_ROUNDS,
)
from core.report.explain import cluster_line
from core.workloads import FUNCTION


@dataclass(frozen=True)
class ComparisonResult(ResultBase):
    """One comparison, measured together.

    Attributes
    ----------
    spec : CompareSpec
    machine : MachineInfo
    run_id, started_at : str
    arms : tuple of ExperimentResult
        One per arm, in the spec's order, each round one of its repeats (as ``run --json`` gives it).
    verdicts : tuple of Verdict
        One per arm after the baseline.
    pair_verdicts : tuple of Verdict
        One per pair of ``spec.pairs`` (a against b, from the rounds both ran): the page's own question.
    rounds : int
        Measured rounds (the warm-up round not counted).
    stop : str
        Why the rounds ended: ``rounds`` (a fixed count), ``decided``, ``budget`` or ``max-rounds``;
        ``running`` in a live, partial result.
    wall_s : float
        The whole comparison: start-ups, warm-up and rounds.
    warmup_s : float
    noise : Noise
        Other programs' CPU during the measured runs.
    round_noise : tuple of tuple of float
        ``round_noise[r][k]``: other programs' cores while arm ``k`` ran in round ``r``.
    task_floor_s : float
        The shortest a task can take here (see the module docstring); NaN where it means nothing.
    ideal_s : float
        Best possible wall time of any arm: ``ceil(tasks / min(lanes, cores)) × task_floor_s`` for the widest
        arm, where an external cluster's cores are its threads.
    trial : dict or None
        Your own function's trial call (:class:`core.userfunc.Probe`), None for the lab's workloads.
    """

    spec: CompareSpec
    machine: MachineInfo
    run_id: str
    started_at: str
    arms: tuple[ExperimentResult, ...] = field(repr=False)
    verdicts: tuple[Verdict, ...]
    rounds: int
    stop: str
    wall_s: float
    warmup_s: float
    noise: Noise
    round_noise: tuple[tuple[float, ...], ...] = field(repr=False)
    task_floor_s: float
    ideal_s: float
    trial: dict[str, Any] | None = field(default=None, repr=False)
    pair_verdicts: tuple[Verdict, ...] = ()

    kind: ClassVar[str] = "compare"
    has_verdicts: ClassVar[bool] = True

    @property
    def complete(self) -> bool:
        return self.stop != "running"

    @property
    def labels(self) -> list[str]:
        return [a.label for a in self.spec.arms]

    def verdict(self, label_or_scheduler: str) -> Verdict:
        """The verdict of the arm with this label (or, if unique, this scheduler)."""
        found = [v for v in self.verdicts if v.label == label_or_scheduler]
        found = found or [v for v in self.verdicts if v.scheduler == label_or_scheduler]
        if len(found) != 1:
            raise KeyError(f"no single arm {label_or_scheduler!r} (arms: {', '.join(self.labels[1:])})")
        return found[0]

    def ideal_for(self, arm: ExperimentResult) -> float:
        """The honest best wall time for ``arm``'s lanes on this machine (NaN where it means nothing)."""
        lanes = int(arm.runs["lanes"].iloc[0])
        return ideal_wall(self.spec, lanes, arm_cores(arm.spec.scheduler, lanes, self.machine.usable_cores),
                      self.task_floor_s)

    # -- frames -------------------------------------------------------------------------------------

    def frames(self) -> dict[str, pd.DataFrame]:
        """``runs`` and ``tasks`` of every arm (``engine`` = the arm's label), ``verdicts`` and ``rounds``."""
        runs, tasks = combine(list(self.arms), self.labels)
        verdicts = pd.DataFrame([{**v.to_dict(), "ci_low": v.ci[0], "ci_high": v.ci[1]} for v in self.verdicts])
        if not verdicts.empty:
            verdicts = verdicts.drop(columns=["ci", "spec"])
        rows = []
        for k, (label, arm) in enumerate(zip(self.labels, self.arms, strict=True)):
            for r, wall in enumerate(arm.runs["wall_s"]):
                rows.append({"round": r, "engine": label, "scheduler": arm.spec.scheduler, "wall_s": float(wall),
                             "other_cores": self.round_noise[r][k] if r < len(self.round_noise) else math.nan})
        return {"runs": runs, "tasks": tasks, "verdicts": verdicts, "rounds": pd.DataFrame(rows)}

    # -- JSON ---------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The ``compare --json`` object (see README): spec, machine, noise, arms, verdicts and more."""
        return {
            "kind": "compare",
            "run_id": self.run_id,
            "started_at": self.started_at,
            "workload": self.spec.workload,
            "size": self.spec.size,
            "tasks": self.spec.tasks,
            "baseline": self.labels[0],
            "wall_s": self.wall_s,
            "warmup_s": self.warmup_s,
            "rounds": self.rounds,
            "stop": self.stop,
            "complete": self.complete,
            "band": self.spec.band,
            "confidence": CONFIDENCE,
            "noise": self.noise.to_dict(),
            "task_floor_s": self.task_floor_s,
            "ideal_s": self.ideal_s,
            "spec": self.spec.to_dict(),
            "machine": self.machine.to_dict(),
            "arms": [{"label": label, **arm.to_dict()} for label, arm in zip(self.labels, self.arms, strict=True)],
            "pairs": [v.to_dict() for v in self.pair_verdicts],
            "verdicts": [v.to_dict() for v in self.verdicts],
            **self._advice_fields(),
        }

    def _advice_fields(self) -> dict[str, Any]:
        """``advice`` (every comparison), and ``function`` (the call, its trial, each arm's value) for your own."""
        from core.report.advice import advise, function_summary

        out: dict[str, Any] = {"advice": advise(self).to_dict()}
        if self.spec.workload == FUNCTION:
            out["function"] = function_summary(self)
        return out

    def to_json(self, indent: int | None = None) -> str:
        return strict_json(self.to_dict(), indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComparisonResult:
        """The comparison a ``compare --json`` object (:meth:`to_dict`) describes: to quote it elsewhere (exports).

        JSON's nulls come back as NaN; ``round_noise`` is not in the JSON and comes back empty. Raises
        ``ValueError`` for anything that is not a complete comparison.
        """
        try:
            if data.get("kind") != "compare" or not data.get("complete"):
                raise ValueError("it is not a complete comparison (kind 'compare', complete true)")
            raw = dict(data["spec"])
            spec = CompareSpec(**{**raw, "arms": tuple(Arm(**a) for a in raw["arms"]),
                                  "pairs": tuple(tuple(p) for p in raw.get("pairs", ()))})
            noise = {k: float_or_nan(v) if k != "cores" else int(v) for k, v in data["noise"].items() if k != "busy"}
            numbers = ("speedup", "other_cores", "cores_used", "efficiency")
            def verdict(v: dict[str, Any]) -> Verdict:
                # Older JSON has no bound (nor pairs), and the old band verdicts' names.
                bound = v.get("bound")
                return Verdict(**{**v, "ci": (float_or_nan(v["ci"][0]), float_or_nan(v["ci"][1])),
                                  "bound": None if bound is None else float(bound),
                                  **{k: float_or_nan(v[k]) for k in numbers}})

            verdicts = tuple(verdict(v) for v in data["verdicts"])
            pair_verdicts = tuple(verdict(v) for v in data.get("pairs", ()))
            return cls(
                spec=spec, machine=MachineInfo(**data["machine"]), run_id=str(data["run_id"]),
                started_at=str(data["started_at"]), arms=tuple(ExperimentResult.from_dict(a) for a in data["arms"]),
                verdicts=verdicts, rounds=int(data["rounds"]), stop=str(data["stop"]), wall_s=float(data["wall_s"]),
                warmup_s=float(data["warmup_s"]), noise=Noise(**noise), round_noise=(),
                task_floor_s=float_or_nan(data["task_floor_s"]), ideal_s=float_or_nan(data["ideal_s"]),
                pair_verdicts=pair_verdicts,
            )
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"not a compare --json object ({type(exc).__name__}: {exc})") from None

    # -- words, charts, terminal -------------------------------------------------------------------

    def explain(self) -> list[str]:
        return explain_comparison(self)

    def charts(self) -> list[tuple[str, Any]]:
        """Titled Altair charts: speed-up with intervals, runtime, timeline, CPU share."""
        from core.report import charts

        out: list[tuple[str, Any]] = [("Speed-up", speedup_ci_chart(self))]
        runs, tasks = combine(list(self.arms), self.labels)
        out.append(("Runtime", runtime_ci_chart(self)))
        out.append(("Timeline", charts.timeline_chart(tasks, runs)))
        out.append(("CPU share", charts.cpu_share_chart(tasks)))
        return out

    def metrics(self) -> list[tuple[str, str, str, str]]:
        """``(label, value, note, help)`` per arm: its median round, its verdict and the CPU it really got."""
        out = []
        cores = self.machine.usable_cores
        for k, (label, arm) in enumerate(zip(self.labels, self.arms, strict=True)):
            value = _ms(arm.wall_s)
            lanes = int(arm.runs["lanes"].iloc[0])
            util = arm.cpu_utilization
            ceiling = min(lanes, cores) / lanes
            cpu = (f"CPU used {util:.0%} of {lanes} lane{'s' if lanes > 1 else ''}"
                   + (f" (at most {ceiling:.0%} here)" if ceiling < 1 else "")) if math.isfinite(util) else ""
            if k == 0:
                note = f"baseline · {cpu}" if cpu else "baseline"
            else:
                v = self.verdicts[k - 1]
                note = f"**{v.claim}** ({_fmt_x(v.speedup)})" + (f" · {cpu}" if cpu else "")
            help_text = (f"Median wall time of {arm.spec.repeats} round(s): fastest {_ms(arm.wall_min_s)}, slowest"
                         f" {_ms(arm.wall_max_s)}. CPU used = task CPU ÷ (compute time × lanes): it cannot tell a"
                         " wait for the GIL from a sleep or a busy core; the GIL trace page can.")
            out.append((label, value, note, help_text))
        return out

    def warnings(self) -> list[str]:
        """Every arm's engine warnings (one line each), prefixed with the arm's label."""
        return [f"{label}: {w}" for label, arm in zip(self.labels, self.arms, strict=True) for w in arm.warnings()]

    def live_chart(self) -> Any:
        """The chart a live view redraws as rounds arrive: the speed-ups with their intervals."""
        return speedup_ci_chart(self)

    def live_table(self) -> pd.DataFrame:
        """One row per arm: median wall, speedup, interval and verdict (what a live view shows each round)."""
        arms = dict(zip(self.labels, self.arms, strict=True))

        def row(v: Verdict, engine: str) -> dict[str, Any]:
            lo, hi = v.ci
            return {"engine": engine, "median_s": float(arms[v.label].wall_s), "speedup": v.speedup,
                    "95% CI": times_range(lo, hi) if math.isfinite(hi) and lo > 0 else "(≥ 6 rounds)",
                    "verdict": v.claim}

        # The page's own question first: the pairs it teaches, then every arm against the baseline.
        rows = [row(v, f"{v.label} vs {v.against}") for v in self.pair_verdicts]
        rows.append({"engine": self.labels[0], "median_s": float(self.arms[0].wall_s), "speedup": 1.0,
                     "95% CI": "baseline", "verdict": ""})
        rows += [row(v, v.label) for v in self.verdicts]
        return pd.DataFrame(rows)

    def progress_line(self) -> str:
        """One line per round for a terminal: each arm's time this round and its verdict so far."""
        parts = []
        for k, (label, arm) in enumerate(zip(self.labels, self.arms, strict=True)):
            if len(arm.runs) < self.rounds:  # settled at a look: it no longer runs
                parts.append(f"{label} settled after {len(arm.runs)} rounds ({self.verdicts[k - 1].describe()})")
                continue
            wall = float(arm.runs["wall_s"].iloc[-1])
            text = f"{label} {wall:.3f} s"
            if k:
                text += f" ({self.verdicts[k - 1].describe()})"
            parts.append(text)
        return f"round {self.rounds}: " + " · ".join(parts)

    def text(self) -> str:
        """The terminal's report: what ran, where, the verdicts table and the sentences."""
        m = self.machine
        head = [
            f"compare: {self.spec.label}   [run {self.run_id}]",
            f"machine: {m.usable_cores} usable of {m.logical_cores} logical cores · Python {m.python_version}"
            f" (GIL {m.gil_label}) · dask {m.dask_version} · distributed {m.distributed_version}",
            f"{self.rounds} round(s) after a warm-up round, {stop_words(self.stop, self.spec)}; whole comparison"
            f" {self.wall_s:.2f} s · {self.noise.describe()}",
            "",
        ]
        rows = []
        for k, (label, arm) in enumerate(zip(self.labels, self.arms, strict=True)):
            v = self.verdicts[k - 1] if k else None
            rows.append({
                "arm": label + (" (baseline)" if k == 0 else ""),
                "median_wall_s": f"{arm.wall_s:.3f}",
                "speedup": _fmt_x(v.speedup) if v else "1×",
                "95%_ci": times_range(v.ci[0], v.ci[1]) if v and math.isfinite(v.ci[1]) else "",
                "verdict": (v.claim + (" (busy)" if v.busy else "")) if v else "",
                "cpu_used": f"{arm.cpu_utilization:.0%}" if math.isfinite(arm.cpu_utilization) else "n/a",
            })
        table = pd.DataFrame(rows).to_string(index=False)
        if self.pair_verdicts:
            pairs = pd.DataFrame([{
                "pair": f"{v.label} vs {v.against}", "speedup": _fmt_x(v.speedup),
                "95%_ci": times_range(v.ci[0], v.ci[1]) if math.isfinite(v.ci[1]) and v.ci[0] > 0 else "",
                "verdict": v.claim + (" (busy)" if v.busy else ""), "rounds": v.rounds} for v in self.pair_verdicts])
            table = pairs.to_string(index=False) + "\n\n" + table
        clusters = [f"cluster ({label}): {line}" for label, arm in zip(self.labels, self.arms, strict=True)
                    if (line := cluster_line(arm.engine))]
        return "\n".join([*head, *clusters, *([""] if clusters else []), table, "",
                          *[s.replace("**", "") for s in self.explain()]])


def float_or_nan(value: Any) -> float:
    """A JSON number, its null as NaN."""
    return math.nan if value is None else float(value)


def stop_words(stop: str, spec: CompareSpec) -> str:
    return {
        "rounds": f"as asked ({spec.rounds} rounds)",
        "decided": "stopped when every verdict was decided",
        "budget": f"stopped at the time budget ({spec.budget_s:g} s; twice that on a busy machine)",
        "max-rounds": f"stopped at the {MAX_ROUNDS}-round limit",
        "running": "still running",
    }.get(stop, stop)


