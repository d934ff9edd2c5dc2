"""The lab's limits, from one place: defaults, then ``st.secrets`` (passed in), then environment variables.

A shared deployment (Streamlit Community Cloud: about 2 cores, 1–3 GB, many visitors) needs tight
limits; a learner on a laptop or an HPC login node wants to raise them. Both read the same settings:

========================================  =========  =========  ================================================
setting (env var / secrets key)            shared     local      what it limits
========================================  =========  =========  ================================================
``GIL_LAB_MODE`` / ``mode``                shared     local      picks the column of defaults below
``GIL_LAB_MAX_SECONDS``                    45         600        refuse a click estimated longer than this
``GIL_LAB_MAX_LOCAL_SECONDS``              30         600        the same, for sync/threads/processes arms,
                                                                 which cannot be cancelled once started
``GIL_LAB_MAX_WAIT_SECONDS``               180        1800       how long a session queues for the run slot
``GIL_LAB_MEMORY_FRACTION``                0.5        0.8        share of available memory one run may need
``GIL_LAB_COMPARE_SECONDS``                3          10         adaptive rounds of a comparison stop adding
                                                                 rounds after about this (start-ups apart)
``GIL_LAB_ALLOW_EXTERNAL_CLUSTER``         false      true       show the "your own Dask cluster" field
``GIL_LAB_ALLOW_USER_FUNCTIONS``           false      true       the "Your function" page: import and run a
                                                                 function named by the visitor
``GIL_LAB_CLASS_DB`` / ``class_db``        (file)     (file)     the class view's SQLite file of anonymous
                                                                 prediction counts; default
                                                                 ``<repo>/.gil_lab/class.sqlite3``, or
                                                                 ``:memory:`` (this server process only)
``GIL_LAB_INSTRUCTOR_KEY``                 (empty)    (empty)    the Instructor page's key; empty: no page.
                                                                 Never shown, logged or put in a warning
========================================  =========  =========  ================================================

Environment variables win over secrets so that an operator can override a checked-in
``secrets.toml``. A value that does not parse, or is out of range, is ignored with a warning (kept in
:attr:`Settings.warnings`, shown by the app) and the default is used: bad settings never stop the app.
This module does not import Streamlit: the app passes ``st.secrets`` in as a mapping.
"""

from __future__ import annotations

import hmac
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

Mode = Literal["shared", "local"]

ENV_PREFIX = "GIL_LAB_"

# (low, high) for each numeric setting: outside this a value is a typo, not a wish.
_BOUNDS: dict[str, tuple[float, float]] = {
    "max_seconds": (1.0, 24 * 3600.0),
    "max_local_seconds": (1.0, 24 * 3600.0),
    "max_wait_seconds": (0.0, 24 * 3600.0),
    "memory_fraction": (0.05, 0.95),
    "compare_seconds": (0.5, 600.0),
}

_FLAGS = ("allow_external_cluster", "allow_user_functions", "warm_start")
_TEXTS = ("class_db", "instructor_key")
_SECRET = ("instructor_key",)  # its value never goes into a warning, describe() or repr()
_MAX_TEXT = 4096
# Beside the app, in a folder git ignores: a restart of the server keeps the class's counts.
DEFAULT_CLASS_DB = str(Path(__file__).resolve().parents[2] / ".gil_lab" / "class.sqlite3")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _check_text(name: str, value: Any, empty_ok: bool, show: bool = True) -> None:
    """A text setting: a string, not too long, no control characters (a path or a key, never a line break)."""
    shown = "" if name in _SECRET or not show else f" (got {str(value)[:40]!r})"
    if not isinstance(value, str) or (not value and not empty_ok) or len(value) > _MAX_TEXT \
            or any(not c.isprintable() for c in value):
        raise ValueError(f"{name} must be {'' if empty_ok else 'non-empty '}text of at most {_MAX_TEXT} printable"
                         f" characters{shown}")


