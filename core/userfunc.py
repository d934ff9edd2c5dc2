"""Your own function: validated, tried once in a child process, then measured like any of the lab's workloads.

``python -m core compare --function mymodule:crunch --args '[30]'`` runs ``mymodule.crunch(30)`` as every
task, on every engine, through the one run path (each task is :func:`core.workloads.measured_call`, which
calls :func:`core.workloads.call_function`). Before anything is measured the call is **tried once in a
child process** (:func:`tried`), which

* imports the module from the environment the lab runs in (``sys.path``: the current directory for the
  CLI, ``PYTHONPATH``), so a module that fails to import, hangs or crashes on import hurts only the child;
* checks that the name exists and is callable, calls it with its arguments, times the call (its wall and
  CPU time: the cost estimate that the budget checks) and checks that its value pickles (a process engine
  must send it back);
* is bounded: a call that has not returned within :data:`PROBE_TIMEOUT_S` is stopped, with its process.

Each failure is ONE clear message with the exception's type: bad input (an import error, a missing or
non-callable name) is a :class:`FunctionInputError` (a ``ValueError``: the CLI exits 2); a function that
raises, returns something that cannot be pickled from a process, crashes or never returns is a
:class:`FunctionFailed` or :class:`FunctionTimeout` (the CLI exits 1). The trial is remembered per call
(and tried again once the module's file changes), so the app's reruns and the run itself do not repeat it.

The module is imported by every worker process too (spawned pools and LocalCluster workers get the
parent's ``sys.path``; a worker started earlier is told the directory the trial found the module in).
A run of your function is bounded like any run: the budget from its trial, and a deadline.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from core.engines.base import EngineError, RunTimeout
from core.spec import PROCESS_SCHEDULERS, ExperimentSpec, canonical_json, check_function_path, describe_call
from core.workers import main_not_reimported, trial

PROBE_TIMEOUT_S = 20.0
_RETRY_UNKNOWN_S = 30.0  # a trial whose module file is unknown (it failed to import) is tried again after this


class FunctionInputError(ValueError):
    """Your function cannot be used as given: its module does not import, the name is missing or not callable."""


class FunctionFailed(EngineError):
    """Your function raised, crashed its process, or returned a value that cannot come back from a process."""


class FunctionTimeout(RunTimeout):
    """Your function did not return within the trial's time limit; its process was stopped."""


@dataclass(frozen=True)
class Probe:
    """What one trial call of your function in a fresh process showed.

    Attributes
    ----------
    function, args, kwargs : str
        The call (``module:name`` and its canonical JSON arguments).
    seconds, cpu_s : float
        Wall time and CPU time (of the calling thread) of the call, after the import.
    import_s : float
        Time to import the module in a fresh interpreter.
    value_type, value_repr : str
        The return value's type and a short ``repr``.
    picklable : bool
        Whether the value pickles (a process engine sends it back pickled); ``pickle_error`` says why not.
    pickled_bytes : int
        Size of the pickled value (0 if it does not pickle).
    root : str or None
        The ``sys.path`` directory the module was found in (told to workers started before it was there).
    module_file : str or None
        The module's file; a trial is repeated when its modification time changes.
    """

    function: str
    args: str
    kwargs: str
    seconds: float
    cpu_s: float
    import_s: float
    value_type: str
    value_repr: str
    picklable: bool
    pickle_error: str
    pickled_bytes: int
    root: str | None
    module_file: str | None
    module_mtime: float | None

    @property
    def cpu_share(self) -> float:
        """CPU time ÷ wall time of the trial call, alone in its process: ≈ 1 computes, ≪ 1 waits."""
        return self.cpu_s / self.seconds if self.seconds > 1e-6 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_share": self.cpu_share}


# --- the child -------------------------------------------------------------------------------------------


# The trial's child runs core.workers.trial: a module that imports neither the engines nor Dask, so what the
# trial times as your module's import is its import in a fresh interpreter.


# --- the parent ------------------------------------------------------------------------------------------


def _kill_tree(proc: Any) -> None:
    """Stop the trial process and anything it started (a function may start processes of its own)."""
    try:
        import psutil

        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
    except Exception:  # gone already, or psutil missing: the process itself is what matters
        pass
    proc.kill()


