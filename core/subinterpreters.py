"""Subinterpreters with their own GIL, and the child that runs the lab's tasks on another interpreter.

Standard library only, and only :mod:`core.workloads` of the lab: this module runs in three places,

* in the lab's own process, where the lab runs on Python 3.12 or later (the ``interpreters`` engine);
* inside every subinterpreter it starts (each imports :mod:`core.workloads` and runs
  :func:`core.workloads.measured_call`, the same per-task evidence as every other engine);
* in a warm child process of *another* interpreter of the machine (:func:`serve`), so that a lab on 3.11
  can measure 3.13's subinterpreters or a free-threaded build's threads (:mod:`core.engines.beyond_gil`).

Which executor a Python has (:func:`executor_kind`):

* 3.14+: ``concurrent.futures.InterpreterPoolExecutor`` (PEP 734), the public API;
* 3.13: the standard library's private ``_interpreters`` (``create("isolated")``: own GIL, own obmalloc);
* 3.12: the private ``_xxsubinterpreters`` (``create(isolated=True)``, the per-interpreter GIL of PEP 684).

A task's arguments go in as JSON text and its record comes back as JSON text: text is what any two
interpreters can share (PEP 734's "shareable objects"), and the same text travels over the child's pipe.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from typing import Any

# What one subinterpreter runs per task: the record written to a file (the private APIs return no value; a
# file has no pipe buffer to fill, whatever the size of the record).
_TASK = ("import json as _json\n"
         "_r = _w.measured_call(*_json.loads(args))\n"
         "_r['worker'] = 'subinterpreter %d' % _iid\n"
         "_r['interpreter'] = _iid\n"
         "with open(out, 'w') as _f:\n"
         "    _f.write(_json.dumps(_r))\n")


def repo_root() -> str:
    """The directory holding the ``core`` package: what a subinterpreter or a child puts on its ``sys.path``."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def executor_kind() -> str:
    """How this interpreter runs subinterpreters with their own GIL, or ``""`` if it cannot.

    ``"InterpreterPoolExecutor"`` (3.14+), ``"_interpreters"`` (3.13), ``"_xxsubinterpreters"`` (3.12).
    """
    import concurrent.futures as cf

    if hasattr(cf, "InterpreterPoolExecutor"):
        return "InterpreterPoolExecutor"
    if sys.version_info < (3, 12):
        return ""  # 3.11 and older: subinterpreters share one GIL (no PEP 684)
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            __import__(name)
            return name
        except ImportError:
            continue
    return ""


class SubinterpreterError(RuntimeError):
    """A subinterpreter could not start, or a task raised inside one; the message is one line."""


def run_json(args_json: str) -> str:
    """One task in a subinterpreter of an ``InterpreterPoolExecutor`` (3.14+): its record as JSON text."""
    import core.workloads as w

    record = w.measured_call(*json.loads(args_json))
    record["worker"] = f"subinterpreter of process {os.getpid()}"
    return json.dumps(record)


