"""What the lab's worker processes run, and how the lab starts them so they import no more than a user's.

A spawned child imports, by reference, whatever its parent sends it: the pool's initializer, the task
functions, the trial of your function. Before this module existed those helpers lived in
``core.engines.lifeline``, and importing a module imports its package first: ``core.engines``'s
``__init__`` imports ``distributed`` (and every engine, Dask, the spec), so each worker of a 4-process
pool spent 1.0–1.4 s importing what no task needs, four at once on two cores. That is start-up a user's
own ``dask.compute(..., scheduler="processes")`` does not pay, and it made the lab's Dask default look
twice as slow as the seed tutorial's code run as a script. So this module is **top-level and light**:
the standard library and :mod:`core.workloads` (itself standard library only; NumPy is imported inside
the NumPy tasks), never :mod:`core.engines`, :mod:`core.measure` or :mod:`core.kinds`.

In the child (everything here is pickled by reference, so it must stay importable cheaply):

- :func:`die_with_parent`: a pool worker ends with the process that started it.
- :func:`init_pool_worker`, :func:`init_plain_worker`, :func:`ready_barrier`: the initializers (and, for
  loky, the barrier) that make a pool count as started only when every worker is ready.
- :func:`run_calls`: several calls in one submission (what ``map(..., chunksize=n)`` sends).
- :func:`trial`: the one trial call of your function (:mod:`core.userfunc`), in a fresh process.

In the parent, :func:`main_not_reimported`: spawn also re-runs the parent's main module in every child
(as ``__mp_main__``) so that functions defined there unpickle. The lab's children never need it, and the
parent's main is heavy where the lab runs: Streamlit installs the app's script as ``__main__`` (each
child re-ran ``streamlit_app.py``: ``import streamlit``), the ``pytest`` console script imports pytest. A
user's script pays for re-importing *its own* main, which the lab cannot reproduce: so the lab's pools
start their processes without it, as loky (joblib's executor) always does.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from core.workloads import WorkloadName, warm_worker
from core.workloads import init_pool_worker as _init_workloads

Call = tuple[Callable[..., Any], tuple[Any, ...]]


# --- in the child -----------------------------------------------------------------------------------


def die_with_parent() -> None:
    """In a spawned child: exit as soon as the parent process ends.

    A ``ProcessPoolExecutor`` worker blocks reading its call queue and never notices that its parent is
    gone: if the app's server or a ``python -m core`` run is killed (SIGKILL, or SIGTERM without a
    handler), its pool workers, and through them multiprocessing's resource tracker, would live on for
    ever. (``distributed``'s workers already watch their parent; this does the same for the other pools.)

    Waits on multiprocessing's parent sentinel (a pipe the kernel closes when the parent dies) in a
    daemon thread: the thread sleeps in ``select`` and never wakes otherwise, so it takes no time
    from the tasks being measured.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child
        return

    def watch() -> None:
        parent.join()
        os._exit(1)  # the parent is gone: nobody will read a result or run an atexit handler

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def init_pool_worker(ready: Any, workload: WorkloadName) -> None:
    """Initializer of Dask's ``processes`` pool: :func:`die_with_parent`, then Dask's own worker set-up
    and the task's imports (:func:`core.workloads.init_pool_worker`), then report ready."""
    die_with_parent()
    _init_workloads(ready, workload)


def init_plain_worker(ready: Any, workload: str) -> None:
    """Initializer of the plain pools (concurrent.futures, multiprocessing): no Dask, as a user's pool.

    :func:`die_with_parent`, the imports the tasks need, then report ready (see
    :func:`core.engines.local.start_pool` for why waiting for every report is the only reliable way).
    """
    die_with_parent()
    ready.put(warm_worker(workload))


def ready_barrier(directory: str, workers: int, workload: str, timeout_s: float) -> int:
    """One of ``workers`` start-up tasks that return only once every worker runs one of them.

    For pools that take no initializer from their caller (joblib's loky executor): each task warms the
    imports, leaves a file named by its pid in ``directory`` and waits until ``workers`` files are
    there. A worker blocked here cannot take a second one, so all of them have started when the last
    returns, which is what a ready queue tells for the other pools.
    """
    warm_worker(workload)
    open(os.path.join(directory, str(os.getpid())), "w").close()
    deadline = time.monotonic() + timeout_s
    while len(os.listdir(directory)) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(os.listdir(directory))} of {workers} pool workers started within"
                               f" {timeout_s:g} s")
        time.sleep(0.002)
    return os.getpid()


def run_calls(calls: Sequence[Call]) -> list[Any]:
    """Several calls in one submission: what ``ProcessPoolExecutor.map(..., chunksize=n)`` sends a worker."""
    return [func(*args) for func, args in calls]


def root_of(module_name: str) -> tuple[str | None, str | None]:
    """(the sys.path directory the top-level package was found in, the module's file)."""
    top = sys.modules.get(module_name.split(".")[0])
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    top_file = getattr(top, "__file__", None)
    if not top_file:
        return None, path
    top_dir = os.path.dirname(os.path.abspath(top_file))
    root = os.path.dirname(top_dir) if os.path.basename(top_file).startswith("__init__.") else top_dir
    return root, path


