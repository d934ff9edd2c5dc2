"""The comparison: the same tasks on several engines (arms), measured together, decided with confidence.

This is the lab's main kind of measurement: every experiment page, the presets, the ``compare`` verb
and the benches use it. The arms are measured in interleaved rounds (:mod:`core.measure.rounds`), so
they saw the same machine; every arm is compared with the first one (the baseline, usually ``sync``)
round by round; the paired speedups give a point estimate, a 95 % interval and a verdict
(:mod:`core.measure.stats`): ``faster``, ``not-faster``, ``same``, ``not-slower``, ``slower`` or
``undecided``, with the bound the claim states. Besides, the pairs a page teaches (``CompareSpec.pairs``:
processes against threads, say) get verdicts of their own from the same rounds (``pair_verdicts``), and
they come first wherever the comparison is shown: they answer the page's own question. What is shown, said and
written to JSON all come from those verdicts, so the sentence under a chart can never claim more than
the interval supports.

Two more guards against a wrong lesson:

* **A busy machine.** Other programs' CPU is read between runs (:mod:`core.measure.noise`). A ``same``,
  ``not-faster`` or ``slower`` verdict for a parallel arm while they took a quarter core or more is what a busy
  machine produces whatever the code does (they took the CPU its lanes could have used), so it is
  shown as ``undecided`` with that reason. Only pure-Python work on threads that share one GIL, which
  can use one core at most anyway, keeps its ``same`` (unless it used all the CPU left to it).
* **An honest ideal.** The best possible wall time is built from the *shortest* task anyone measured
  (the lowest per-task CPU time of any arm; a sleep's own length): no arm can beat it, and an
  efficiency above 1 is reported as a measurement problem.
"""

from __future__ import annotations

import argparse
import math
import re
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal

import pandas as pd

from core.kinds.base import RunContext, strict_json
from core.kinds.run import add_function_arguments, function_deadline, function_fields
from core.measure.estimate import Cost, estimate
from core.measure.machine import MachineInfo, machine_info
from core.measure.noise import BUSY_CORES, Noise
from core.measure.results import ExperimentResult, combine
from core.measure.spec import (
    CHUNKSIZE_SCHEDULERS,
    CLUSTER_SCHEDULERS,
    DISTRIBUTED_SCHEDULERS,
    ONE_GIL_SCHEDULERS,
    POOL_SCHEDULERS,
    PROCESS_POOL_SCHEDULERS,
    PROCESS_SCHEDULERS,
    SCHEDULER_LABELS,
    SCHEDULERS,
    UNCANCELLABLE_SCHEDULERS,
    ExperimentSpec,
    check_int,
    short_repr,
)
from core.measure.stats import (
    BUSY_BUDGET_FACTOR,
    CONFIDENCE,
    DEFAULT_BAND,
    FEWEST_AUTO_ROUNDS,
    MAX_ROUNDS,
    SETTLED,
    Interval,
    VerdictName,
    claim_bound,
    claim_words,
    classify,
    paired_ratios,
    ratio_interval,
    undecided_reason,
)
from core.report.explain import cluster_line
from core.workloads import FUNCTION, WORKLOADS, workload_info

Rounds = int | Literal["auto"]

DEFAULT_BUDGET_S = 3.0  # adaptive rounds: the whole comparison within about this (app setting: compare_seconds)
MAX_ARMS = 12  # room for every engine side by side: Dask's five and the five beyond Dask, plus a shape or two
FUNCTION_ENGINES = "sync,futures-threads:4,futures-processes:4"  # --function's default arms (warm pools)
EFFICIENCY_TOLERANCE = 1.05  # an efficiency above this is a measurement problem, not a success

_ARM = re.compile(r"^(?P<engine>[a-z-]+)(?:@(?P<python>3\.\d{1,2}t?))?"
                  r"(?::(?P<workers>\d{1,3})(?:x(?P<threads>\d{1,3}))?)?$", re.ASCII)


# --- the spec ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arm:
    """One engine of a comparison, in a given shape.

    Parameters
    ----------
    engine : str
        A scheduler name of :data:`core.measure.spec.SCHEDULERS` (``sync``, ``threads``, …).
    workers, threads_per_worker : int
        As in :class:`~core.measure.spec.ExperimentSpec` (``sync`` has one worker).
    chunksize, reuse_pool : int, bool
        Tasks per submission (the engines that batch them, see ``ExperimentSpec.chunksize``), and, for the
        local process pools, one warm pool for every round instead of a new pool on every compute.
    address : str, optional
        ``external`` only: the scheduler of an existing cluster.
    ship_code : bool
        Distributed engines: send the task code by value in every graph (default), or, ``False``, let
        the cluster import the lab itself (see :mod:`core.engines.shipping`).
    python : str, optional
        ``sync``, ``threads``, ``interpreters`` on another interpreter of the machine (``"3.13"``, ``"3.13t"``),
        in a warm child process of it (see ``ExperimentSpec.python``); written ``interpreters@3.13:2``.
    label : str
        What the page, the charts and the JSON call the arm; derived from the shape when empty.
    """

    engine: str
    workers: int = 1
    threads_per_worker: int = 1
    chunksize: int = 1
    reuse_pool: bool = False
    address: str | None = None
    label: str = ""
    ship_code: bool = True
    python: str | None = None  # another interpreter of the machine (ExperimentSpec.python), e.g. "3.13"

    def __post_init__(self) -> None:
        if not isinstance(self.engine, str) or self.engine not in SCHEDULERS:
            raise ValueError(f"engine must be one of {', '.join(SCHEDULERS)} (got {short_repr(self.engine)})")
        if not isinstance(self.label, str) or len(self.label) > 60:
            raise ValueError(f"an arm's label must be text of at most 60 characters (got {short_repr(self.label)})")
        if not self.label:
            object.__setattr__(self, "label", self.default_label())

    def default_label(self) -> str:
        """``sync``, ``threads ×4``, ``processes ×4``, ``processes=False 1×4``, ``your cluster``, ``threads ×4 @3.13t``.
        """
        if self.python:
            name = "subinterpreters" if self.engine == "interpreters" else self.engine
            shape = "sync" if self.engine == "sync" else f"{name} ×{self.workers}"
            return f"{shape} @{self.python}"
        if self.engine == "interpreters":
            return f"subinterpreters ×{self.workers}"
        if self.engine == "sync":
            return "sync"
        if self.engine == "threads":
            return f"threads ×{self.workers}"
        if self.engine in PROCESS_POOL_SCHEDULERS:
            return f"{self.engine} ×{self.workers}" + ("" if self.reuse_pool else " (new pool each compute)")
        if self.engine in POOL_SCHEDULERS:
            return f"{self.engine} ×{self.workers}"
        if self.engine in CLUSTER_SCHEDULERS:
            kind = "False" if self.engine == "cluster-threads" else "True"
            return f"processes={kind} {self.workers}×{self.threads_per_worker}"
        return "your cluster"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_arm(text: str) -> Arm:
    """``ENGINE[@PYTHON][:WORKERS[xTHREADS]]`` → :class:`Arm`: ``sync``, ``threads:4``, ``cluster-threads:1x4``,
    ``interpreters@3.13:2`` (on another interpreter of the machine, see ``ExperimentSpec.python``).

    Raises ``ValueError`` naming the part that is wrong.
    """
    raw = str(text).strip()
    m = _ARM.fullmatch(raw)
    if not m:
        raise ValueError(f"an engine must look like ENGINE[:WORKERS[xTHREADS]], e.g. threads:4 or"
                         f" cluster-threads:1x4 (got {short_repr(raw)})")
    engine = m["engine"]
    if engine not in SCHEDULERS:
        raise ValueError(f"unknown engine {short_repr(engine)}: use one of {', '.join(SCHEDULERS)}")
    workers = int(m["workers"]) if m["workers"] else (1 if engine in ("sync", "external") else 4)
    threads = int(m["threads"]) if m["threads"] else 1
    if engine == "sync" and (workers != 1 or threads != 1):
        raise ValueError(f"sync runs on one thread: write it as plain 'sync' (got {short_repr(raw)})")
    if m["threads"] and engine not in CLUSTER_SCHEDULERS:
        raise ValueError("WORKERSxTHREADS only applies to cluster-threads and cluster-processes"
                         f" (got {short_repr(raw)})")
    return Arm(engine=engine, workers=workers, threads_per_worker=threads, python=m["python"])


