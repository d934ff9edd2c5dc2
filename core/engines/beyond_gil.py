"""Beyond the GIL: subinterpreters in this process, and the lab's engines on another interpreter of the machine.

* ``interpreters`` (no ``python``): N subinterpreters of *this* process, each with its own GIL, one thread
  each (:class:`core.subinterpreters.SubinterpreterPool`); needs the lab to run on 3.12 or later.
* any of ``sync``, ``threads``, ``interpreters`` with ``spec.python`` (``"3.13"``, ``"3.13t"``): the same
  tasks in a warm child process of that interpreter (:func:`core.subinterpreters.serve`), started once in
  :meth:`OtherPythonEngine.setup` and reported apart. ``threads`` there is a plain ``ThreadPoolExecutor``
  (Dask is not needed in the child): on a free-threaded build those threads run Python in parallel.

Both run the tasks as :func:`core.workloads.measured_call` (the same per-task evidence as every engine), with
the arguments and the records as JSON text. A child that is gone, a task that raises, a child killed mid-run:
each ends the run with one :class:`~core.engines.base.EngineError` line, and the child is killed and reaped
(nothing of the run is left running). The child also dies with its parent: its stdin closes, and it watches
its parent's pid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.engines.base import Compute, EngineError, Watch, Work, pool_info
from core.spec import ExperimentSpec
from core.subinterpreters import SubinterpreterError, SubinterpreterPool, repo_root

_START_TIMEOUT_S = 60.0  # a cold interpreter on a loaded 2-core machine; a hang ends with one line
_WAIT_SLICE_S = 0.25


def task_args(work: Work) -> list[str]:
    """Each task's :func:`~core.workloads.measured_call` arguments as JSON text (what interpreters can share)."""
    try:
        return [json.dumps(list(args)) for args in work.args]
    except TypeError:
        raise EngineError("subinterpreters and other interpreters take the stdlib workloads only (fib, sleep):"
                          " their arguments travel as JSON") from None


class InterpretersEngine:
    """``interpreters``: ``workers`` subinterpreters of this process, each with its own GIL."""

    def __init__(self, spec: ExperimentSpec, watch: Watch | None = None) -> None:
        self.spec = spec
        self.watch = watch
        self.pool: SubinterpreterPool | None = None

    def setup(self) -> float:
        try:
            self.pool = SubinterpreterPool(self.spec.workers)
        except SubinterpreterError as exc:
            raise EngineError(f"subinterpreters could not start: {exc}; run them on another interpreter of the"
                              " machine, e.g. interpreters@3.13:2 (python -m core interpreters lists them)") from None
        return self.pool.startup_s

    @contextmanager
    def repeat(self) -> Iterator[Compute]:
        pool = self.pool
        assert pool is not None, "setup() first"

        def compute(work: Work) -> list[Any]:
            try:
                return pool.run(task_args(work))
            except SubinterpreterError as exc:
                raise EngineError(f"a task failed in a subinterpreter: {exc}") from None

        yield compute

    def verify(self) -> None:
        """Nothing to check: a subinterpreter that failed raised already."""

    def info(self) -> dict[str, Any]:
        return {**pool_info(1, self.spec.workers), "python": sys.version.split()[0], "subinterpreters": True}

    def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()


def child_command(python: str, mode: str, workers: int) -> list[str]:
    """The child's command line: ``python -c`` with this repository on its path (no ``-I``: it needs it)."""
    code = (f"import sys; sys.path.insert(0, {repo_root()!r}); from core.subinterpreters import serve;"
            f" serve({mode!r}, {workers})")
    return [python, "-u", "-c", code]


