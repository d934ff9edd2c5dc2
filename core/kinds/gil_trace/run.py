"""Running a GIL trace: a fresh child interpreter, watched for a stop request and a time limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone

from core.kinds.base import RunContext
from core.kinds.gil_trace.result import GilTrace, build_trace
from core.kinds.gil_trace.spec import CHILD_GRACE_S, POLL_S, REPO, GilTraceSpec, TraceError
from core.measure.machine import machine_info
from core.measure.noise import NoiseMeter


def child_env(workload: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    if workload == "numpy":
        # Set before NumPy loads: BLAS then never starts its helper threads (threadpoolctl pins it too).
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"
    return env


def run_gil_trace(spec: GilTraceSpec, ctx: RunContext | None = None) -> GilTrace:
    """Run a GIL trace in a fresh child process and return what it measured.

    Parameters
    ----------
    spec : GilTraceSpec
        Threads, duration, workload and switch interval (validated by the spec).
    ctx : RunContext, optional
        Progress, a stop request (polled while the child runs: a closed browser tab kills it) and a
        deadline. The caller holds the run slot.

    Returns
    -------
    GilTrace
        Per-thread statistics, the run bars, ``parallel_fraction`` and the machine. This process's
        own switch interval is never touched.

    Raises
    ------
    TraceError
        If the child process fails or overruns its time limit.
    RunCancelled
        If ``ctx.should_stop()`` turned true while the child ran.
    """
    ctx = ctx or RunContext()
    cmd = [sys.executable, "-m", "core.kinds.gil_trace", json.dumps(spec.to_dict())]
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    limit = spec.seconds + CHILD_GRACE_S
    if ctx.deadline_s is not None:
        limit = min(limit, ctx.deadline_s)
    ctx.progress(f"Tracing {spec.label} in a fresh Python process", 0.0)
    with NoiseMeter(machine_info().usable_cores) as meter:  # other programs' CPU while the child runs
        proc = subprocess.Popen(cmd, cwd=REPO, env=child_env(spec.workload), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        t0 = time.monotonic()
        try:
            while True:
                try:
                    out, err = proc.communicate(timeout=POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    if ctx.should_stop is not None and ctx.should_stop():
                        from core.engines import RunCancelled

                        raise RunCancelled("the trace was stopped on request") from None
                    if time.monotonic() - t0 > limit:
                        raise TraceError(f"the trace process did not finish within {limit:.0f} s") from None
        finally:
            if proc.poll() is None:  # stopped, or a limit passed: the child goes with it
                proc.kill()
                proc.communicate()
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise TraceError(f"the trace process failed (exit {proc.returncode}): {last}")
    try:
        raw = json.loads(out)
    except json.JSONDecodeError as exc:
        raise TraceError(f"the trace process printed no result: {out[:200]!r}") from exc
    ctx.progress("Done", 1.0)
    return replace(build_trace(spec, raw, machine_info(), started_at), noise=meter.noise)

