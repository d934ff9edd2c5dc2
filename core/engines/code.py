"""The few lines a user would write to run tasks on each engine: what the lab runs, minus the measuring.

One place for them, because three things show them: the pages (beside each arm of a comparison), the
notebooks and scripts a comparison is exported as, and the README. Each engine's code comes in three
parts so that an exported comparison can start every engine first, measure them in interleaved rounds,
and close them at the end, exactly as the lab does:

* ``setup``: start the engine once (a pool, a cluster), before anything is timed;
* ``run``: one compute of ``calls`` — a Python expression of a list of ``(function, args)`` pairs that
  the caller defines — returning the list of results; this is what a round times;
* ``teardown``: close what ``setup`` started.

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
    """Source lines for one engine: imports, and the setup / run / teardown parts (see the module docstring).

    ``name`` is the Python identifier the parts use for the engine's handle (a pool, a client), so that
    several engines can live side by side in one script.
    """

    name: str
    imports: tuple[str, ...]
    setup: str
    run: str
    teardown: str

    def snippet(self, calls: str = "calls") -> str:
        """The three parts as one readable block (for a page), with ``calls`` as the list of calls."""
        parts = [*self.imports, "", self.setup, self.run.format(calls=calls), self.teardown]
        return "\n".join(p for p in parts if p is not None).strip() + "\n"


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
    delayed = "[dask.delayed(f, pure=False)(*args) for f, args in {calls}]"
    if arm.engine == "sync":
        return EngineCode(ident, ("import dask",), f"{ident} = None  # sync: nothing to start, one thread",
                          f'dask.compute(*{delayed}, scheduler="sync")', "")
    if arm.engine == "threads":
        return EngineCode(
            ident, ("import dask", "from concurrent.futures import ThreadPoolExecutor"),
            f"{ident} = ThreadPoolExecutor({arm.workers})  # Dask's default would be one thread per core",
            f'dask.compute(*{delayed}, scheduler="threads", pool={ident})', f"{ident}.shutdown()")
    if arm.engine == "processes":
        chunk = f"chunksize={arm.chunksize}"
        if arm.reuse_pool:
            return EngineCode(
                ident, ("import dask", "from concurrent.futures import ProcessPoolExecutor",
                        "from dask.multiprocessing import get_context"),
                f"{ident} = ProcessPoolExecutor({arm.workers}, mp_context=get_context())  # started once, reused",
                f'dask.compute(*{delayed}, scheduler="processes", pool={ident}, {chunk})', f"{ident}.shutdown()")
        return EngineCode(ident, ("import dask",), f"{ident} = None  # Dask starts a new pool on every compute",
                          f'dask.compute(*{delayed}, scheduler="processes", num_workers={arm.workers}, {chunk})', "")
    if arm.engine in ("cluster-threads", "cluster-processes"):
        processes = arm.engine == "cluster-processes"
        return EngineCode(
            ident, ("import dask", "from distributed import Client, LocalCluster"),
            f"{ident} = Client(LocalCluster(processes={processes}, n_workers={arm.workers},"
            f" threads_per_worker={arm.threads_per_worker}, dashboard_address=None))",
            f"dask.compute(*{delayed}, scheduler={ident})", f"{ident}.close(); {ident}.cluster.close()")
    if arm.engine == "external":
        return EngineCode(ident, ("import dask", "from distributed import Client"),
                          f"{ident} = Client({arm.address!r})  # an existing cluster",
                          f"dask.compute(*{delayed}, scheduler={ident})", f"{ident}.close()")
    raise ValueError(f"no example code for the {arm.engine} engine")
