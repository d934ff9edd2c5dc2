"""The comparison's spec: the arms (engines with their shape) and what they all run.

:class:`Arm` is one engine with its workers and options, :func:`parse_arm` reads the CLI's
``ENGINE[:WORKERS[xTHREADS]]``, and :class:`CompareSpec` is the whole comparison: the tasks, the arms
(the baseline first), the rounds and the band that decides ``same``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from core.measure.stats import (
    DEFAULT_BAND,
    MAX_ROUNDS,
)
from core.spec import (
    CLUSTER_SCHEDULERS,
    POOL_SCHEDULERS,
    PROCESS_POOL_SCHEDULERS,
    SCHEDULERS,
    ExperimentSpec,
    check_int,
    short_repr,
)
from core.workloads import FUNCTION

Rounds = int | Literal["auto"]

DEFAULT_BUDGET_S = 3.0  # adaptive rounds: the whole comparison within about this (app setting: compare_seconds)
MAX_ARMS = 12  # room for every engine side by side: Dask's five and the five beyond Dask, plus a shape or two
ARM = re.compile(r"^(?P<engine>[a-z-]+)(?:@(?P<python>3\.\d{1,2}t?))?"
                  r"(?::(?P<workers>\d{1,3})(?:x(?P<threads>\d{1,3}))?)?$", re.ASCII)


@dataclass(frozen=True)
class Arm:
    """One engine of a comparison, in a given shape.

    Parameters
    ----------
    engine : str
        A scheduler name of :data:`core.spec.SCHEDULERS` (``sync``, ``threads``, …).
    workers, threads_per_worker : int
        As in :class:`~core.spec.ExperimentSpec` (``sync`` has one worker).
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
    m = ARM.fullmatch(raw)
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
        As in :class:`~core.spec.ExperimentSpec`; the same for every arm.
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