def parse_arms(text: str) -> tuple[Arm, ...]:
    """A comma-separated list of :func:`parse_arm` (the baseline first)."""
    parts = [p.strip() for p in str(text).split(",")]
    if not parts or any(not p for p in parts):
        raise ValueError(f"engines must be a comma-separated list, e.g. sync,threads:4,processes:4"
                         f" (got {short_repr(text)})")
    return tuple(parse_arm(p) for p in parts)


@dataclass(frozen=True)
class CompareSpec:
    """What to compare: ``tasks`` tasks of ``workload`` at ``size``, on every arm, in rounds.

    Parameters
    ----------
    workload, size, tasks : str, float, int
        As in :class:`~core.measure.spec.ExperimentSpec`; the same for every arm.
    arms : tuple of Arm
        The engines, the baseline first (2 to 12 arms, distinct labels).
    rounds : int or "auto"
        Measured rounds after one warm-up round; ``"auto"`` adds rounds (at least 3) until every
        verdict is decided or ``budget_s`` is spent.
    budget_s : float
        Adaptive rounds: no round starts that would end more than this many seconds after the warm-up
        began (one-time start-ups of pools and clusters come on top).
    band : float
        Speedups within 1/(1 + band) … 1 + band count as ``same``.
    blas_threads : int or None
        BLAS threads inside ``numpy-matmul`` tasks (1 by default: the engines' parallelism, not BLAS's).
    function, function_args, function_kwargs : str
        ``workload="function"``: your own function and its JSON arguments (see ``ExperimentSpec``).
    pairs : tuple of (str, str)
        The pairs of arms the page teaches, by label: ``(a, b)`` decides a's speedup over b from the rounds
        both ran (processes against threads, say), besides every arm against the baseline. Empty by default.
    """

    workload: str = "fib"
    size: float = 27
    tasks: int = 4
    arms: tuple[Arm, ...] = (Arm("sync"), Arm("threads", 4), Arm("processes", 4, reuse_pool=True))
    rounds: Rounds = "auto"
    budget_s: float = DEFAULT_BUDGET_S
    band: float = DEFAULT_BAND
    blas_threads: int | None = 1
    function: str | None = None
    function_args: str = "[]"
    function_kwargs: str = "{}"
    pairs: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        arms = tuple(self.arms) if isinstance(self.arms, (list, tuple)) else self.arms
        if not isinstance(arms, tuple) or not all(isinstance(a, Arm) for a in arms):
            raise ValueError(f"arms must be a list of Arm (got {short_repr(self.arms)})")
        object.__setattr__(self, "arms", arms)
        if not 2 <= len(arms) <= MAX_ARMS:
            raise ValueError(f"a comparison needs 2 to {MAX_ARMS} engines, the baseline first (got {len(arms)})")
        labels = [a.label for a in arms]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"two engines have the same label {dupes[0]!r}: give one of them another shape or label")
        if not isinstance(self.pairs, (list, tuple)) or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)
                for p in self.pairs):
            raise ValueError(f"pairs must be a list of (label, label) (got {short_repr(self.pairs)})")
        pairs = tuple((str(a), str(b)) for a, b in self.pairs)
        for a, b in pairs:
            missing = [x for x in (a, b) if x not in labels]
            if missing:
                raise ValueError(f"a pair names no engine of the comparison: {missing[0]!r}"
                                 f" (engines: {', '.join(labels)})")
            if a == b:
                raise ValueError(f"a pair needs two different engines (got {a!r} twice)")
        if len(set(pairs)) != len(pairs):
            raise ValueError("a pair is given twice")
        object.__setattr__(self, "pairs", pairs)
        if self.rounds != "auto":
            check_int("rounds", self.rounds, (1, MAX_ROUNDS))
        for name, low, high in (("budget_s", 0.5, 3600.0), ("band", 0.01, 0.5)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"{name} must be a number from {low:g} to {high:g} (got {short_repr(value)})")
            object.__setattr__(self, name, float(value))
        loky = {a.workers for a in arms if a.engine == "joblib-loky"}
        if len(loky) > 1:
            raise ValueError("a comparison can hold one joblib-loky size only: loky keeps one pool per process,"
                             f" and {len(loky)} sizes would restart it every round")
        specs = [self.experiment(a) for a in arms]  # validates workload, size, tasks, the function and every shape
        for name in ("size", "function_args", "function_kwargs"):  # as normalised (canonical JSON for arguments)
            object.__setattr__(self, name, getattr(specs[0], name))

    def experiment(self, arm: Arm) -> ExperimentSpec:
        """The one-engine spec of ``arm`` (one repeat: the rounds decide how many)."""
        return ExperimentSpec(
            workload=self.workload, size=self.size, tasks=self.tasks, scheduler=arm.engine,  # type: ignore[arg-type]
            workers=1 if arm.engine == "sync" else arm.workers, threads_per_worker=arm.threads_per_worker,
            repeats=1, warmup=0, chunksize=arm.chunksize, reuse_pool=arm.reuse_pool,
            blas_threads=self.blas_threads, address=arm.address, ship_code=arm.ship_code, function=self.function,
            function_args=self.function_args, function_kwargs=self.function_kwargs, python=arm.python,
        )

    def experiments(self) -> list[ExperimentSpec]:
        return [self.experiment(a) for a in self.arms]

    @property
    def baseline(self) -> Arm:
        return self.arms[0]

    @property
    def what(self) -> str:
        """What one task does: ``fib n = 27``, ``mymodule:crunch(30)`` (the same for every arm)."""
        return self.experiment(self.baseline).what

    @property
    def label(self) -> str:
        arms = ", ".join(a.label for a in self.arms)
        return f"{self.what} × {self.tasks} on {arms}"

    def pair_indices(self) -> list[tuple[int, int]]:
        """Each pair as arm indices ``(a, b)``: a's speedup over b."""
        labels = [a.label for a in self.arms]
        return [(labels.index(a), labels.index(b)) for a, b in self.pairs]

    def replace(self, **changes: Any) -> CompareSpec:
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"unknown comparison field(s): {', '.join(map(short_repr, unknown))}")
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = {"workload": self.workload, "size": self.size, "tasks": self.tasks,
               "arms": [a.to_dict() for a in self.arms], "rounds": self.rounds, "budget_s": self.budget_s,
               "band": self.band, "blas_threads": self.blas_threads, "pairs": [list(p) for p in self.pairs]}
        if self.workload == FUNCTION:
            out.update(function=self.function, function_args=self.function_args,
                       function_kwargs=self.function_kwargs)
        return out


