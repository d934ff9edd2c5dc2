"""The ``interpreter`` report: the interpreter and the BLAS thread pools under every measurement.

Two things decide what threads can do before Dask has any say:

* the interpreter: whether this CPython has a GIL at all (free-threaded 3.13t/3.14t builds can run
  without one), and how often it hands the GIL between threads (the switch interval);
* native thread pools: NumPy's BLAS (OpenBLAS, MKL) starts its own threads for a matrix product.
  Dask's ``threads`` scheduler running several products at once, each with BLAS threads for every
  core, asks for more threads than there are cores: *oversubscription*, which the ``blas`` kind
  measures (:mod:`core.kinds.blas`).

A report, not a measurement: ``python -m core interpreter`` prints it (an info verb of
:mod:`core.cli`), the Interpreter & BLAS page shows it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import sys
import sysconfig
from dataclasses import asdict, dataclass
from typing import Any

from core.measure.machine import GilFacts, gil_enabled, usable_cores

# Extension modules can switch the GIL back on when imported (a free-threaded build re-enables it for
# any extension that does not declare itself thread-safe), so the GIL is read after importing what
# the lab itself runs on.
LAB_IMPORTS = ("numpy", "pandas", "psutil", "threadpoolctl", "msgpack", "dask", "distributed")


@dataclass(frozen=True)
class InterpreterInfo(GilFacts):
    """This interpreter: build, GIL status, switch interval and the cores it may use.

    Attributes
    ----------
    implementation, version, build, compiler : str
        ``platform.python_implementation()``, ``python_version()``, ``python_build()`` (tag and date)
        and ``python_compiler()``.
    executable : str
        ``sys.executable``.
    free_threaded_build : bool
        Built with ``Py_GIL_DISABLED`` (3.13t/3.14t): the GIL *can* be off.
    gil_enabled : bool
        Whether the GIL is on right now (read after importing :data:`LAB_IMPORTS`). Always True on
        a standard build.
    switch_interval_s : float
        ``sys.getswitchinterval()``: how long a thread waiting for the GIL waits before asking the
        holder to drop it.
    usable_cores, logical_cores : int
        Cores this process may run on (affinity, cgroup quota) and ``os.cpu_count()``.
    platform : str
        Operating system and architecture.
    """

    implementation: str
    version: str
    build: str
    compiler: str
    executable: str
    free_threaded_build: bool
    gil_enabled: bool
    switch_interval_s: float
    usable_cores: int
    logical_cores: int
    platform: str


@dataclass(frozen=True)
class BlasPool:
    """One native thread pool loaded in this process, as threadpoolctl reports it.

    Attributes
    ----------
    user_api : str
        ``blas`` or ``openmp``.
    internal_api : str
        ``openblas``, ``mkl``, ``blis``, ``openmp`` …
    library : str
        The library's file name (e.g. ``libscipy_openblas64_-….so``).
    version : str or None
        Library version, when it says.
    num_threads : int
        Threads the pool uses *now* (a run that pinned it leaves its limit in force).
    threading_layer : str or None
        E.g. ``pthreads`` or ``openmp``.
    """

    user_api: str
    internal_api: str
    library: str
    version: str | None
    num_threads: int
    threading_layer: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _import_lab_modules() -> None:
    for name in LAB_IMPORTS:
        # Optional for this report: whatever is installed is what counts.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def interpreter_info() -> InterpreterInfo:
    """Describe this interpreter now (the GIL is read after importing the lab's extension modules).

    Returns
    -------
    InterpreterInfo
        Build, GIL status, switch interval and cores.
    """
    _import_lab_modules()
    return InterpreterInfo(
        implementation=platform.python_implementation(),
        version=platform.python_version(),
        build=" ".join(platform.python_build()),
        compiler=platform.python_compiler(),
        executable=sys.executable,
        free_threaded_build=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        gil_enabled=gil_enabled(),
        switch_interval_s=sys.getswitchinterval(),
        usable_cores=usable_cores(),
        logical_cores=os.cpu_count() or 1,
        platform=platform.platform(terse=True),
    )


def blas_info() -> list[BlasPool]:
    """The BLAS and OpenMP thread pools loaded in this process (NumPy is imported first).

    Returns
    -------
    list of BlasPool
        One entry per pool threadpoolctl finds; empty if none is loaded.
    """
    import numpy  # noqa: F401  (loads NumPy's BLAS so threadpoolctl can find it)
    from threadpoolctl import threadpool_info

    return [
        BlasPool(
            user_api=str(p.get("user_api")),
            internal_api=str(p.get("internal_api")),
            library=os.path.basename(str(p.get("filepath") or p.get("prefix") or "")),
            version=p.get("version"),
            num_threads=int(p.get("num_threads") or 0),
            threading_layer=p.get("threading_layer"),
        )
        for p in threadpool_info()
    ]


def blas_default_threads() -> int | None:
    """BLAS threads the library uses unless told otherwise (read before GIL Lab first pinned them)."""
    from core.workloads import blas_default_threads as default

    return default()


def interpreter_report() -> dict[str, Any]:
    """``interpreter`` (:func:`interpreter_info`), ``blas`` (:func:`blas_info`) and ``blas_default_threads``."""
    info = interpreter_info()
    return {
        "interpreter": info.to_dict(),
        "blas": [p.to_dict() for p in blas_info()],
        "blas_default_threads": blas_default_threads(),
    }


def report_text(report: dict[str, Any]) -> str:
    """The command line's human version of :func:`interpreter_report`."""
    info = report["interpreter"]
    width = max(len(k) for k in info)
    lines = ["interpreter:"] + [f"  {k:<{width}}  {v}" for k, v in info.items()]
    lines.append("BLAS / OpenMP thread pools:")
    if not report["blas"]:
        lines.append("  none loaded")
    for p in report["blas"]:
        lines.append(f"  {p['user_api']:<7} {p['internal_api']:<9} {p['version'] or '?':<14}"
                     f" {p['num_threads']} thread(s) now · {p['threading_layer'] or '-'} · {p['library']}")
    lines.append(f"BLAS default threads: {report['blas_default_threads']}")
    return "\n".join(lines)
