"""The few lines a user would write to run tasks on each engine: what the lab runs, minus the measuring.

One place for them, because three things show them: the pages (beside each arm of a comparison), the
notebooks and scripts a comparison is exported as, and the README. Each engine's code comes in three
parts so that an exported comparison can start every engine first, measure them in interleaved rounds,
and close them at the end, exactly as the lab does:

* ``prelude``: statements a program runs once, before any engine starts, however many engines need them
  (distributed's log level); deduplicated like the imports;
* ``setup``: start the engine once (a pool, a cluster), before anything is timed;
* ``run``: one compute of ``calls`` — a Python expression of a list of ``(function, args)`` pairs that
  the caller defines — returning the list of results; this is what a round times (for a pool started
  anew on every compute, a ``with`` block around that expression);
* ``teardown``: close what ``setup`` started.

For a page, where every task calls one function with one argument (``fib(30)`` four times), ``map_run`` says
the same as ``run`` the way a user writes it: ``pool.map(fib, [30] * 4)`` (placeholders ``{fn}`` and
``{items}``); :meth:`EngineCode.snippet` picks it when given ``fn`` and ``items``.

The tutorial's pitfalls are done right here: every Dask task is impure (``pure=False``: identical
calls are not merged into one task), the processes scheduler gets ``chunksize=1`` (Dask's default of 6
sends a 4-task graph to one process), and pools have an explicit size (a thread pool's default is the
core count).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EngineCode:
    """Source lines for one engine: imports, and the prelude / setup / run / teardown parts (see the module docstring).

    ``name`` is the Python identifier the parts use for the engine's handle (a pool, a client), so that
    several engines can live side by side in one script.
    """

    name: str
    imports: tuple[str, ...]
    setup: str
    run: str
    teardown: str
    map_run: str = ""
    prelude: tuple[str, ...] = ()

    def snippet(self, calls: str = "calls", *, fn: str | None = None, items: str | None = None) -> str:
        """The three parts as one readable block (for a page), with ``calls`` as the list of calls.

        With ``fn`` and ``items`` (e.g. ``"fib"`` and ``"[30] * 4"``), the run part maps ``fn`` over ``items``.
        """
        run = self.map_run.format(fn=fn, items=items) if fn and items and self.map_run else self.run.format(calls=calls)
        parts = [*self.imports, "", *self.prelude, self.setup, run, self.teardown]
        return "\n".join(p for p in parts if p is not None).strip() + "\n"


# Not LocalCluster's ``silence_logs``: it lowers distributed's log handlers for the cluster's life and puts back
# what it found when that cluster closes. With two clusters, the second finds them lowered already and keeps
# nothing to put back, and the first to close puts INFO back while the second closes (checked, distributed
# 2026.8: one cluster closed quietly, two printed 13 INFO lines). Those lines, among them now and then a
# benign CommClosedError traceback when a worker closes while the scheduler writes to it, are not what a
# script or notebook is run to see.
QUIET_DISTRIBUTED = 'logging.getLogger("distributed").setLevel(logging.ERROR)  # distributed\'s INFO chatter off'

# Closing a LocalCluster while one of its workers' heartbeats is in flight makes that worker log a traceback
# from its own process ("Failed to communicate with scheduler during heartbeat", dask/distributed#7192): the
# worker stops its heartbeat timer as it closes, then closes its connections under the heartbeat already
# sent. So the exported code stops every worker's heartbeat first and awaits one last heartbeat while the
# scheduler still answers: the one sent before it has been answered by then. The lab's own clusters close
# the same way, and also wait for a counted in-flight heartbeat (core.engines.quiet).
STOP_HEARTBEATS = (
    "async def stop_heartbeats(dask_worker):  # run on every worker before its cluster closes\n"
    '    """No heartbeat left in flight for the close to cut (it would log a traceback: dask/distributed#7192)."""\n'
    '    dask_worker.periodic_callbacks["heartbeat"].stop()\n'
    "    await dask_worker.heartbeat()  # a last one, answered while the scheduler is still up"
)


