"""A toy kind of measurement, written by README's "To add a kind of measurement" steps and nothing else.

It times ``n`` calls of a no-op in this process. ``tests/test_toy_kind.py`` registers it in
:data:`core.kinds.KINDS` (the one line a real kind adds there) and drives its CLI verb.
"""

from __future__ import annotations

import argparse
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from core.kinds.base import KindBase, RunContext, StrictJson
from core.measure.estimate import Cost
from core.measure.machine import MachineInfo, machine_info


@dataclass(frozen=True)
class ToySpec:
    """``n`` no-op calls, 1 to 1000."""

    n: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or not 1 <= self.n <= 1000:
            raise ValueError(f"n must be a whole number from 1 to 1000 (got {self.n!r})")


@dataclass(frozen=True)
class ToyResult(StrictJson):
    """How long the calls took, one row each."""

    spec: ToySpec
    machine: MachineInfo
    run_id: str
    started_at: str
    calls: pd.DataFrame = field(repr=False)
    noise: Any = field(default=None, repr=False)  # not watched: a toy

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "toy", "run_id": self.run_id, "started_at": self.started_at, "n": self.spec.n,
                "machine": self.machine.to_dict(), "calls": self.calls.to_dict(orient="records")}

    def explain(self) -> list[str]:
        return [f"{self.spec.n} no-op calls took {self.calls['seconds'].sum() * 1e6:.0f} µs in all."]

    def charts(self) -> list[tuple[str, Any]]:
        return []

    def text(self) -> str:
        return "\n".join([f"toy: {self.spec.n} calls   [run {self.run_id}]", *self.explain()])

    def frames(self) -> dict[str, pd.DataFrame]:
        return {"calls": self.calls}


def _noop() -> None:
    """The call being timed."""


class ToyKind(KindBase, name="toy", title="toy", spec=ToySpec, help="time n no-op calls (a test's toy kind)"):
    """``python -m core toy``: n no-op calls in this process."""

    def cost(self, spec: ToySpec) -> Cost:
        return Cost(seconds=spec.n * 1e-6, memory_bytes=0, longest_uncancellable_s=0.0, what="these calls")

    def run(self, spec: ToySpec, ctx: RunContext) -> ToyResult:
        started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = []
        for i in range(spec.n):
            t0 = time.perf_counter()
            _noop()
            rows.append({"call": i, "seconds": time.perf_counter() - t0})
        return ToyResult(spec=spec, machine=machine_info(), run_id=uuid.uuid4().hex[:8], started_at=started_at,
                         calls=pd.DataFrame(rows))

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--n", type=int, default=10, help="calls to time (default 10)")

    def spec_from_args(self, args: argparse.Namespace) -> ToySpec:
        return ToySpec(n=args.n)


KIND = ToyKind()