class SubinterpreterPool:
    """``n`` subinterpreters, each with its own GIL, each driven by one thread of this process.

    Parameters
    ----------
    n : int
        Subinterpreters (and threads): how many tasks run at once.
    root : str, optional
        Put on every subinterpreter's ``sys.path`` so that it imports :mod:`core.workloads` (default: this
        repository).
    """

    def __init__(self, n: int, root: str | None = None) -> None:
        self.n = n
        self.root = root or repo_root()
        self.kind = executor_kind()
        if not self.kind:
            raise SubinterpreterError(f"Python {sys.version.split()[0]} has no subinterpreters with their own GIL"
                                      " (3.12+ needed)")
        self._ids: list[Any] = []
        self._executor: Any = None
        self._dir = tempfile.mkdtemp(prefix="gil-lab-interp-")
        t0 = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        self.startup_s = time.perf_counter() - t0

    # -- the three APIs ---------------------------------------------------------------------------

    def _start(self) -> None:
        prepare = f"import sys; sys.path.insert(0, {self.root!r}); import core.workloads as _w"
        if self.kind == "InterpreterPoolExecutor":
            import concurrent.futures as cf

            # exec is a builtin: it pickles by name, so the initializer runs before core is importable there.
            self._executor = cf.InterpreterPoolExecutor(self.n, initializer=exec, initargs=(prepare,))
            for f in [self._executor.submit(exec, "pass") for _ in range(self.n)]:
                f.result()  # start them all now, outside every measured compute
            return
        mod = __import__(self.kind)
        for _ in range(self.n):
            iid = mod.create("isolated") if self.kind == "_interpreters" else mod.create(isolated=True)
            self._ids.append(iid)
            self._exec(iid, prepare + f"\n_iid = {int(iid)}")

    def _exec(self, iid: Any, code: str, shared: dict[str, Any] | None = None) -> None:
        mod = __import__(self.kind)
        if self.kind == "_interpreters":
            failed = mod.exec(iid, code, shared or {})
            if failed is not None:  # 3.13 returns a snapshot of the exception instead of raising it
                raise SubinterpreterError(f"{failed.type.__name__}: {failed.msg}")
            return
        try:
            mod.run_string(iid, code, shared or {})
        except mod.RunFailedError as exc:  # 3.12: "ValueError: boom"
            raise SubinterpreterError(str(exc)) from None

    # -- running ----------------------------------------------------------------------------------

    def run(self, tasks: list[str]) -> list[dict[str, Any]]:
        """Each task (``measured_call``'s arguments as JSON text) on a free subinterpreter; the records in order.

        The first task that raises ends the compute (the others finish first: a running subinterpreter
        cannot be interrupted) with :class:`SubinterpreterError`.
        """
        if self._executor is not None:
            futures = [self._executor.submit(run_json, t) for t in tasks]
            try:
                return [json.loads(f.result()) for f in futures]
            except Exception as exc:
                raise SubinterpreterError(f"{type(exc).__name__}: {exc}") from None
        todo: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()
        for i, t in enumerate(tasks):
            todo.put((i, t))
        out: list[Any] = [None] * len(tasks)
        errors: list[str] = []

        def drive(iid: Any) -> None:
            while not errors:
                try:
                    i, args = todo.get_nowait()
                except queue.Empty:
                    return
                path = os.path.join(self._dir, f"{int(iid)}-{i}.json")
                try:
                    self._exec(iid, _TASK, {"args": args, "out": path})
                    with open(path) as f:
                        out[i] = json.loads(f.read())
                    os.unlink(path)
                except Exception as exc:
                    errors.append(str(exc))

        threads = [threading.Thread(target=drive, args=(iid,), name=f"gil-lab-subinterpreter-{int(iid)}",
                                    daemon=True) for iid in self._ids]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise SubinterpreterError(errors[0])
        return out

    def close(self) -> None:
        """Destroy every subinterpreter (idempotent)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._ids:
            mod = __import__(self.kind)
            for iid in self._ids:
                with contextlib.suppress(Exception):  # destroyed already, or still running at exit: nothing to keep
                    mod.destroy(iid)
            self._ids = []
        shutil.rmtree(self._dir, ignore_errors=True)


# --- the child: the lab's tasks on another interpreter ------------------------------------------------


def _reply(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _watch_parent(parent: int) -> None:
    """End this child when its parent is gone (its stdin closes too; this covers a parent killed with -9)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(3)


def serve(mode: str, workers: int) -> None:
    """The child's loop: one JSON request a line on stdin, one JSON reply a line on stdout.

    ``mode`` is ``sync``, ``threads`` (a ``ThreadPoolExecutor(workers)``) or ``interpreters`` (a
    :class:`SubinterpreterPool` of ``workers``). The first reply says the child is ready (with its start-up);
    each request ``{"tasks": [args JSON, ...]}`` gets ``{"records": [...]}`` or ``{"error": "one line"}``.
    End of input ends the child.
    """
    from concurrent.futures import ThreadPoolExecutor

    import core.workloads as w

    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    t0 = time.perf_counter()
    pool: Any = None
    try:
        if mode == "threads":
            pool = ThreadPoolExecutor(workers)
            list(pool.map(int, range(workers)))  # start its threads now
        elif mode == "interpreters":
            pool = SubinterpreterPool(workers)
        elif mode != "sync":
            raise SubinterpreterError(f"unknown mode {mode!r}")
    except Exception as exc:
        _reply({"error": f"{type(exc).__name__}: {exc}"})
        return
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    _reply({"ready": time.perf_counter() - t0, "version": sys.version.split()[0], "gil_enabled": gil,
            "pid": os.getpid()})
    for line in sys.stdin:
        request = json.loads(line)
        tasks = request["tasks"]
        try:
            if mode == "interpreters":
                records = pool.run(tasks)
            elif mode == "threads":
                records = list(pool.map(lambda a: w.measured_call(*json.loads(a)), tasks))
            else:
                records = [w.measured_call(*json.loads(a)) for a in tasks]
            _reply({"records": records})
        except Exception as exc:
            _reply({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
    if pool is not None:
        pool.close() if mode == "interpreters" else pool.shutdown()