@dataclass(frozen=True)
class Settings:
    """Validated limits for running experiments (see the module docstring for the table).

    Attributes
    ----------
    mode : {"shared", "local"}
        Which defaults apply: ``shared`` (safe for a public server, the default) or ``local``.
    max_seconds : float
        A click whose estimate exceeds this is refused with the estimate and what to change.
    max_local_seconds : float
        The same limit for the arms on sync, threads and processes. Those run inside the server's own
        process tree and cannot be cancelled mid-compute, so on a shared server they are capped harder
        than cluster runs, which are cancelled when their session goes away or their deadline passes.
    max_wait_seconds : float
        How long a session waits for another session's run to end before giving up.
    memory_fraction : float
        Largest share of the available memory one run may need.
    compare_seconds : float
        A comparison with adaptive rounds adds rounds until every verdict is decided or about this many
        seconds have passed (pools and clusters are started before, and reused between clicks).
    allow_external_cluster : bool
        Whether the app offers a field for the address of an existing Dask cluster. Off on a shared
        deployment: connecting a public server to arbitrary addresses is not something to offer strangers.
    allow_user_functions : bool
        Whether the "Your function" page imports and runs a function a visitor names (``module:name``).
        Off on a shared deployment: importing a module runs its code, on the server, for whoever asks.
    warm_start : bool
        Whether the server starts the start page's engines (its warm process pool) in the background as soon
        as it serves its first page, so that a learner's first click measures instead of starting a pool.
    class_db : str
        The SQLite file of the class view's anonymous counts (:class:`core.predict.ClassStore`), or ``:memory:``.
    instructor_key : str
        The key of the Instructor page; empty (the default): no Instructor page. Compare it with
        :func:`instructor_ok` only; it is left out of ``repr()`` and :meth:`describe`.
    warnings : tuple of str
        Settings that were ignored, and why.
    """

    mode: Mode = "shared"
    max_seconds: float = 45.0
    max_local_seconds: float = 30.0
    max_wait_seconds: float = 180.0
    memory_fraction: float = 0.5
    compare_seconds: float = 3.0
    allow_external_cluster: bool = False
    allow_user_functions: bool = False
    warm_start: bool = True
    class_db: str = DEFAULT_CLASS_DB
    instructor_key: str = field(default="", repr=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.mode not in ("shared", "local"):
            raise ValueError(f"mode must be 'shared' or 'local' (got {self.mode!r})")
        for name, (low, high) in _BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or not low <= value <= high:
                raise ValueError(f"{name} must be a number from {low:g} to {high:g} (got {value!r})")
            object.__setattr__(self, name, float(value))
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false (got {getattr(self, name)!r})")
        for name in _TEXTS:
            _check_text(name, getattr(self, name), empty_ok=name == "instructor_key")

    def local_limit(self, scheduler: str) -> float:
        """Budget in seconds for one arm on ``scheduler`` (cluster arms can be cancelled; local ones not)."""
        from core.spec import UNCANCELLABLE_SCHEDULERS

        if scheduler in UNCANCELLABLE_SCHEDULERS:
            return min(self.max_seconds, self.max_local_seconds)
        return self.max_seconds

    def describe(self) -> str:
        """One line for the app and logs."""
        return (
            f"{self.mode} mode: runs up to {self.max_seconds:g} s (local engines {self.local_limit('sync'):g} s),"
            f" comparisons decided within about {self.compare_seconds:g} s,"
            f" queue up to {self.max_wait_seconds:g} s, memory up to {self.memory_fraction:.0%} of what is free,"
            f" external clusters {'allowed' if self.allow_external_cluster else 'off'},"
            f" your own functions {'allowed' if self.allow_user_functions else 'off'}"
        )


LOCAL_DEFAULTS = Settings(mode="local", max_seconds=600.0, max_local_seconds=600.0, max_wait_seconds=1800.0,
                          memory_fraction=0.8, compare_seconds=10.0, allow_external_cluster=True,
                          allow_user_functions=True)
SHARED_DEFAULTS = Settings()

_KEYS = [f.name for f in fields(Settings) if f.name not in ("mode", "warnings")]


def instructor_ok(settings: Settings, given: object) -> bool:
    """Whether ``given`` is the instructor key (compared in constant time); False when no key is set.

    Parameters
    ----------
    settings : Settings
    given : str
        What the visitor typed; anything that is not a string is not the key.
    """
    key = settings.instructor_key
    if not key or not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8", "replace"))


def _parse(name: str, raw: Any) -> Any:
    """Turn a secrets value or environment string into the setting's type; raise ValueError if it is not one."""
    if name in _TEXTS:
        text = str(raw).strip() if not isinstance(raw, (dict, list)) else None
        if text is None:
            raise ValueError("expected text")
        _check_text(name, text, empty_ok=name == "instructor_key", show=False)
        return text
    if name in _FLAGS:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("expected true or false")
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    value = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
    low, high = _BOUNDS[name]
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"expected a number from {low:g} to {high:g}")
    return value


def load_settings(secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings: defaults for the mode, overridden by ``secrets``, overridden by the environment.

    Parameters
    ----------
    secrets : mapping, optional
        ``st.secrets`` (or any mapping). Keys are the setting names in lower case (``max_seconds``), or
        the environment names (``GIL_LAB_MAX_SECONDS``); a ``[gil_lab]`` table is read too.
    environ : mapping, optional
        Defaults to ``os.environ``.

    Returns
    -------
    Settings
        Never raises for bad values: they are skipped and listed in ``warnings``.
    """
    env = os.environ if environ is None else environ
    sources: list[tuple[str, Mapping[str, Any]]] = []
    if secrets:
        flat: dict[str, Any] = {}
        try:
            table = secrets.get("gil_lab")
            if isinstance(table, Mapping):
                flat.update({str(k).lower(): v for k, v in table.items()})
            flat.update({str(k).lower(): v for k, v in secrets.items() if not isinstance(v, Mapping)})
        except Exception as exc:  # a broken secrets file must not take the app down
            return replace(SHARED_DEFAULTS, warnings=(f"secrets could not be read: {exc}",))
        flat = {k.removeprefix(ENV_PREFIX.lower()): v for k, v in flat.items()}
        sources.append(("secrets", flat))
    sources.append(("environment", {k[len(ENV_PREFIX):].lower(): v for k, v in env.items()
                                    if k.startswith(ENV_PREFIX)}))

    warnings: list[str] = []
    mode: Mode = "shared"
    for where, values in sources:
        if "mode" in values:
            text = str(values["mode"]).strip().lower()
            if text in ("shared", "local"):
                mode = text  # type: ignore[assignment]
            else:
                warnings.append(f"mode from {where}: expected 'shared' or 'local' (got {str(values['mode'])[:40]!r})")
    base = LOCAL_DEFAULTS if mode == "local" else SHARED_DEFAULTS
    chosen: dict[str, Any] = {}
    for where, values in sources:
        for name in _KEYS:
            if name not in values:
                continue
            try:
                chosen[name] = _parse(name, values[name])
            except (ValueError, TypeError, OverflowError) as exc:
                got = "" if name in _SECRET else f" (got {str(values[name])[:40]!r})"
                warnings.append(f"{ENV_PREFIX}{name.upper()} from {where} ignored: {exc}{got}")
    return replace(base, **chosen, warnings=tuple(warnings))