# --- the result --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the rounds say about one arm against the baseline (or, in a pair, against ``against``).

    ``speedup`` is the Hodges–Lehmann estimate of the per-round ratios baseline ÷ arm (> 1: the arm was
    faster), ``ci`` its 95 % interval, ``verdict`` the claim its one-sided bounds support and ``bound``
    the bound that claim states (``faster``/``not-slower``: at least ``bound``×; ``slower``/``not-faster``:
    at most ``bound``×; None for ``same`` and ``undecided``), ``reason`` why an ``undecided`` one
    decides nothing (and what would help). ``against`` is empty for a verdict against the baseline.
    ``busy`` says other programs took at least :data:`core.measure.noise.BUSY_CORES` cores while this arm
    ran; ``cores_used`` is the CPU its tasks really got (task CPU ÷ compute time), ``efficiency`` its wall
    against the honest ideal.
    """

    label: str
    scheduler: str
    spec: dict[str, Any]
    lanes: int
    verdict: VerdictName
    speedup: float
    ci: tuple[float, float]
    rounds: int
    reason: str
    busy: bool
    other_cores: float
    cores_used: float
    efficiency: float
    bound: float | None = None
    against: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = [self.ci[0], self.ci[1]]
        return out

    @property
    def claim(self) -> str:
        """The verdict with its bound: ``faster: at least 1.62×``, ``no faster: at most 0.98×``, ``about the same``."""
        return claim_words(self.verdict, self.bound)

    @property
    def helps(self) -> bool:
        """Whether the verdict says the arm is faster (the only claim that it helps)."""
        return self.verdict == "faster"

    @property
    def no_help(self) -> bool:
        """Whether the verdict says the arm does not help: ``not-faster``, ``same`` or ``slower``."""
        return self.verdict in ("not-faster", "same", "slower")

    def describe(self) -> str:
        """``faster: at least 1.62× (1.76×, 95 % CI 1.70–1.83)``."""
        lo, hi = self.ci
        interval = f"95 % CI {_fmt_x(lo)}–{_fmt_x(hi)}" if math.isfinite(hi) and lo > 0 else "no interval yet"
        return f"{self.claim} ({_fmt_x(self.speedup)}, {interval})"


@dataclass(frozen=True)
class ComparisonResult:
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
        return _ideal(self.spec, lanes, _arm_cores(arm.spec.scheduler, lanes, self.machine.usable_cores),
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
            noise = {k: _nan(v) if k != "cores" else int(v) for k, v in data["noise"].items() if k != "busy"}
            numbers = ("speedup", "other_cores", "cores_used", "efficiency")
            def verdict(v: dict[str, Any]) -> Verdict:
                # Older JSON has no bound (nor pairs), and the old band verdicts' names.
                bound = v.get("bound")
                return Verdict(**{**v, "ci": (_nan(v["ci"][0]), _nan(v["ci"][1])),
                                  "bound": None if bound is None else float(bound),
                                  **{k: _nan(v[k]) for k in numbers}})

            verdicts = tuple(verdict(v) for v in data["verdicts"])
            pair_verdicts = tuple(verdict(v) for v in data.get("pairs", ()))
            return cls(
                spec=spec, machine=MachineInfo(**data["machine"]), run_id=str(data["run_id"]),
                started_at=str(data["started_at"]), arms=tuple(ExperimentResult.from_dict(a) for a in data["arms"]),
                verdicts=verdicts, rounds=int(data["rounds"]), stop=str(data["stop"]), wall_s=float(data["wall_s"]),
                warmup_s=float(data["warmup_s"]), noise=Noise(**noise), round_noise=(),
                task_floor_s=_nan(data["task_floor_s"]), ideal_s=_nan(data["ideal_s"]), pair_verdicts=pair_verdicts,
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
                    "95% CI": f"{_fmt_x(lo)}–{_fmt_x(hi)}" if math.isfinite(hi) and lo > 0 else "(≥ 6 rounds)",
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
            f"{self.rounds} round(s) after a warm-up round, {_stop_words(self.stop, self.spec)}; whole comparison"
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
                "95%_ci": f"{_fmt_x(v.ci[0])}–{_fmt_x(v.ci[1])}" if v and math.isfinite(v.ci[1]) else "",
                "verdict": (v.claim + (" (busy)" if v.busy else "")) if v else "",
                "cpu_used": f"{arm.cpu_utilization:.0%}" if math.isfinite(arm.cpu_utilization) else "n/a",
            })
        table = pd.DataFrame(rows).to_string(index=False)
        if self.pair_verdicts:
            pairs = pd.DataFrame([{
                "pair": f"{v.label} vs {v.against}", "speedup": _fmt_x(v.speedup),
                "95%_ci": f"{_fmt_x(v.ci[0])}–{_fmt_x(v.ci[1])}" if math.isfinite(v.ci[1]) and v.ci[0] > 0 else "",
                "verdict": v.claim + (" (busy)" if v.busy else ""), "rounds": v.rounds} for v in self.pair_verdicts])
            table = pairs.to_string(index=False) + "\n\n" + table
        clusters = [f"cluster ({label}): {line}" for label, arm in zip(self.labels, self.arms, strict=True)
                    if (line := cluster_line(arm.engine))]
        return "\n".join([*head, *clusters, *([""] if clusters else []), table, "",
                          *[s.replace("**", "") for s in self.explain()]])


def _has_external(result: ComparisonResult) -> bool:
    return any(a.engine == "external" for a in result.spec.arms)


def _nan(value: Any) -> float:
    """A JSON number, its null as NaN."""
    return math.nan if value is None else float(value)


def _fmt_x(value: float) -> str:
    if not math.isfinite(value):
        return "∞" if value > 0 else "n/a"
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def _stop_words(stop: str, spec: CompareSpec) -> str:
    return {
        "rounds": f"as asked ({spec.rounds} rounds)",
        "decided": "stopped when every verdict was decided",
        "budget": f"stopped at the time budget ({spec.budget_s:g} s; twice that on a busy machine)",
        "max-rounds": f"stopped at the {MAX_ROUNDS}-round limit",
        "running": "still running",
    }.get(stop, stop)


# --- from rounds to verdicts ----------------------------------------------------------------------------


def _arm_cores(scheduler: str, lanes: int, cores: int) -> int:
    """The cores an arm's tasks can use: this machine's, or an external cluster's threads (its lanes)."""
    return lanes if scheduler == "external" else cores


def _ideal(spec: CompareSpec, lanes: int, cores: int, floor_s: float) -> float:
    wl = workload_info(spec.workload)
    if not math.isfinite(floor_s) or lanes < 1:
        return math.nan
    parallel = max(1, lanes if not wl.cpu_bound else min(lanes, cores))
    return math.ceil(spec.tasks / parallel) * floor_s