def trial(conn: Any, path: str, args_json: str, kwargs_json: str) -> None:
    """In the trial's child (:func:`core.userfunc.try_function`): import, look up, call, time and pickle;
    send one dict back (never raise).

    Here, not in :mod:`core.userfunc` (which imports the engines), because the trial's ``import_s`` is
    your module's import in a fresh interpreter: in a child that had imported Dask and NumPy already, a
    module that imports them would look almost free.
    """
    import importlib
    import json
    import pickle

    sys.stdout = sys.stderr  # what the function prints must not mix with the CLI's JSON on stdout
    module_name, _, name = path.partition(":")
    out: dict[str, Any] = {}
    try:
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(module_name)
        except BaseException as exc:  # SyntaxError, SystemExit in the module: all bad input
            conn.send({"error": "import", "type": type(exc).__name__, "message": str(exc)})
            return
        out["import_s"] = time.perf_counter() - t0
        out["root"], out["module_file"] = root_of(module_name)
        target: Any = module
        for part in name.split("."):
            if not hasattr(target, part):
                owner = getattr(target, "__name__", type(target).__name__)
                conn.send({"error": "missing", "type": "AttributeError",
                           "message": f"{owner} has no attribute {part!r}"})
                return
            target = getattr(target, part)
        if not callable(target):
            conn.send({"error": "not-callable", "type": type(target).__name__, "message": ""})
            return
        args, kwargs = json.loads(args_json), json.loads(kwargs_json)
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            value = target(*args, **kwargs)
        except BaseException as exc:
            conn.send({"error": "raised", "type": type(exc).__name__, "message": str(exc)})
            return
        out["seconds"], out["cpu_s"] = time.perf_counter() - t0, time.thread_time() - c0
        out["value_type"] = type(value).__name__
        try:
            out["value_repr"] = repr(value)[:200]
        except Exception as exc:
            out["value_repr"] = f"<{type(value).__name__}: repr failed with {type(exc).__name__}>"
        try:
            out["pickled_bytes"], out["picklable"], out["pickle_error"] = len(pickle.dumps(value)), True, ""
        except Exception as exc:
            out["pickled_bytes"], out["picklable"] = 0, False
            out["pickle_error"] = f"{type(exc).__name__}: {exc}"
        conn.send(out)
    except BaseException as exc:  # e.g. a result the pipe cannot take: report, never a traceback
        conn.send({"error": "raised", "type": type(exc).__name__, "message": str(exc)})
    finally:
        conn.close()


# --- in the parent ----------------------------------------------------------------------------------

_MISSING = object()
_main_lock = threading.Lock()
_main_users = 0
_main_saved: tuple[Any, Any, Any] | None = None  # (the module, its __spec__, its __file__) while hidden


@contextmanager
def main_not_reimported() -> Iterator[None]:
    """Processes spawned inside this block do not re-run the parent's main module (``__mp_main__``).

    Spawn decides what a child re-imports from ``sys.modules["__main__"]`` at the moment a process
    starts (``multiprocessing.spawn.get_preparation_data``): its ``__spec__.name`` if it was run with
    ``-m`` (then skipped for any ``__main__`` module, e.g. ``python -m core``), else its ``__file__``,
    which the child runs again with ``runpy.run_path``. With neither, the child imports no main at all,
    which is what loky's own start method does. So this hides both attributes while the block runs and
    puts them back after. Nothing the lab's children run lives in ``__main__``: the spec refuses a
    ``__main__:`` function (:func:`core.spec.check_function_path`), tasks are
    :mod:`core.workloads`' functions, and your function's module is imported by name (its directory is
    still on the child's ``sys.path``, which spawn sends apart).

    Keep the block to the process *launches* (a pool's constructor, the calls that make it start its
    workers), not the wait for them to be ready: ``__main__`` is shared by every thread of the process.
    Nested or concurrent blocks (two sessions of the app starting pools) hide once and restore once,
    when the last ends. A worker a pool starts later on its own (``multiprocessing.Pool`` replacing one
    that died) re-imports the main as usual: slower to start, still correct.
    """
    global _main_users, _main_saved
    with _main_lock:
        if _main_users == 0:
            main = sys.modules.get("__main__")
            if main is not None:
                _main_saved = (main, main.__dict__.get("__spec__", _MISSING), main.__dict__.get("__file__", _MISSING))
                main.__spec__ = None
                main.__dict__.pop("__file__", None)
        _main_users += 1
    try:
        yield
    finally:
        with _main_lock:
            _main_users -= 1
            if _main_users == 0 and _main_saved is not None:
                main, spec, file = _main_saved
                _main_saved = None
                for name, value in (("__spec__", spec), ("__file__", file)):
                    if value is _MISSING:
                        main.__dict__.pop(name, None)
                    else:
                        main.__dict__[name] = value