# Beyond the GIL: N subinterpreters, each with its own GIL. 3.14 has the public InterpreterPoolExecutor; on 3.13
# the same is a thread pool whose every thread drives one subinterpreter of the stdlib's private _interpreters.
# Either way a task's function is found by module and name there, and what crosses is shareable data only
# (3.13: arguments and result as JSON text; 3.14 pickles them).
INTERPRETER_POOL = (
    "def interpreter_pool(n):\n"
    '    """n subinterpreters, one GIL each: InterpreterPoolExecutor (3.14+), the stdlib\'s _interpreters (3.13)."""\n'
    "    import os, sys\n"
    '    path = f"import sys; sys.path.insert(0, {os.getcwd()!r})"  # where the tasks module is\n'
    "    if sys.version_info >= (3, 14):\n"
    "        from concurrent.futures import InterpreterPoolExecutor\n"
    "        return InterpreterPoolExecutor(n, initializer=exec, initargs=(path,))\n"
    "    from concurrent.futures import ThreadPoolExecutor\n"
    "    if sys.version_info < (3, 13):  # say what it needs, and still run: on threads, which share one GIL\n"
    '        print(f"note: subinterpreters with their own GIL need Python 3.13+; this is {sys.version[:6]}, so"\n'
    '              f" this arm runs on {n} plain threads (one GIL: expect no speed-up)")\n'
    "        return ThreadPoolExecutor(n)\n"
    "    import _interpreters, json, threading\n"
    "    local, ids = threading.local(), []\n"
    "\n"
    "    def start():  # each thread of the pool gets its own subinterpreter (isolated: its own GIL)\n"
    '        local.id = _interpreters.create("isolated")\n'
    "        ids.append(local.id)\n"
    "        _interpreters.exec(local.id, path)\n"
    "\n"
    "    def call(f, *args):  # f by module and name; arguments and result cross as JSON text\n"
    "        r, w = os.pipe()  # a small result (< 64 KB, a pipe's buffer): fib's int\n"
    '        code = (f"import json, os, {f.__module__} as m\\n"\n'
    '                f"os.write({w}, json.dumps(m.{f.__name__}(*json.loads(a))).encode())")\n'
    '        failed = _interpreters.exec(local.id, code, {"a": json.dumps(args)})\n'
    "        os.close(w)  # here, not there: a file descriptor is the whole process's\n"
    "        with os.fdopen(r) as result:\n"
    "            if failed:\n"
    '                raise RuntimeError(f"{failed.type.__name__}: {failed.msg}")\n'
    "            return json.loads(result.read())\n"
    "\n"
    "    class Pool(ThreadPoolExecutor):  # map() submits through submit(): both run in a subinterpreter\n"
    "        def submit(self, f, *args):\n"
    "            return super().submit(call, f, *args)\n"
    "\n"
    "        def shutdown(self, *a, **k):\n"
    "            super().shutdown(*a, **k)\n"
    "            for i in ids:\n"
    "                _interpreters.destroy(i)\n"
    "\n"
    "    return Pool(n, initializer=start)"
)


