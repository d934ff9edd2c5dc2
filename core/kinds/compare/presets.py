"""Named comparisons: each page's default, shared by the page, the CLI, the tests and the benches.

A preset is chosen so that its lesson is decided quickly and reliably on a small shared machine (2
cores): tasks long enough that a process pool's per-task cost does not hide the parallelism, short
enough that a round takes a fraction of a second and an adaptive comparison is decided in about 3 s.

============== ======================================================= ============================================
preset         arms (baseline first)                                   the lesson
============== ======================================================= ============================================
start          fib 26 × 4: sync, threads ×4, processes ×4 (warm pool)              threads do not speed up pure Python;
                                                                       processes do
cpu-bound      sync, threads ×2, processes ×2 (warm pool)              the same, one worker per core
io-bound       sync, threads × cores (Dask's default), threads ×8      waiting releases the GIL; the pool size
                                                                       decides how many waits overlap
numpy          numpy-matmul: sync, threads ×2, processes ×2            a kernel that releases the GIL scales on
                                                                       threads, without copying
numpy-small    numpy-small: sync, threads ×2, processes ×2             tiny NumPy calls hold the GIL
local-cluster  fib 29 × 2: sync, LocalCluster processes=False 1×2,     one GIL per process, not per worker
               processes=True 2×1 (the same two lanes)
beyond-dask    fib 26 × 2: sync, futures-threads ×2, futures-processes the GIL is Python's: every thread pool takes
               ×2, joblib-loky ×2 (process pools warm; the page adds  turns, every process pool runs in parallel
               multiprocessing and joblib-threads on request)
beyond-dask-io sleep: sync, Dask threads ×8, futures-threads ×8,       waiting releases the GIL in every thread
               joblib-threads ×8                                       pool, not only Dask's
beyond-dask-   numpy-matmul: sync, futures-threads ×2,                 a kernel that releases the GIL scales on
numpy          futures-processes ×2 (warm), joblib-threads ×2          any thread pool
beyond-gil     fib 26 × 4: sync, threads ×4, processes ×4 (warm),      subinterpreters and free-threaded threads
               subinterpreters ×4 (here or @3.13), threads ×4 @3.13t   run pure Python in parallel; one GIL's
               where the machine has them (compare.beyond_gil)             threads do not
============== ======================================================= ============================================

Each preset also names the pairs its page teaches (``CompareSpec.pairs``), decided from the same rounds and
shown first: ``start`` and ``cpu-bound`` processes against threads; ``local-cluster`` processes=True against
processes=False; ``beyond-dask`` each process pool (concurrent.futures, loky) against the concurrent.futures
thread pool, since no Dask engine is among its arms (with Dask's engines added on the page, each pool against its
Dask counterpart); ``beyond-dask-io`` each thread pool against Dask's. The others teach each arm against sync
alone (:data:`PAIR_RULES`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.kinds.compare.spec import Arm, CompareSpec
from core.measure.machine import machine_info

# The pairs each page teaches, by engine: (a, b) decides a against b wherever both are among the arms (the
# first arm of each engine), so a page whose learner changed the workers still gets its own question decided.
PAIR_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "start": (("processes", "threads"),),
    "cpu-bound": (("processes", "threads"),),
    "local-cluster": (("cluster-processes", "cluster-threads"),),
    # Each pool against its Dask counterpart where there is one; with no Dask engine among the arms (the fib
    # preset), each process pool against the concurrent.futures threads: the GIL is Python's, not Dask's.
    "beyond-dask": (("futures-threads", "threads"), ("futures-processes", "processes"),
                    ("futures-processes", "futures-threads"), ("joblib-loky", "futures-threads"),
                    ("multiprocessing", "futures-threads")),
    "beyond-dask-io": (("futures-threads", "threads"), ("joblib-threads", "threads")),
}


def pairs_for(name: str, arms: tuple[Arm, ...]) -> tuple[tuple[str, str], ...]:
    """The pairs preset ``name``'s page teaches among ``arms``, as labels (see :data:`PAIR_RULES`)."""
    first: dict[str, str] = {}
    for arm in arms[1:]:
        first.setdefault(arm.engine, arm.label)
    return tuple((first[a], first[b]) for a, b in PAIR_RULES.get(name, ()) if a in first and b in first)


@dataclass(frozen=True)
class Preset:
    """A named comparison and the page that shows it by default."""

    name: str
    page: str
    lesson: str
    build: Callable[[int], CompareSpec]

    def spec(self, cores: int | None = None) -> CompareSpec:
        return self.build(cores if cores is not None else machine_info().usable_cores)


def _start(cores: int) -> CompareSpec:
    # fib(26), ~13 ms a task: four of them on a warm pool must beat sync by more than the band, the pool's
    # dispatch cost included (at fib(25), ~8 ms, a warm pool of four was now and then "about the same").
    return CompareSpec(workload="fib", size=26, tasks=4,
                       arms=(arms := (Arm("sync"), Arm("threads", 4), Arm("processes", 4, reuse_pool=True))),
                       pairs=pairs_for("start", arms))