def verdicts_from(spec: CompareSpec, state: Any) -> tuple[Verdict, ...]:
    """One :class:`Verdict` per arm after the baseline, from a :class:`core.measure.rounds.RoundsState`.

    Works on the raw rounds (no frames are built), so adaptive rounds can ask after every round.
    """
    floor_all = task_floor(spec, state)  # once: it sorts every task of every arm, and this runs after every round
    return tuple(_verdict(spec, state, k, 0, floor_all) for k in range(1, len(spec.arms)))


def pair_verdicts_from(spec: CompareSpec, state: Any) -> tuple[Verdict, ...]:
    """One :class:`Verdict` per pair of ``spec.pairs`` (a's speedup over b), from the rounds both arms ran."""
    if not spec.pairs:
        return ()
    floor_all = task_floor(spec, state)
    return tuple(_verdict(spec, state, a, b, floor_all) for a, b in spec.pair_indices())


def _verdict(spec: CompareSpec, state: Any, k: int, j: int, floor_all: float) -> Verdict:
    """Arm ``k`` against arm ``j`` (0: the baseline) over the rounds both ran, with the physics guards."""
    cores = state.cores
    times = state.times
    retired = getattr(state, "retired", {})
    arm_spec, session = spec.arms[k], state.sessions[k]
    # A retired arm (settled at a look) is read from the rounds it ran, exactly as at that look; a pair from the
    # rounds both ran (the baseline runs every round).
    n = min(retired.get(k, len(times)), retired.get(j, len(times)))
    floor_s = task_floor(spec, state, rounds=n) if n < len(times) else floor_all
    interval: Interval = ratio_interval(paired_ratios([row[j] for row in times[:n]], [row[k] for row in times[:n]]))
    verdict = classify(interval, spec.band)
    reason = "" if verdict != "undecided" else undecided_reason(interval, spec.band)
    nz = state.arm_noise(k)
    used, lanes = session.cores_used, session.lanes
    free = cores - (nz.other_cores if math.isfinite(nz.other_cores) else 0.0)
    starved = math.isfinite(used) and used >= free - BUSY_CORES
    if (verdict in ("same", "not-faster", "slower") and nz.other_cores >= BUSY_CORES and lanes > 1
            and (starved or not _one_core_at_most(spec, arm_spec))):
        # Other programs took CPU this arm could have used: a busy machine, not the code, may have held it
        # back. Say so rather than teach "it does not help". Only an arm that can use one core at most
        # whatever the machine does (pure-Python work on threads sharing one GIL) keeps its "same" or "not
        # faster", and only while it did not use all the CPU left to it. The CPU it used alone does not tell:
        # the neighbour's bursts come and go within a round, and a starved process pool's CPU ÷ wall was
        # measured at 1.1 cores beside a GIL-bound thread pool's 1.0 (bench/verdicts.py, noisy).
        verdict = "undecided"
        took = (f"it used all the CPU left ({used:.1f} cores)" if starved
                else "they took CPU its parallel lanes could have used")
        reason = (f"the machine was busy: other programs used {nz.other_cores:.1f} of {cores} cores while it ran,"
                  f" and {took}; measure again when the machine is quieter")
    ideal = _ideal(spec, lanes, _arm_cores(arm_spec.engine, lanes, cores), floor_s)
    walls = sorted(row[k] for row in times[:n])
    wall = (walls[(len(walls) - 1) // 2] + walls[len(walls) // 2]) / 2 if walls else math.nan
    efficiency = ideal / wall if math.isfinite(ideal) and wall > 0 else math.nan
    if verdict == "faster":
        implausible = _implausible(spec, arm_spec, efficiency)
        if implausible:
            verdict, reason = "undecided", implausible
    return Verdict(
        label=arm_spec.label, scheduler=arm_spec.engine, spec=session.spec.to_dict(), lanes=lanes,
        verdict=verdict, speedup=interval.estimate, ci=(interval.low, interval.high), rounds=interval.n,
        reason=reason, busy=bool(nz.busy), other_cores=nz.other_cores, cores_used=used,
        efficiency=efficiency, bound=claim_bound(verdict, interval), against="" if j == 0 else spec.arms[j].label,
    )


def _implausible(spec: CompareSpec, arm: Arm, efficiency: float) -> str:
    """Why a ``faster`` the interval supports is still not a lesson to teach, or ``""`` when it is plausible.

    Two results the machine itself cannot produce are measurement problems, like an efficiency above 1:
    an arm faster than the ideal (the shortest task anyone measured, on every core), and pure-Python
    work more than the band faster on an engine whose threads share one GIL, on an interpreter that
    has one. Both happen when other programs change the machine's speed under the rounds (a baseline
    round slowed by a burst looks like a speedup of everything else); the cure is to measure again.
    """
    if math.isfinite(efficiency) and efficiency > EFFICIENCY_TOLERANCE:
        return (f"it ran at {efficiency:.2f}× the ideal this machine allows, which no engine can: the machine's speed"
                " changed during the comparison; measure again")
    if _one_core_at_most(spec, arm):
        return ("its threads share one GIL, and this pure-Python work cannot run in parallel on them: the speed-up"
                " came from the machine's load changing between rounds, not from the threads; measure again when"
                " the machine is quieter")
    return ""


def _one_core_at_most(spec: CompareSpec, arm: Arm) -> bool:
    """Whether the arm's tasks can use one core at most, whatever the machine: GIL-holding work on threads of one
    process, on an interpreter with a GIL. Your own function's GIL behaviour is ``unknown``: no rule applies."""
    wl = workload_info(spec.workload)
    if not (arm.engine in ONE_GIL_SCHEDULERS and wl.cpu_bound and wl.gil == "holds"):
        return False
    if arm.python:  # threads on another interpreter: that one's GIL (a free-threaded build has none)
        from core.interpreters import gil_enabled_on

        return gil_enabled_on(arm.python)
    return machine_info().gil_enabled


def task_floor(spec: CompareSpec, state: Any, rounds: int | None = None) -> float:
    """How long one task takes at best on this machine: the bound behind the ideal and the efficiencies.

    A sleep lasts its own length. For CPU-bound work it is the CPU time of a typical task on the arm
    whose tasks ran fastest (the lowest of the arms' median per-task CPU time): not the baseline's
    wall time, which the parent process measures with everything it has imported and started
    slowing it (a fresh worker process runs the same task faster), and not a wall time, which waits
    inflate. A median, not the single luckiest task: on a shared core a few tasks always run in a
    quiet moment, and an ideal built from those no typical run can approach. ``transfer`` is about
    moving data, not computing, and your own function may wait as well as compute: they have no floor.
    ``rounds`` limits it to the tasks of the first rounds (a retired arm's verdict, as it was decided).
    """
    wl = workload_info(spec.workload)
    if spec.workload in ("transfer", FUNCTION):
        return math.nan
    if not wl.cpu_bound:
        return float(spec.size) if spec.workload == "sleep" else math.nan
    medians = []
    for session in state.sessions:
        cpu = sorted(r["cpu_s"] for r in session.records
                     if r["cpu_s"] > 0 and (rounds is None or r["repeat"] < rounds))
        if cpu:
            medians.append((cpu[(len(cpu) - 1) // 2] + cpu[len(cpu) // 2]) / 2)
    return min(medians) if medians else math.nan


def build_comparison(spec: CompareSpec, state: Any, *, run_id: str, started_at: str, running: bool,
                     trial: dict[str, Any] | None = None) -> ComparisonResult:
    """Assemble a :class:`ComparisonResult` from a :class:`core.measure.rounds.RoundsState`."""
    arms = state.results()
    cores = state.cores
    floor_s = task_floor(spec, state)
    ideals = [_ideal(spec, s.lanes, _arm_cores(s.spec.scheduler, s.lanes, cores), floor_s) for s in state.sessions]
    ideal_s = min((i for i in ideals if math.isfinite(i)), default=math.nan)  # the widest arm's, or a cluster's
    return ComparisonResult(
        spec=spec, machine=machine_info(), run_id=run_id, started_at=started_at, arms=tuple(arms),
        verdicts=verdicts_from(spec, state), pair_verdicts=pair_verdicts_from(spec, state),
        rounds=state.rounds, stop="running" if running else str(state.stop), wall_s=state.elapsed_s,
        warmup_s=state.warmup_s, noise=state.noise(),
        round_noise=tuple(tuple(w.other_cores for w in row) for row in state.windows),
        task_floor_s=floor_s, ideal_s=ideal_s, trial=trial,
    )


def run_compare(spec: CompareSpec, ctx: RunContext | None = None) -> ComparisonResult:
    """Measure ``spec``: every arm opened, a warm-up round, then interleaved rounds until done.

    The caller holds the run slot (:func:`core.kinds.base.measure` does); ``ctx.on_partial`` gets
    the result after every round (``stop == "running"``), for pages and terminals that show it live.
    """
    from core.measure.rounds import run_rounds

    ctx = ctx or RunContext()
    run_id = uuid.uuid4().hex[:8]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cores = machine_info().usable_cores
    watch = ctx.watch()
    trial = None
    if spec.workload == FUNCTION:
        from core.userfunc import check_spec

        for exp in spec.experiments():  # every arm's needs (a value that pickles), before any pool starts
            trial = check_spec(exp).to_dict()
        watch.deadline_s = function_deadline(ctx, cost(spec))

    def settled(state: Any) -> list[int]:
        # An arm retires only when it has answered every question it is in: against the baseline, and in each
        # pair the page teaches (a pair is read from the rounds both ran, so neither may leave before it is).
        done = {k for k, v in enumerate(verdicts_from(spec, state), start=1) if v.verdict in SETTLED}
        for (a, b), v in zip(spec.pair_indices(), pair_verdicts_from(spec, state), strict=True):
            if v.verdict not in SETTLED:
                done -= {a, b}
        return sorted(done)

    def on_round(state: Any) -> None:
        if ctx.on_partial is not None and state.rounds >= 1:
            ctx.on_partial(build_comparison(spec, state, run_id=run_id, started_at=started_at, running=True,
                                            trial=trial))

    state = run_rounds(spec.experiments(), rounds=spec.rounds, cores=cores, budget_s=spec.budget_s,
                       settled=settled, on_round=on_round, clusters=ctx.clusters, watch=watch)
    return build_comparison(spec, state, run_id=run_id, started_at=started_at, running=False, trial=trial)


def cost(spec: CompareSpec) -> Cost:
    """Start-ups, the warm-up round and the fewest rounds it will run; at most the budget when adaptive."""
    from core.measure.estimate import PROCESS_WORKER_BYTES

    per_round = 0.0
    setup = 0.0
    workers = 0  # every arm's worker processes are alive together, for the whole comparison
    arrays = 0  # the arms compute one at a time: the largest arm's data counts
    longest = 0.0
    for exp in spec.experiments():
        est = estimate(exp)
        per_round += est.per_repeat_s
        setup += est.setup_s
        own = PROCESS_WORKER_BYTES.get(exp.scheduler, 0) * exp.workers
        workers += own
        arrays = max(arrays, est.memory_bytes - own)
        if exp.scheduler in UNCANCELLABLE_SCHEDULERS:
            longest = max(longest, est.per_repeat_s)
    memory = workers + arrays
    fewest = FEWEST_AUTO_ROUNDS if spec.rounds == "auto" else int(spec.rounds)
    seconds = setup + (1 + fewest) * per_round
    most = max(seconds, setup + min(spec.budget_s * BUSY_BUDGET_FACTOR, (1 + MAX_ROUNDS) * per_round)) \
        if spec.rounds == "auto" else None
    # Adaptive rounds usually end at the budget or when decided: that, not the busy-machine maximum, is what a
    # queue behind this comparison waits.
    typical = min(most, max(seconds, setup + min(spec.budget_s, (1 + MAX_ROUNDS) * per_round))) \
        if most is not None else None
    return Cost(seconds=seconds, memory_bytes=memory, longest_uncancellable_s=longest, what="this comparison",
                advice="lower the size or tasks, or use fewer engines or rounds (the CLI's --force runs it anyway)",
                max_seconds=most, typical_seconds=typical)


# --- words ---------------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def explain_comparison(result: ComparisonResult) -> list[str]:
    """Markdown sentences from the verdicts: what each arm did against the baseline, and why.

    A sentence explains a verdict only with what the verdict supports: the GIL lesson ("the threads
    took turns") goes with ``not-faster`` / ``same`` / ``slower``, the parallelism lesson with ``faster``,
    and an ``undecided`` verdict says why and what would decide it. The pairs the page teaches come
    first: they answer its own question.
    """
    spec, m = result.spec, result.machine
    wl = workload_info(spec.workload)
    base_label = result.labels[0]
    base = result.arms[0]
    cores = m.usable_cores
    out: list[str] = []
    cpu_bound, holds_gil = wl.cpu_bound, wl.gil == "holds" and wl.cpu_bound and m.gil_enabled
    if spec.workload == FUNCTION:
        # Your function: what it does is measured, not known. The baseline's tasks ran alone: a task that had
        # the CPU most of its time alone computes (and, in pure Python, holds the GIL while it does).
        from core.report.advice import advise, values_sentence

        alone = base.cpu_share
        cpu_bound = math.isfinite(alone) and alone >= 0.5
        holds_gil = math.isfinite(alone) and alone >= 0.75 and m.gil_enabled
        out.append(f"**Advice:** {advise(result).text}")
        agree = values_sentence(result)
        if agree:
            out.append(agree)
    out += [_pair_sentence(result, v, holds_gil) for v in result.pair_verdicts]
    for v, arm, arm_spec in zip(result.verdicts, result.arms[1:], spec.arms[1:], strict=True):
        name = f"**{v.label}**"
        lo, hi = v.ci
        ci = f"95 % CI {_fmt_x(lo)}–{_fmt_x(hi)}, {v.rounds} paired rounds" if math.isfinite(hi) and lo > 0 \
            else f"{v.rounds} round(s): no interval yet"
        times = f"{_ms(arm.wall_s)} vs {_ms(base.wall_s)}"
        share = arm.cpu_share
        moves_data = spec.workload == "transfer" and arm_spec.engine in PROCESS_SCHEDULERS
        if v.verdict == "faster":
            sentence = (f"{name} ran **{_fmt_x(v.speedup)} faster** than {base_label}, at least {_fmt_x(v.bound or 0)}"
                        f" ({times}; {ci})")
            if spec.workload == "transfer":
                sentence += (": the checksums ran in parallel, and that outweighed sending the payload to the"
                             " workers." if moves_data else ": every thread read the caller's array in place.")
            elif arm_spec.engine == "interpreters" and cpu_bound:
                sentence += ": each subinterpreter has its own GIL, so the tasks ran in parallel in one process."
            elif (arm_spec.python and arm_spec.engine == "threads" and cpu_bound
                  and not _one_core_at_most(spec, arm_spec)):
                sentence += f": Python {arm_spec.python} runs without the GIL, so its threads ran in parallel."
            elif arm_spec.engine in PROCESS_SCHEDULERS and cpu_bound:
                sentence += ": each worker process has its own GIL, so the tasks ran in parallel"
                sentence += f" ({share:.0%} of their time on a CPU)." if math.isfinite(share) else "."
            elif not cpu_bound:
                sentence += ": a waiting task releases the GIL, so the waits overlapped."
            elif wl.gil == "releases":
                sentence += ": the kernel releases the GIL, so the threads computed on several cores at once."
            elif not m.gil_enabled:
                sentence += ": this interpreter runs without the GIL, so Python threads ran in parallel."
            else:
                sentence += "."
        elif v.verdict in ("same", "not-faster"):
            if v.verdict == "same":
                sentence = (f"{name} took **about the same time** as {base_label} ({times}; {_fmt_x(v.speedup)},"
                            f" {ci}: within ±{spec.band:.0%})")
            else:
                sentence = (f"{name} was **no faster** than {base_label}: at most {_fmt_x(v.bound or 0)} ({times};"
                            f" {_fmt_x(v.speedup)}, {ci})")
            if holds_gil and arm_spec.engine in ONE_GIL_SCHEDULERS and math.isfinite(share) and share < 0.75:
                sentence += (f": each task had the CPU for only {share:.0%} of its time — the threads took turns"
                             " holding the GIL, so they ran one at a time.")
            else:
                sentence += "."
        elif v.verdict == "not-slower":
            sentence = (f"{name} was **no slower** than {base_label}: at least {_fmt_x(v.bound or 0)} ({times};"
                        f" {_fmt_x(v.speedup)}, {ci}); whether it is faster is not decided.")
        elif v.verdict == "slower":
            sentence = (f"{name} was **{_fmt_x(1 / v.speedup)} slower** than {base_label}, at least"
                        f" {_fmt_x(1 / v.bound if v.bound else math.inf)} slower ({times}; {ci})")
            startup = float(arm.runs["startup_s"].median() + arm.runs["teardown_s"].median())
            compute = float(arm.runs["compute_s"].median())
            if moves_data:
                sentence += (f": each task's {spec.size:g} MB payload had to be pickled, sent to another process"
                             " and unpickled there; threads read the same array in place.")
            elif startup > 0.05 and startup > 0.2 * arm.wall_s:
                sentence += (f": it spent {_ms(startup)} of every compute starting and stopping a fresh pool of"
                             f" {arm.spec.workers} processes; the tasks themselves took {_ms(compute)}.")
            elif holds_gil and arm_spec.engine in ONE_GIL_SCHEDULERS:
                sentence += ": the threads took turns holding the GIL, and handing it over costs time."
            elif compute > 0 and arm_spec.engine in ("cluster-threads", "cluster-processes", "external"):
                sentence += ": the tasks are too short to pay for sending them to workers and collecting results."
            else:
                sentence += "."
        else:
            sentence = (f"{name} against {base_label}: **undecided** — {_fmt_x(v.speedup)} ({ci}); {v.reason}.")
        if 0 < v.rounds < result.rounds and result.stop != "running":
            later = result.rounds - v.rounds
            sentence += (f" It was settled after {v.rounds} rounds and sat out the "
                         + ("last round" if later == 1 else f"{later} later rounds")
                         + ", which measured the arms still undecided.")
        if v.busy and v.verdict != "undecided":
            sentence += f" (Measured while other programs used {v.other_cores:.1f} of {cores} cores.)"
        out.append(sentence)
        if arm.setup_s > 0.05:
            out.append(f"Starting **{v.label}** took {_ms(arm.setup_s)} once, before the rounds; it is not in the"
                       " times above.")
        if not cpu_bound and v.lanes < spec.tasks and arm_spec.engine != "sync":
            waves = math.ceil(spec.tasks / v.lanes)
            lanes = "processes" if arm_spec.engine in PROCESS_SCHEDULERS else "threads"
            out.append(f"**{v.label}** had {v.lanes} {lanes} for {spec.tasks} tasks, so the waits ran in"
                       f" {waves} waves.")
        if arm_spec.engine == "external" and cluster_line(arm.engine):
            out.append(f"**{v.label}** ran its tasks on {cluster_line(arm.engine)}.")
    best = max(result.verdicts, key=lambda v: v.efficiency if math.isfinite(v.efficiency) else -1, default=None)
    if best is not None and math.isfinite(best.efficiency):
        if best.efficiency > EFFICIENCY_TOLERANCE:
            out.append(f"**Measurement problem:** {best.label} ran at {best.efficiency:.2f}× the ideal this machine"
                       " allows, which no engine can do; the machine's load changed during the comparison. Measure"
                       " again.")
        elif math.isfinite(result.ideal_s):
            on = f"the cluster's {best.lanes} threads" if best.scheduler == "external" else f"{cores} cores"
            out.append(f"The best arm, {best.label}, reached **{best.efficiency:.0%}** of the ideal for its"
                       f" {best.lanes} lanes on {on} (ideal built from the shortest task measured,"
                       f" {_ms(result.task_floor_s)}).")
    if result.noise.busy:
        out.append(f"This machine was busy: other programs used {result.noise.other_cores:.1f} of {cores} cores during"
                   " the comparison, so timings are slower and noisier than on a quiet machine. Verdicts the busy"
                   " cores could have produced are shown as undecided.")
    if cpu_bound and any(a.spec.concurrency > cores for a in result.arms):
        out.append(f"This machine has {cores} usable core{'s' if cores != 1 else ''}: more workers than that cannot"
                   " compute more at once, they only take turns.")
    return out


def _pair_sentence(result: ComparisonResult, v: Verdict, holds_gil: bool) -> str:
    """One pair the page teaches, a against b, in words: the claim, its evidence and, when supported, why."""
    spec = result.spec
    a, b = f"**{v.label}**", f"**{v.against}**"
    lo, hi = v.ci
    ci = (f"{_fmt_x(v.speedup)}, 95 % CI {_fmt_x(lo)}–{_fmt_x(hi)}, {v.rounds} paired rounds"
          if math.isfinite(hi) and lo > 0 else f"{v.rounds} round(s): no interval yet")
    engine = {arm.label: arm.engine for arm in spec.arms}
    a_procs, b_gil = engine[v.label] in PROCESS_SCHEDULERS, engine[v.against] in ONE_GIL_SCHEDULERS
    if v.verdict == "faster":
        sentence = f"{a} ran **faster than {b}**, at least {_fmt_x(v.bound or 0)} ({ci})"
        if a_procs and b_gil and holds_gil:
            sentence += ": each process has its own GIL, while the threads took turns holding one."
        elif engine[v.against] in ONE_GIL_SCHEDULERS and engine[v.label] in CLUSTER_SCHEDULERS and holds_gil:
            sentence += ": its workers are separate processes, each with its own GIL."
        else:
            sentence += "."
    elif v.verdict in ("same", "not-faster", "slower"):
        said = {"same": f"took **about the same time** as {b} (within ±{spec.band:.0%})",
                "not-faster": f"was **no faster than {b}**: at most {_fmt_x(v.bound or 0)}",
                "slower": f"was **slower than {b}**: at least {_fmt_x(1 / v.bound if v.bound else math.inf)} slower"}
        sentence = f"{a} {said[v.verdict]} ({ci})."
    elif v.verdict == "not-slower":
        sentence = (f"{a} was **no slower than {b}**: at least {_fmt_x(v.bound or 0)} ({ci}); whether it is faster"
                    " is not decided.")
    else:
        sentence = f"{a} against {b}: **undecided** — {ci}; {v.reason}."
    if v.busy and v.verdict != "undecided":
        sentence += f" (Measured while other programs used {v.other_cores:.1f} of {result.machine.usable_cores} cores.)"
    return sentence


# --- charts --------------------------------------------------------------------------------------------


def _arm_colors(result: ComparisonResult) -> Any:
    import altair as alt

    from core.report.charts import _SPARE_COLORS, ENGINE_COLORS

    spare = iter(_SPARE_COLORS * 3)
    seen: set[str] = set()
    colors = []
    for arm in result.spec.arms:
        color = ENGINE_COLORS.get(SCHEDULER_LABELS[arm.engine])
        colors.append(color if color and arm.engine not in seen else next(spare))
        seen.add(arm.engine)
    return alt.Scale(domain=result.labels, range=colors)


def speedup_ci_chart(result: ComparisonResult, title: str | None = None) -> Any:
    """Each arm's speedup over the baseline with its 95 % interval, the ``same`` band and the verdict."""
    import altair as alt

    from core.report.charts import _INK, _engine_x

    # The pairs the page teaches come first (a's speed-up over b), then every arm against the baseline.
    pairs = [(f"{v.label} vs {v.against}", v) for v in result.pair_verdicts]
    rows = [{"engine": name, "speedup": v.speedup, "low": v.ci[0] if v.ci[0] > 0 else math.nan,
             "high": v.ci[1] if math.isfinite(v.ci[1]) else math.nan, "verdict": v.verdict,
             "label": _chart_label(v), "rounds": v.rounds}
            for name, v in [*pairs, *((v.label, v) for v in result.verdicts)]]
    frame = pd.DataFrame(rows)
    order = [name for name, _ in pairs] + result.labels[1:]
    x = _engine_x(order)
    y_title = (f"Speed-up over {result.labels[0]}, or of a pair's first over its second (×, log scale)" if pairs
               else f"Speed-up over {result.labels[0]} (×, log scale)")
    values = [x for x in [*frame["low"], *frame["high"], *frame["speedup"]] if math.isfinite(x) and x > 0]
    lo = min([1 / (1 + result.spec.band), *values]) / 1.15
    hi = max([1 + result.spec.band, *values]) * 1.15
    y_scale = alt.Scale(type="log", domain=[lo, hi])
    band = pd.DataFrame({"low": [1 / (1 + result.spec.band)], "high": [1 + result.spec.band],
                         "label": [f"same (±{result.spec.band:.0%})"]})
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("verdict:N", title="Verdict"),
               alt.Tooltip("speedup:Q", title="Speed-up", format=".3f"),
               alt.Tooltip("low:Q", title="95 % CI low", format=".3f"),
               alt.Tooltip("high:Q", title="95 % CI high", format=".3f"), alt.Tooltip("rounds:Q", title="Rounds")]
    shade = alt.Chart(band).mark_rect(color="#bab0ac", opacity=0.25).encode(
        y=alt.Y("low:Q", scale=y_scale, title=y_title), y2="high:Q",
        tooltip=[alt.Tooltip("label:N", title="Band")])
    one = alt.Chart(pd.DataFrame({"one": [1.0]})).mark_rule(strokeDash=[6, 4], color=_INK).encode(
        y=alt.Y("one:Q", scale=y_scale, title=y_title))
    whiskers = alt.Chart(frame).mark_rule(strokeWidth=3, color=_INK).encode(
        x=x, y=alt.Y("low:Q", scale=y_scale, title=y_title), y2="high:Q", tooltip=tooltip)
    colors = _arm_colors(result)
    if pairs:  # a pair's point takes its first arm's colour
        arm_color = dict(zip(colors.domain, colors.range, strict=True))
        colors = alt.Scale(domain=[*[n for n, _ in pairs], *colors.domain],
                           range=[*[arm_color[v.label] for _, v in pairs], *colors.range])
    points = alt.Chart(frame).mark_point(filled=True, size=140, opacity=1).encode(
        x=x, y=alt.Y("speedup:Q", scale=y_scale, title=y_title),
        color=alt.Color("engine:N", scale=colors, legend=None), tooltip=tooltip)
    labels = alt.Chart(frame).mark_text(align="left", dx=12, fontWeight="bold", color=_INK).encode(
        x=x, y=alt.Y("speedup:Q", scale=y_scale, title=y_title), text="label:N", tooltip=tooltip)
    chart = alt.layer(shade, one, whiskers, points, labels).properties(width="container", height=300)
    return chart.properties(title=title) if title else chart


def _chart_label(v: Verdict) -> str:
    """``faster ≥1.62×``, ``no faster ≤0.98×``, ``slower ≥1.30× slower``, ``same 1.02×``, ``undecided 1.10×``."""
    if v.bound is not None and v.bound > 0:
        return {"faster": f"faster ≥{_fmt_x(v.bound)}", "not-faster": f"no faster ≤{_fmt_x(v.bound)}",
                "not-slower": f"no slower ≥{_fmt_x(v.bound)}",
                "slower": f"slower ≥{_fmt_x(1 / v.bound)} slower"}.get(v.verdict, v.verdict)
    return f"{v.verdict} {_fmt_x(v.speedup)}"


def runtime_ci_chart(result: ComparisonResult, title: str | None = None) -> Any:
    """Wall time by arm: median bar, each round as a point, the 95 % interval of the typical round, the ideal."""
    import altair as alt

    from core.measure.stats import log_interval
    from core.report.charts import _INK, _SECONDS, _engine_x

    rows = []
    for label, arm in zip(result.labels, result.arms, strict=True):
        logs = [math.log(float(w)) for w in arm.runs["wall_s"] if w > 0]
        typical, low, high = log_interval(logs)
        rows.append({"engine": label, "median_s": float(arm.runs["wall_s"].median()), "typical_s": math.exp(typical),
                     "low_s": math.exp(low) if math.isfinite(low) else math.nan,
                     "high_s": math.exp(high) if math.isfinite(high) else math.nan, "rounds": len(logs)})
    summary = pd.DataFrame(rows)
    points = pd.concat([a.runs.assign(engine=label)[["engine", "repeat", "wall_s", "compute_s", "startup_s"]]
                        for label, a in zip(result.labels, result.arms, strict=True)], ignore_index=True)
    x = _engine_x(result.labels)
    y_title = "Wall time per round (s)"
    tooltip = [alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("median_s:Q", title="Median (s)", format=_SECONDS),
               alt.Tooltip("low_s:Q", title="95 % CI low (s)", format=_SECONDS),
               alt.Tooltip("high_s:Q", title="95 % CI high (s)", format=_SECONDS),
               alt.Tooltip("rounds:Q", title="Rounds")]
    bars = alt.Chart(summary).mark_bar(opacity=0.85).encode(
        x=x, y=alt.Y("median_s:Q", title=y_title),
        color=alt.Color("engine:N", scale=_arm_colors(result), legend=None), tooltip=tooltip)
    ci = alt.Chart(summary).mark_errorbar(ticks=True, color=_INK, thickness=2).encode(
        x=x, y=alt.Y("low_s:Q", title=y_title), y2="high_s:Q", tooltip=tooltip)
    dots = alt.Chart(points).mark_circle(size=24, color=_INK, opacity=0.6).encode(
        x=x, y=alt.Y("wall_s:Q", title=y_title),
        tooltip=[alt.Tooltip("engine:N", title="Engine"), alt.Tooltip("repeat:Q", title="Round"),
                 alt.Tooltip("wall_s:Q", title="Wall (s)", format=_SECONDS),
                 alt.Tooltip("compute_s:Q", title="Compute (s)", format=_SECONDS),
                 alt.Tooltip("startup_s:Q", title="Start-up (s)", format=_SECONDS)])
    layers = [bars, ci, dots]
    if math.isfinite(result.ideal_s):
        from core.report.charts import _reference_line

        ideal = pd.DataFrame({"ideal_s": [result.ideal_s],
                              "label": [f"ideal{'' if _has_external(result) else ' on this machine'}:"
                                        f" {result.ideal_s:.3g} s"]})
        layers.extend(_reference_line(ideal, "ideal_s", y_title,
                                      [alt.Tooltip("label:N", title="Reference"),
                                       alt.Tooltip("ideal_s:Q", title="Ideal (s)", format=_SECONDS)]))
    chart = alt.layer(*layers).properties(width="container", height=300)
    return chart.properties(title=title) if title else chart


# --- the kind --------------------------------------------------------------------------------------------


class CompareKind:
    """``python -m core compare``: arms in interleaved rounds, verdicts with confidence."""

    name: ClassVar[str] = "compare"
    title: ClassVar[str] = "comparison"
    spec_type: ClassVar[type] = CompareSpec
    help: ClassVar[str] = "compare engines on the same tasks in interleaved rounds, with verdicts"

    def cost(self, spec: CompareSpec) -> Cost:
        return cost(spec)

    def run(self, spec: CompareSpec, ctx: RunContext) -> ComparisonResult:
        return run_compare(spec, ctx)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        from core.kinds.run import NO_SHIP_HELP
        from core.presets import PRESETS

        p.add_argument("--preset", choices=list(PRESETS), help="a named comparison (each page's default)")
        p.add_argument("--workload", choices=list(WORKLOADS), help="kind of task (default fib)")
        p.add_argument("--size", type=float, help="workload size (fib n, seconds of sleep, …); default per workload")
        p.add_argument("--tasks", type=int, help="independent tasks (default 4)")
        p.add_argument("--engines", help="ENGINE[:WORKERS[xTHREADS]],… the baseline first, e.g."
                       " sync,threads:4,processes:4,cluster-threads:1x4,cluster-processes:4x1; ENGINE@3.13 runs sync,"
                       " threads or interpreters on another interpreter (python -m core interpreters)")
        p.add_argument("--rounds", default=None, help="auto (default: until decided, within the budget) or N")
        p.add_argument("--budget", type=float, default=None, metavar="S",
                       help=f"auto rounds: stop adding rounds after about S seconds (default {DEFAULT_BUDGET_S:g})")
        p.add_argument("--chunksize", type=int, default=None,
                       help="arms that batch tasks (processes, futures-processes, multiprocessing, joblib-*): tasks per"
                            " submission (default 1)")
        p.add_argument("--reuse-pool", action="store_true",
                       help="local process pools (processes, futures-processes, multiprocessing, joblib-loky): one warm"
                            " pool for every round, its start-up reported apart")
        p.add_argument("--blas-threads", type=int, default=None, help="BLAS threads in numpy-matmul tasks (default 1)")
        p.add_argument("--address", help="the scheduler of an existing cluster, for an 'external' arm")
        p.add_argument("--no-ship", action="store_true", help=NO_SHIP_HELP)
        add_function_arguments(p)

    def spec_from_args(self, args: argparse.Namespace) -> CompareSpec:
        from core.presets import preset

        rounds: Rounds = "auto"
        if args.rounds is not None:
            text = str(args.rounds).strip()
            if text != "auto":
                if not text.isdigit():
                    raise ValueError(f"--rounds must be auto or a whole number from 1 to {MAX_ROUNDS}"
                                     f" (got {text[:40]!r})")
                rounds = int(text)
        task = function_fields(args)
        fixed = ("workload", "size", "tasks", "engines", "chunksize", "blas_threads", "address", "function")
        explicit = [o for o in fixed if getattr(args, o) is not None] + (["reuse_pool"] if args.reuse_pool else [])
        if args.preset:
            if explicit:
                raise ValueError(f"--preset fixes the engines and tasks; drop --{explicit[0].replace('_', '-')}"
                                 " or the preset")
            spec = preset(args.preset)
        elif not explicit:
            spec = preset("start")  # no settings at all: the lab's first comparison
        else:
            workload = args.workload or "fib"
            task = task or {"workload": workload,
                            "size": args.size if args.size is not None else WORKLOADS[workload].default_size}
            # Your function: does it want threads or processes? The default asks both, with warm pools.
            reuse = args.reuse_pool or (task["workload"] == FUNCTION and args.engines is None)
            default = FUNCTION_ENGINES if task["workload"] == FUNCTION else "sync,threads:4,processes:4"
            try:
                arms = parse_arms(default if args.engines is None else args.engines)
            except ValueError as exc:
                raise ValueError(f"--engines: {exc}") from None
            chunksize = 1 if args.chunksize is None else args.chunksize
            arms = tuple(replace(a, chunksize=chunksize if a.engine in CHUNKSIZE_SCHEDULERS else 1,
                                 reuse_pool=reuse and a.engine in PROCESS_POOL_SCHEDULERS, label="")
                         if a.engine in CHUNKSIZE_SCHEDULERS else a for a in arms)
            if args.address is not None:
                if not args.address.strip():
                    raise ValueError("--address must be a scheduler address like tcp://10.0.0.5:8786 (got '')")
                if not any(a.engine == "external" for a in arms):
                    arms = (*arms, Arm("external"))
                arms = tuple(replace(a, address=args.address) if a.engine == "external" else a for a in arms)
            spec = CompareSpec(**task, tasks=4 if args.tasks is None else args.tasks, arms=arms,
                               blas_threads=1 if args.blas_threads is None else args.blas_threads)
        changes: dict[str, Any] = {"rounds": rounds}
        if args.budget is not None:
            changes["budget_s"] = args.budget
        if args.no_ship:  # how the code gets there, not what is compared: allowed with a preset too
            if not any(a.engine in DISTRIBUTED_SCHEDULERS for a in spec.arms):
                raise ValueError("--no-ship only applies to cluster-threads, cluster-processes and external arms")
            changes["arms"] = tuple(replace(a, ship_code=False) if a.engine in DISTRIBUTED_SCHEDULERS else a
                                    for a in spec.arms)
        return spec.replace(**changes)


KIND = CompareKind()