def _ident(label: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")
    while "__" in out:
        out = out.replace("__", "_")
    return out or "engine"


def engine_code(arm: Any, name: str | None = None) -> EngineCode:
    """The code of ``arm`` (a :class:`core.kinds.compare.Arm`): imports, setup, run (a ``{calls}`` template), teardown.

    Raises ``ValueError`` for an engine with no code here.
    """
    ident = name or _ident(arm.label)
    if getattr(arm, "python", None):
        from dataclasses import replace

        code = engine_code(replace(arm, python=None, label=arm.label), ident)
        return replace(code, imports=(*code.imports, "import sys", "import sysconfig"),
                       prelude=(*code.prelude, _python_check(arm.python, arm.label)))
    delayed = "[dask.delayed(f, pure=False)(*args) for f, args in {calls}]"
    mapped = "[dask.delayed({fn}, pure=False)(x) for x in {items}]"
    if arm.engine == "sync":
        return EngineCode(ident, ("import dask",), f"{ident} = None  # sync: nothing to start, one thread",
                          f'dask.compute(*{delayed}, scheduler="sync")', "",
                          f'dask.compute(*{mapped}, scheduler="sync")')
    if arm.engine == "threads":
        return EngineCode(
            ident, ("import dask", "from concurrent.futures import ThreadPoolExecutor"),
            f"{ident} = ThreadPoolExecutor({arm.workers})  # Dask's default would be one thread per core",
            f'dask.compute(*{delayed}, scheduler="threads", pool={ident})', f"{ident}.shutdown()",
            f'dask.compute(*{mapped}, scheduler="threads", pool={ident})')
    if arm.engine == "processes":
        chunk = f"chunksize={arm.chunksize}"
        if arm.reuse_pool:
            return EngineCode(
                ident, ("import dask", "from concurrent.futures import ProcessPoolExecutor",
                        "from dask.multiprocessing import get_context"),
                f"{ident} = ProcessPoolExecutor({arm.workers}, mp_context=get_context())  # started once, reused",
                f'dask.compute(*{delayed}, scheduler="processes", pool={ident}, {chunk})', f"{ident}.shutdown()",
                f'dask.compute(*{mapped}, scheduler="processes", pool={ident}, {chunk})')
        return EngineCode(ident, ("import dask",), f"{ident} = None  # Dask starts a new pool on every compute",
                          f'dask.compute(*{delayed}, scheduler="processes", num_workers={arm.workers}, {chunk})', "",
                          f'dask.compute(*{mapped}, scheduler="processes", num_workers={arm.workers}, {chunk})')
    if arm.engine in ("cluster-threads", "cluster-processes"):
        processes = arm.engine == "cluster-processes"
        return EngineCode(
            ident, ("import dask", "import logging", "from distributed import Client, LocalCluster"),
            # dashboard_address: a free loopback port, so that two clusters (or one already running) do not
            # collide on 8787 with a warning.
            f"{ident} = Client(LocalCluster(processes={processes}, n_workers={arm.workers},"
            f' threads_per_worker={arm.threads_per_worker}, dashboard_address="127.0.0.1:0"))',
            f"dask.compute(*{delayed}, scheduler={ident})",
            f"{ident}.run(stop_heartbeats); {ident}.close(); {ident}.cluster.close()",
            f"dask.compute(*{mapped}, scheduler={ident})", prelude=(QUIET_DISTRIBUTED, STOP_HEARTBEATS))
    if arm.engine == "external":
        return EngineCode(ident, ("import dask", "from distributed import Client"),
                          f"{ident} = Client({arm.address!r})  # an existing cluster",
                          f"dask.compute(*{delayed}, scheduler={ident})", f"{ident}.close()",
                          f"dask.compute(*{mapped}, scheduler={ident})")
    if arm.engine in ("futures-threads", "futures-processes", "multiprocessing", "joblib-loky", "joblib-threads"):
        return _pool_code(arm, ident)
    if arm.engine == "interpreters":
        return EngineCode(ident, (), f"{ident} = interpreter_pool({arm.workers})  # {arm.workers} subinterpreters",
                          "[fut.result() for fut in [" + ident + ".submit(f, *args) for f, args in {calls}]]",
                          f"{ident}.shutdown()", f"list({ident}.map({{fn}}, {{items}}))", prelude=(INTERPRETER_POOL,))
    raise ValueError(f"no example code for the {arm.engine} engine")


def _python_check(python: str, label: str) -> str:
    """The line an export runs for an arm the lab measured on Python ``python``: is this that interpreter?"""
    version = tuple(int(x) for x in python.rstrip("t").split("."))
    want = "free-threaded " if python.endswith("t") else ""
    test = f"sys.version_info[:2] != {version!r}" + (
        ' or not sysconfig.get_config_var("Py_GIL_DISABLED")' if python.endswith("t") else "")
    return (f"if {test}:  # the lab measured {label} there\n"
            f'    print(f"note: {label} was measured on {want}Python {python}; this is {{sys.version.split()[0]}}'
            f' (run this with python{python})")')


def _pool_code(arm: Any, ident: str) -> EngineCode:
    """Beyond Dask: ``concurrent.futures``, ``multiprocessing`` and joblib, as their users write them.

    Process pools are spawn pools, as the lab starts them (the default on macOS and Windows; safe in a
    program with threads). A pool kept for every compute is started once (``reuse_pool``); otherwise the
    run part starts and closes its own pool around the compute, as ``with Pool(...)`` does.
    """
    n, chunk = arm.workers, arm.chunksize
    submit = "[fut.result() for fut in [{pool}.submit(f, *args) for f, args in {{calls}}]]"
    if arm.engine == "futures-threads":
        return EngineCode(ident, ("from concurrent.futures import ThreadPoolExecutor",),
                          f"{ident} = ThreadPoolExecutor({n})", submit.format(pool=ident), f"{ident}.shutdown()",
                          f"list({ident}.map({{fn}}, {{items}}))")
    if arm.engine == "joblib-threads":
        return EngineCode(ident, ("from joblib import Parallel, delayed",),
                          f'{ident} = Parallel(n_jobs={n}, backend="threading", batch_size={chunk}).__enter__()',
                          f"{ident}(delayed(f)(*args) for f, args in {{calls}})", f"{ident}.__exit__(None, None, None)",
                          f"{ident}(delayed({{fn}})(x) for x in {{items}})")
    if arm.engine == "joblib-loky":
        make = f"Parallel(n_jobs={n}, batch_size={chunk})"  # loky: joblib's default backend
        if arm.reuse_pool:
            return EngineCode(ident, ("from joblib import Parallel, delayed",),
                              f"{ident} = {make}.__enter__()  # loky's workers start once, reused",
                              f"{ident}(delayed(f)(*args) for f, args in {{calls}})",
                              f"{ident}.__exit__(None, None, None)", f"{ident}(delayed({{fn}})(x) for x in {{items}})")
        # joblib keeps loky's workers for the next call (300 s): the lab ends them after every compute.
        end = "\nget_reusable_executor().shutdown(wait=True)  # a new pool for every compute"
        return EngineCode(ident, ("from joblib import Parallel, delayed",
                                  "from joblib.externals.loky import get_reusable_executor"), f"{ident} = {make}",
                          f"{ident}(delayed(f)(*args) for f, args in {{calls}})" + end, "",
                          f"{ident}(delayed({{fn}})(x) for x in {{items}})" + end)
    spawn = 'multiprocessing.get_context("spawn")'
    if arm.engine == "futures-processes":
        imports = ("import multiprocessing", "from concurrent.futures import ProcessPoolExecutor")
        make = f"ProcessPoolExecutor({n}, mp_context={spawn})"
        mapped = "list({pool}.map({{fn}}, {{items}}, chunksize=" + str(chunk) + "))"
        run, close = submit, "{pool}.shutdown()"
    else:  # multiprocessing
        imports = ("import multiprocessing",)
        make = f"{spawn}.Pool({n})"
        mapped = "{pool}.map({{fn}}, {{items}}, chunksize=" + str(chunk) + ")"
        run = "[res.get() for res in [{pool}.apply_async(f, args) for f, args in {{calls}}]]"
        close = "{pool}.close(); {pool}.join()"
    if arm.reuse_pool:
        return EngineCode(ident, imports, f"{ident} = {make}  # started once, reused", run.format(pool=ident),
                          close.format(pool=ident), mapped.format(pool=ident))
    # A new pool for every compute: the run part opens and closes it, in a `with` block.
    return EngineCode(ident, imports, f"{ident} = None  # a new pool for every compute",
                      f"with {make} as {ident}:\n    " + run.format(pool=ident), "",
                      f"with {make} as {ident}:\n    " + mapped.format(pool=ident))