def _cpu(cores: int) -> CompareSpec:
    return CompareSpec(workload="fib", size=25, tasks=4,
                       arms=(arms := (Arm("sync"), Arm("threads", 2), Arm("processes", 2, reuse_pool=True))),
                       pairs=pairs_for("cpu-bound", arms))


def _io(cores: int) -> CompareSpec:
    default = Arm("threads", cores, label=f"threads ×{cores} (Dask's default = cores)")
    arms = (Arm("sync"), default, Arm("threads", 8)) if cores != 8 else (Arm("sync"), default, Arm("threads", 16))
    return CompareSpec(workload="sleep", size=0.02, tasks=8, arms=arms)


def _numpy(cores: int) -> CompareSpec:
    return CompareSpec(workload="numpy-matmul", size=800, tasks=4,
                       arms=(Arm("sync"), Arm("threads", 2), Arm("processes", 2, reuse_pool=True)))


def _numpy_small(cores: int) -> CompareSpec:
    return CompareSpec(workload="numpy-small", size=10, tasks=4,
                       arms=(Arm("sync"), Arm("threads", 2), Arm("processes", 2, reuse_pool=True)))


def _cluster(cores: int) -> CompareSpec:
    # A distributed compute pays tens of milliseconds of scheduling whatever its tasks (README, Performance).
    # Two fib(29) tasks on the same two lanes either way, threads of one process or two processes: long
    # enough for the second GIL to show clearly through that cost (at fib(27) two processes came out at
    # 1.03-1.11x, "about the same"), and with claims decided from 7 rounds the round still fits the budget.
    return CompareSpec(workload="fib", size=29, tasks=2,
                       arms=(arms := (Arm("sync"), Arm("cluster-threads", 1, 2), Arm("cluster-processes", 2, 1))),
                       pairs=pairs_for("local-cluster", arms))


def _beyond(cores: int) -> CompareSpec:
    # Four arms: a round near 0.13 s, so about twenty rounds fit the budget (with all six, ten fit, and
    # the thread verdicts stayed undecided on a shared machine). Two fib(26) tasks (~20 ms each): shorter
    # ones would let joblib's per-call cost (2-10 ms: its dispatch threads) blur the loky verdict. The
    # process pools start once, before the rounds, and are reported apart. No Dask engine is among the arms,
    # so the pairs the page teaches are each process pool against the thread pool: the GIL is Python's.
    return CompareSpec(workload="fib", size=26, tasks=2,
                       arms=(arms := (Arm("sync"), Arm("futures-threads", 2),
                                      Arm("futures-processes", 2, reuse_pool=True),
                                      Arm("joblib-loky", 2, reuse_pool=True))),
                       pairs=pairs_for("beyond-dask", arms))


def _beyond_io(cores: int) -> CompareSpec:
    arms = (Arm("sync"), Arm("threads", 8, label="Dask threads ×8"), Arm("futures-threads", 8),
            Arm("joblib-threads", 8))
    return CompareSpec(workload="sleep", size=0.02, tasks=8, arms=arms, pairs=pairs_for("beyond-dask-io", arms))


def _beyond_numpy(cores: int) -> CompareSpec:
    return CompareSpec(workload="numpy-matmul", size=800, tasks=4,
                       arms=(Arm("sync"), Arm("futures-threads", 2), Arm("futures-processes", 2, reuse_pool=True),
                             Arm("joblib-threads", 2)))


def _beyond_gil(cores: int) -> CompareSpec:
    from core.kinds.compare.beyond_gil import beyond_gil_spec  # the arms depend on the interpreters this machine has

    return beyond_gil_spec(cores)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("start", "start", "threads do not speed up pure-Python work; processes do", _start),
    Preset("cpu-bound", "cpu_bound", "one worker per core: threads take turns, processes run in parallel", _cpu),
    Preset("io-bound", "io_bound", "waiting releases the GIL; the pool size decides how many waits overlap", _io),
    Preset("numpy", "numpy_gil", "a NumPy kernel that releases the GIL scales on threads", _numpy),
    Preset("numpy-small", "numpy_gil", "a loop of tiny NumPy calls holds the GIL", _numpy_small),
    Preset("local-cluster", "local_cluster", "processes=True gives each worker its own GIL", _cluster),
    Preset("beyond-dask", "beyond_dask", "the GIL is Python's: thread pools take turns, process pools run in"
           " parallel, whichever library starts them", _beyond),
    Preset("beyond-dask-io", "beyond_dask", "waiting releases the GIL in every thread pool, not only Dask's",
           _beyond_io),
    Preset("beyond-dask-numpy", "beyond_dask", "a NumPy kernel that releases the GIL scales on any thread pool",
           _beyond_numpy),
    Preset("beyond-gil", "beyond_gil", "subinterpreters (one GIL each) and a free-threaded build's threads run pure"
           " Python in parallel; one GIL's threads do not", _beyond_gil),
]}


def preset(name: str, cores: int | None = None) -> CompareSpec:
    """The :class:`CompareSpec` of preset ``name`` on a machine with ``cores`` usable cores (default: this one)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
    return PRESETS[name].spec(cores)
