"""The CPython interpreters on this machine: version, build (GIL or free-threaded), subinterpreters.

Where they are looked for, in order (the first path of an interpreter wins, the others are the same one):

1. the lab's own, ``sys.executable``;
2. ``GIL_LAB_PYTHONS``: paths separated by commas or colons (a setting of the machine, not of a URL);
3. ``python3``, ``python3.X`` and ``python3.Xt`` on ``PATH``;
4. pyenv's versions, ``$PYENV_ROOT/versions/*/bin`` (default ``~/.pyenv``), read directly: pyenv's
   *shims* on PATH run whatever pyenv selects and fail for the others.

Each one is asked about itself by running it with a tiny ``-c`` script (:data:`PROBE`) with a timeout, and
the answer is remembered while the file is unchanged. A missing file, a shim that exits non-zero, a
Python older than 3.8 or one that hangs is one :class:`PythonInfo` with its ``error`` set, never a crash.
``python -m core interpreters [--json]`` prints them; the Interpreter & BLAS page shows them.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

PROBE_TIMEOUT_S = 10.0  # a cold start on a loaded 2-core machine takes well under a second
MIN_VERSION = (3, 8)
ENV_VAR = "GIL_LAB_PYTHONS"
MINORS = range(8, 16)  # python3.8 … python3.15 on PATH

# Runs on any Python 2.7+/3.x (no f-strings), so that a too-old interpreter still says which it is.
PROBE = """
import json, sys, sysconfig
def has(name):
    try:
        __import__(name)
        return True
    except Exception:
        return False
import concurrent.futures as cf
gil = getattr(sys, '_is_gil_enabled', None)
print(json.dumps({
    'executable': sys.executable, 'version': '.'.join(map(str, sys.version_info[:3])),
    'implementation': sys.implementation.name if hasattr(sys, 'implementation') else 'cpython',
    'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),
    'gil_enabled': True if gil is None else bool(gil()),
    'pool_executor': hasattr(cf, 'InterpreterPoolExecutor'),
    'interpreters': has('_interpreters'), 'xxsubinterpreters': has('_xxsubinterpreters'),
    'backport': has('interpreters_backport'),
}))
"""


@dataclass(frozen=True)
class PythonInfo:
    """One interpreter of the machine, as it described itself (or why it could not).

    Attributes
    ----------
    path : str
        Where it was found.
    source : str
        ``lab``, ``GIL_LAB_PYTHONS``, ``PATH`` or ``pyenv``.
    version : str
        ``3.13.0`` (empty when the probe failed).
    free_threaded : bool
        Built with ``Py_GIL_DISABLED`` (``sysconfig``): a 3.13t/3.14t build.
    gil_enabled : bool
        Whether its GIL is on when it starts (False on a free-threaded build, unless ``PYTHON_GIL=1``).
    executor : str
        How it runs subinterpreters with their own GIL: ``InterpreterPoolExecutor`` (3.14+),
        ``_interpreters`` (3.13), ``_xxsubinterpreters`` (3.12), ``interpreters_backport`` (the PyPI backport),
        or ``""`` (none: before 3.12 subinterpreters share one GIL).
    error : str
        One line: why this one cannot be used (empty when it can).
    """

    path: str
    source: str
    version: str = ""
    free_threaded: bool = False
    gil_enabled: bool = True
    executor: str = ""
    executable: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def tag(self) -> str:
        """``3.13`` or ``3.13t`` (free-threaded): how an arm names it (``interpreters@3.13:2``)."""
        return ".".join(self.version.split(".")[:2]) + ("t" if self.free_threaded else "") if self.version else ""

    @property
    def subinterpreters(self) -> bool:
        """Subinterpreters with their own GIL are available (3.12+)."""
        return bool(self.executor)

    @property
    def build(self) -> str:
        return "free-threaded" if self.free_threaded else "GIL"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tag": self.tag, "build": self.build, "subinterpreters": self.subinterpreters}


def _executor(answer: dict[str, Any], version: tuple[int, ...]) -> str:
    if answer.get("pool_executor"):
        return "InterpreterPoolExecutor"
    if version < (3, 12):
        return ""  # PEP 684's per-interpreter GIL arrived in 3.12
    if answer.get("interpreters"):
        return "_interpreters"
    if answer.get("xxsubinterpreters"):
        return "_xxsubinterpreters"
    return "interpreters_backport" if answer.get("backport") else ""


_PROBED: dict[tuple[str, float, int], PythonInfo] = {}


def probe(path: str, source: str = "GIL_LAB_PYTHONS", timeout: float = PROBE_TIMEOUT_S) -> PythonInfo:
    """Ask the interpreter at ``path`` about itself; any failure is the ``error`` line, never an exception.

    Remembered while the file's mtime and size are unchanged (a probe costs a start-up, 20-50 ms).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        return PythonInfo(path, source, error=f"not found ({exc.strerror or exc})")
    key = (os.path.abspath(path), st.st_mtime, st.st_size)
    if key in _PROBED:
        return PythonInfo(**{**asdict(_PROBED[key]), "source": source})
    info = _probe(path, source, timeout)
    _PROBED[key] = info
    return info


