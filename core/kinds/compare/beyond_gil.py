"""Beyond the GIL: the ``beyond-gil`` preset, built from the interpreters this machine has, and what each arm costs.

The comparison (fib, pure Python, which holds the GIL throughout):

* ``sync``, Dask ``threads ×4`` and a warm ``processes ×4`` pool, on the lab's own interpreter;
* ``subinterpreters ×4``: in this process where the lab runs on 3.12+, else on the machine's newest 3.13+
  (GIL build first) through a warm child process of it (``interpreters@3.13:4``);
* ``threads ×4 @3.13t``: a free-threaded build's threads, where the machine has one whose GIL is off.

Where no 3.13+ interpreter exists the comparison is the first three arms, and the page says how to get one
(:data:`HOW_TO_GET`). The pairs the page teaches: subinterpreters against threads, free-threaded threads against
the lab's threads (one GIL), processes against threads.
"""

from __future__ import annotations

import sys
from typing import Any

from core.interpreters import PythonInfo, best_subinterpreters, discover, free_threaded

HOW_TO_GET = (
    "This machine has no CPython 3.13 or later, so the subinterpreter arm is left out. To add one: "
    "`pyenv install 3.13` (or `uv python install 3.13`, or your system's `python3.13` package), and for a"
    " free-threaded build `pyenv install 3.13t` / `uv python install 3.13t`; the lab finds pyenv's and PATH's"
    " interpreters itself, and any other by path in `GIL_LAB_PYTHONS`. What they would show here: 4 fib tasks on"
    " 4 subinterpreters run in parallel in **one** process (about 1.5-2× sync on 2 cores, like processes, with a"
    " start-up of milliseconds per interpreter instead of a process's tenths of a second); a free-threaded build's"
    " threads do the same with no GIL at all."
)

# What each kind of arm costs and can pass, beside its verdict on the page.
COSTS: dict[str, str] = {
    "threads": "start-up ~nothing; shares every object in place; **one GIL**: pure Python runs one thread at a time.",
    "processes": "start-up a fresh interpreter per worker (spawn: ~35 ms each for a bare worker here, more with"
                 " Dask imported), started in parallel; anything picklable crosses, pickled and copied; one GIL per"
                 " process.",
    "interpreters": "start-up one interpreter per worker in the same process (~10 ms each, plus importing its"
                    " modules anew: ~33 ms for the lab's tasks; 4 took 0.17 s here, 4 bare spawn processes 0.15 s);"
                    " only **shareable** objects cross (str, bytes, int, float, None, tuples of them; 3.14 pickles"
                    " the rest); one GIL per interpreter; C extensions must support subinterpreters (NumPy does"
                    " not yet).",
    "free-threaded": "start-up ~nothing; shares objects in place like threads, with no GIL: Python runs in"
                     " parallel, single-thread code is somewhat slower, and extensions must be built for it.",
}


def _interp_arm(infos: list[PythonInfo], workers: int) -> Any:
    from core.kinds.compare import Arm
    from core.subinterpreters import executor_kind

    if executor_kind() and sys.version_info >= (3, 13):
        return Arm("interpreters", workers)  # in this process
    best = best_subinterpreters(infos)
    return None if best is None else Arm("interpreters", workers, python=best.tag)


def beyond_gil_spec(cores: int, infos: list[PythonInfo] | None = None) -> Any:
    """The ``beyond-gil`` :class:`~core.kinds.compare.CompareSpec` for this machine's interpreters."""
    from core.kinds.compare import Arm, CompareSpec

    infos = discover() if infos is None else infos
    threads = Arm("threads", 4)
    processes = Arm("processes", 4, reuse_pool=True)
    arms = [Arm("sync"), threads, processes]
    pairs = [(processes.label, threads.label)]
    interp = _interp_arm(infos, 4)
    if interp is not None:
        arms.append(interp)
        pairs.insert(0, (interp.label, threads.label))
    ft = free_threaded(infos)
    if ft is not None:
        ft_arm = Arm("threads", 4, python=ft.tag)
        arms.append(ft_arm)
        pairs.insert(1, (ft_arm.label, threads.label))
    # Four fib(26) tasks (~20 ms each): long enough that a pool's per-task cost does not hide the parallelism,
    # short enough that a round of five arms takes ~0.3 s and ten rounds fit the budget.
    return CompareSpec(workload="fib", size=26, tasks=4, arms=tuple(arms), pairs=tuple(pairs))


def cost_of(arm: Any) -> str:
    """The cost sentence of ``arm`` (:data:`COSTS`)."""
    if arm.engine == "interpreters":
        return COSTS["interpreters"]
    if arm.engine == "threads" and arm.python and arm.python.endswith("t"):
        return COSTS["free-threaded"]
    if arm.engine == "processes":
        return COSTS["processes"]
    return COSTS["threads"] if arm.engine == "threads" else "start-up nothing: one thread, the baseline."