class OtherPythonEngine:
    """The lab's ``sync``, ``threads`` or ``interpreters`` in a warm child process of another interpreter.

    Parameters
    ----------
    spec : ExperimentSpec
        ``spec.python`` names the interpreter (a version tag found by :mod:`core.interpreters`).
    watch : Watch, optional
        Checked while a compute runs (the child is killed on a stop request or a deadline).
    executable : str, optional
        The interpreter's path, instead of looking ``spec.python`` up (the tests' broken interpreters).
    """

    def __init__(self, spec: ExperimentSpec, watch: Watch | None = None, executable: str | None = None) -> None:
        self.spec = spec
        self.watch = watch
        self.executable = executable
        self.mode = {"sync": "sync", "threads": "threads", "interpreters": "interpreters"}[spec.scheduler]
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self._lines: Any = None
        self._stderr: list[str] = []

    def _python(self) -> str:
        if self.executable:
            return self.executable
        from core.interpreters import find_python

        found = find_python(str(self.spec.python))
        if found is None:
            raise EngineError(f"no Python {self.spec.python} on this machine (python -m core interpreters lists"
                              " them; GIL_LAB_PYTHONS adds one by path)")
        return found.path

    def setup(self) -> float:
        python = self._python()
        t0 = time.perf_counter()
        try:
            # Without the lab's PYTHONHOME / PYTHONPATH (another interpreter's would break it) and PYTHON_GIL (the
            # interpreter's own GIL status is what discovery reported and the guards read).
            env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHON_GIL")}
            self.proc = subprocess.Popen(child_command(python, self.mode, self.spec.workers), stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
                                         cwd=repo_root(), env=env)
        except OSError as exc:
            raise EngineError(f"Python {self.spec.python} could not start ({python}: {exc.strerror or exc})") from None
        # A reader thread per stream: a slice-wise wait on stdout, and stderr drained so it never fills.
        import queue

        self._lines = queue.SimpleQueue()
        out, err = self.proc.stdout, self.proc.stderr
        assert out is not None and err is not None
        threading.Thread(target=lambda: [self._lines.put(x) for x in out] + [self._lines.put(None)],
                         daemon=True, name="gil-lab-child-out").start()
        threading.Thread(target=lambda: [self._stderr.append(x) for x in err], daemon=True,
                         name="gil-lab-child-err").start()
        reply = self._receive("start-up", _START_TIMEOUT_S)
        if "ready" not in reply:
            self._fail(f"Python {self.spec.python} could not start its {self.mode}: {reply.get('error')}")
        self.ready = reply
        return time.perf_counter() - t0

    def _receive(self, where: str, timeout: float | None) -> dict[str, Any]:
        import queue

        t0 = time.perf_counter()
        while True:
            try:
                line = self._lines.get(timeout=_WAIT_SLICE_S)
            except queue.Empty:
                if timeout is not None and time.perf_counter() - t0 > timeout:
                    self._fail(f"Python {self.spec.python} did not answer within {timeout:g} s ({where})")
                if self.watch is not None:
                    try:
                        self.watch.check()
                    except BaseException:
                        self.close(kill=True)  # a stop request or the deadline: nothing of the run left running
                        raise
                continue
            if line is None:  # the child's stdout closed: it is gone
                assert self.proc is not None
                code = self.proc.wait()
                last = "".join(self._stderr).strip().splitlines()[-1:] or [f"exit status {code}"]
                self._fail(f"the Python {self.spec.python} child process ended during the {where} ({last[0][:300]})")
            try:
                return json.loads(line)
            except ValueError:
                continue  # a stray print of a task: not a reply

    def _fail(self, message: str) -> None:
        self.close(kill=True)
        raise EngineError(message)

    @contextmanager
    def repeat(self) -> Iterator[Compute]:
        assert self.proc is not None, "setup() first"

        def compute(work: Work) -> list[Any]:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                self._fail(f"the Python {self.spec.python} child process is gone")
            assert proc is not None and proc.stdin is not None
            try:
                proc.stdin.write(json.dumps({"tasks": task_args(work)}) + "\n")
                proc.stdin.flush()
            except OSError:
                self._fail(f"the Python {self.spec.python} child process is gone")
            reply = self._receive("compute", None)
            if "error" in reply:
                self._fail(f"a task failed on Python {self.spec.python}: {reply['error']}")
            return list(reply["records"])

        yield compute

    def verify(self) -> None:
        """Nothing to check: a child that failed raised already."""

    def info(self) -> dict[str, Any]:
        threads = 1 if self.mode == "sync" else self.spec.workers
        return {**pool_info(1, threads), "python": self.ready.get("version", self.spec.python),
                "gil_enabled": self.ready.get("gil_enabled"), "child_pid": self.ready.get("pid")}

    def close(self, kill: bool = False) -> None:
        """End the child: close its input (it ends its loop), then kill it if it has not; always reaped.

        ``kill``: at once (a failed or stopped compute may still be running tasks there).
        """
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if kill:
            proc.kill()
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