def _probe(path: str, source: str, timeout: float) -> PythonInfo:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "PYTHON_GIL")}
    try:
        done = subprocess.run([path, "-c", PROBE], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return PythonInfo(path, source, error=f"did not answer within {timeout:g} s")
    except OSError as exc:
        return PythonInfo(path, source, error=f"cannot run ({exc.strerror or exc})")
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [""])[0].strip()[:200]  # a shim's "command not found"
        return PythonInfo(path, source, error=f"exited with status {done.returncode}" + (f": {first}" if first else ""))
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        version = tuple(int(x) for x in str(answer["version"]).split("."))
    except (ValueError, KeyError, IndexError, TypeError):
        return PythonInfo(path, source, error="did not describe itself (not a CPython?)")
    info = PythonInfo(path, source, version=str(answer["version"]), free_threaded=bool(answer.get("free_threaded")),
                      gil_enabled=bool(answer.get("gil_enabled", True)), executor=_executor(answer, version),
                      executable=str(answer.get("executable") or path))
    if version < MIN_VERSION:
        return PythonInfo(**{**asdict(info), "error": f"Python {info.version} is too old (the lab needs 3.8+)"})
    return info


def candidates(env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """``(path, source)`` of every interpreter to probe, the lab's own first, duplicates (same file) dropped."""
    env = dict(os.environ) if env is None else env
    found: list[tuple[str, str]] = [(sys.executable, "lab")]
    for part in env.get(ENV_VAR, "").replace(",", ":").split(":"):
        if part.strip():
            found.append((os.path.expanduser(part.strip()), ENV_VAR))
    path = env.get("PATH", "")
    for name in ["python3", *(f"python3.{m}{t}" for m in MINORS for t in ("", "t"))]:
        hit = shutil.which(name, path=path)
        if hit:
            found.append((hit, "PATH"))
    root = env.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for version_dir in sorted(glob.glob(os.path.join(root, "versions", "*"))):
        for exe in sorted(glob.glob(os.path.join(version_dir, "bin", "python3*"))):
            if os.path.basename(exe).replace("python3", "").lstrip(".").rstrip("t").isdigit():
                found.append((exe, "pyenv"))
    seen: set[str] = set()
    out = []
    for p, source in found:
        real = os.path.realpath(p)
        if real not in seen:
            seen.add(real)
            out.append((p, source))
    return out


def discover(env: dict[str, str] | None = None) -> list[PythonInfo]:
    """Every interpreter found (see the module docstring), probed in parallel; one per interpreter.

    Two paths to the same interpreter (a symlink, a shim pyenv lets through) are one entry: the first.
    """
    todo = candidates(env)
    with ThreadPoolExecutor(4) as pool:
        infos = list(pool.map(lambda c: probe(*c), todo))
    seen: set[str] = set()
    out = []
    for info in infos:
        same = os.path.realpath(info.executable) if info.ok else ""
        if same and same in seen:
            continue
        seen.add(same)
        out.append(info)
    return out


def find_python(tag: str, env: dict[str, str] | None = None) -> PythonInfo | None:
    """The first working interpreter whose :attr:`PythonInfo.tag` is ``tag`` (``3.13``, ``3.13t``), or None."""
    return next((i for i in discover(env) if i.ok and i.tag == tag), None)


@lru_cache(maxsize=32)  # asked after every round of a comparison: discovery once per process
def gil_enabled_on(tag: str) -> bool:
    """Whether interpreter ``tag``'s GIL is on (True when it is not found: the cautious answer)."""
    found = find_python(tag)
    return True if found is None else found.gil_enabled


def best_subinterpreters(infos: list[PythonInfo]) -> PythonInfo | None:
    """The newest working interpreter with subinterpreters of their own GIL, 3.13+ (GIL builds first)."""
    usable = [i for i in infos if i.ok and i.subinterpreters and i.executor != "interpreters_backport"
              and tuple(int(x) for x in i.version.split(".")[:2]) >= (3, 13)]
    usable.sort(key=lambda i: (not i.free_threaded, tuple(int(x) for x in i.version.split("."))), reverse=True)
    return usable[0] if usable else None


def free_threaded(infos: list[PythonInfo]) -> PythonInfo | None:
    """A working free-threaded interpreter whose GIL is off, if the machine has one."""
    return next((i for i in infos if i.ok and i.free_threaded and not i.gil_enabled), None)


def report_text(infos: list[PythonInfo]) -> str:
    """One line per interpreter, for ``python -m core interpreters``."""
    lines = []
    for i in infos:
        if i.error:
            lines.append(f"  {i.path}  [{i.source}]  error: {i.error}")
        else:
            sub = f"subinterpreters: {i.executor}" if i.executor else "no subinterpreters with their own GIL"
            gil = "GIL" if i.gil_enabled else "GIL off"
            lines.append(f"  {i.tag or '?':<6} {i.version:<8} {i.build:<13} {gil:<7} {sub}  {i.path}  [{i.source}]")
    return "interpreters on this machine:\n" + "\n".join(lines)