def try_function(function: str, args: Any = "[]", kwargs: Any = "{}", timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """Call ``function(*args, **kwargs)`` once in a fresh child process and return what it showed.

    Raises
    ------
    FunctionInputError
        The name is malformed, the module does not import, the name is missing or is not callable, or
        the arguments are not a JSON list / object.
    FunctionFailed
        The call raised, or ended its process without returning.
    FunctionTimeout
        The call had not returned after ``timeout_s``; the process (and any it started) was killed.
    """
    try:
        check_function_path(function)
        args_json = canonical_json("function_args", args, list)
        kwargs_json = canonical_json("function_kwargs", kwargs, dict)
    except ValueError as exc:
        raise FunctionInputError(str(exc)) from None
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    proc = context.Process(target=trial, args=(send, function, args_json, kwargs_json), name="gil-lab-trial",
                           daemon=True)
    with main_not_reimported():  # the parent's main (Streamlit's script, pytest) is no part of your import
        proc.start()
    send.close()
    try:
        if not receive.poll(timeout_s):
            _kill_tree(proc)
            raise FunctionTimeout(f"{function} did not return within {timeout_s:g} s in a trial call, in a separate"
                                  " process, which was stopped; the lab measures calls that take at most a few"
                                  " seconds: give it smaller arguments")
        try:
            out = receive.recv()
        except (EOFError, OSError):
            proc.join(5)
            raise FunctionFailed(f"{function} ended its process without returning (exit code {proc.exitcode}) in a"
                                 " trial call") from None
    finally:
        receive.close()
        if proc.is_alive():
            proc.join(5)
        if proc.is_alive():
            _kill_tree(proc)
        proc.join()
    error = out.get("error")
    where = describe_call(function, args_json, kwargs_json)
    if error == "import":
        module = function.split(":")[0]
        raise FunctionInputError(f"cannot import {module} for {function}: {out['type']}: {out['message'][:200]}"
                                 " (the module must be importable where the lab runs: its directory, or PYTHONPATH)")
    if error == "missing":
        raise FunctionInputError(f"{function} does not exist: {out['type']}: {out['message'][:200]}")
    if error == "not-callable":
        article = "an" if out["type"][:1].lower() in "aeiou" else "a"
        raise FunctionInputError(f"{function} is {article} {out['type']}, not a function (TypeError: not callable)")
    if error == "raised":
        raise FunctionFailed(f"{where} raised {out['type']}: {out['message'][:300]} (in a trial call, in a separate"
                             " process)")
    mtime = _mtime(out.get("module_file"))
    return Probe(function=function, args=args_json, kwargs=kwargs_json, seconds=float(out["seconds"]),
                 cpu_s=float(out["cpu_s"]), import_s=float(out["import_s"]), value_type=out["value_type"],
                 value_repr=out["value_repr"], picklable=bool(out["picklable"]), pickle_error=out["pickle_error"],
                 pickled_bytes=int(out["pickled_bytes"]), root=out.get("root"), module_file=out.get("module_file"),
                 module_mtime=mtime)


def _mtime(path: str | None) -> float | None:
    try:
        return os.stat(path).st_mtime if path else None
    except OSError:
        return None


_TRIALS: dict[tuple[str, str, str], tuple[float, Probe | BaseException]] = {}
_TRIALS_LOCK = threading.Lock()


def tried(spec: ExperimentSpec | tuple[str, str, str], timeout_s: float = PROBE_TIMEOUT_S) -> Probe:
    """The trial of ``spec``'s call (or of a ``(function, args, kwargs)`` call), made once and remembered.

    A remembered trial is made again when its module's file has changed, and a failed one whose module
    file is unknown after :data:`_RETRY_UNKNOWN_S`. A failure is remembered too (the app asks on every
    rerun; a function that hangs must not cost 20 s each time) and raised again.
    """
    key = spec.call if isinstance(spec, ExperimentSpec) else spec
    if key is None:
        raise ValueError("this spec runs one of the lab's workloads, not your function")
    with _TRIALS_LOCK:  # one trial at a time: two sessions asking for the same call wait for one answer
        seen = _TRIALS.get(key)
        if seen is not None:
            at, outcome = seen
            file = outcome.module_file if isinstance(outcome, Probe) else None
            fresh = (_mtime(file) == outcome.module_mtime) if isinstance(outcome, Probe) and file \
                else time.monotonic() - at < _RETRY_UNKNOWN_S
            if fresh:
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
        try:
            probe = try_function(*key, timeout_s=timeout_s)
        except (ValueError, EngineError) as exc:
            _TRIALS[key] = (time.monotonic(), exc)
            raise
        _TRIALS[key] = (time.monotonic(), probe)
        return probe


def check_spec(spec: ExperimentSpec) -> Probe:
    """:func:`tried`, plus what this engine needs: a value a process engine can send back pickled."""
    probe = tried(spec)
    if spec.scheduler in PROCESS_SCHEDULERS and not probe.picklable:
        raise FunctionFailed(
            f"the return value of {spec.function} ({probe.value_type}) cannot be pickled back from a worker"
            f" process: {probe.pickle_error[:200]}; return plain data (numbers, text, lists, arrays), or"
            " compare thread engines only")
    return probe
