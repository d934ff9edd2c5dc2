"""The class view's counts: anonymous predictions and outcomes per page and preset, in an embedded SQLite file.

What is stored is counts only: ``(page, preset, choice, outcome) -> n``, and, to count each prediction once, a
SHA-256 of the caller's opaque token (a random per-session id with the run's id) in a table of its own, which
links to no count. No names, no addresses, no free text: every stored string is checked against the question's
own keys or a short key pattern.

Safe under concurrent sessions: one writer at a time (a lock in this process, ``BEGIN IMMEDIATE`` and SQLite's
busy timeout between processes), WAL so that readers (the Instructor page, ``python -m core predictions``) never
wait for a writer. Every failure of the database — a read-only disk, a lock held too long by another program, a
file that is not a database — is caught and becomes one line in :attr:`ClassStore.reason`; nothing escapes to the
page, which turns the class view off and goes on. ``:memory:`` keeps the counts in this process only (one shared
connection), for a server whose disk is read-only (``memory_fallback=True`` switches to it and says so).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from core.predict.grade import OUTCOMES
from core.predict.questions import KEY, Question

MEMORY = ":memory:"
SCHEMA_VERSION = 1
COLUMNS = ["page", "preset", "choice", "label", "outcome", "count"]
BUSY_TIMEOUT_S = 2.0  # a writer waits this long for another; longer is a locked database, not a busy one

RecordStatus = Literal["counted", "already", "ignored", "unavailable"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    page TEXT NOT NULL, preset TEXT NOT NULL, choice TEXT NOT NULL, outcome TEXT NOT NULL,
    label TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (page, preset, choice, outcome));
CREATE TABLE IF NOT EXISTS seen (token TEXT PRIMARY KEY) WITHOUT ROWID;
"""


class ClassStoreUnavailable(Exception):
    """The class database cannot be used; ``str()`` is one line saying why."""


@dataclass(frozen=True)
class Recorded:
    """What :meth:`ClassStore.record` did: ``counted``, ``already`` (this token was counted before), ``ignored``
    (an answer that is not one of the choices) or ``unavailable`` (the database failed), with one line."""

    status: RecordStatus
    line: str = ""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _why(path: str, exc: BaseException) -> str:
    """One line for a database failure: what it means for the class view."""
    text = _one_line(exc)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in text:
        return f"the class database {path} is locked by another program ({text}); the class view is off"
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return f"the class database {path} is not a usable SQLite file ({text}); the class view is off"
    if _read_only(path, exc):
        return f"the class database {path} is on a read-only disk ({text}); the class view is off"
    return f"the class database {path} cannot be used ({type(exc).__name__}: {text}); the class view is off"


def token_hash(token: str) -> str:
    """What is stored of an idempotency token: its SHA-256 (the token itself is never stored)."""
    return hashlib.sha256(("gil-lab-prediction:" + token).encode("utf-8", "replace")).hexdigest()


class ClassStore:
    """Anonymous prediction counts in SQLite (module docstring). Never raises: see :attr:`available`.

    Parameters
    ----------
    path : str
        A file (its folder is created), or ``:memory:``.
    timeout : float
        SQLite's busy timeout in seconds.
    memory_fallback : bool
        When the file cannot be created or written because its disk is read-only, count in memory instead
        (:attr:`note` says so) rather than turn the class view off.
    create : bool
        Create the file if it is missing (a reader such as the CLI passes False: no file appears for a look).
    """

    def __init__(self, path: str, *, timeout: float = BUSY_TIMEOUT_S, memory_fallback: bool = False,
                 create: bool = True) -> None:
        self.path = str(path)
        self.timeout = float(timeout)
        self.note = ""
        self.reason = ""
        self._lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        self._missing = False
        self._broken = False  # the file could not be opened: off for good (an operation's failure is retried)
        try:
            self._open(create)
        except (sqlite3.Error, OSError) as exc:
            if memory_fallback and self.path != MEMORY and _read_only(self.path, exc):
                self.note = (f"the class database's folder ({Path(self.path).parent}) is read-only: counts are kept"
                             " in memory, for this server process only")
                self.path = MEMORY
                try:
                    self._open(True)
                    return
                except sqlite3.Error as again:  # pragma: no cover - memory does not fail
                    exc = again
            self.reason = _why(self.path, exc)
            self._broken = True

    # -- opening ------------------------------------------------------------------------------------

    def _open(self, create: bool) -> None:
        if self.path == MEMORY:
            self._memory = sqlite3.connect(MEMORY, check_same_thread=False, isolation_level=None)
            self._memory.executescript(_SCHEMA)
            return
        file = Path(self.path)
        if not file.exists() and not create:
            self._missing = True  # nothing recorded yet: empty counts, and no file made by a look
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema version {version}, not {SCHEMA_VERSION}: not the lab's file")
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                raise sqlite3.OperationalError("could not switch to WAL (database is locked?)")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("SELECT COUNT(*) FROM counts").fetchone()  # a damaged file fails here, not on a page

    def _connect(self) -> sqlite3.Connection:
        """A connection of its own for one call (files), or the shared one (memory), autocommit."""
        if self._memory is not None:
            return _Shared(self._memory)  # type: ignore[return-value]
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        return _Closing(conn)  # type: ignore[return-value]

    # -- the view's state ---------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the class view can use the database (if not, :attr:`reason` is one line saying why).

        After a failed call (another program held the lock too long) it is False until a call succeeds: every
        call tries again. A file that could not be opened at all stays unavailable.
        """
        return not self.reason

    def _ok(self) -> None:
        if not self._broken:
            self.reason = ""

    def _fail(self, exc: BaseException) -> str:
        self.reason = _why(self.path, exc)
        return self.reason

    # -- record, counts, reset ----------------------------------------------------------------------

    def record(self, question: Question, answer: object, outcome: str, token: str) -> Recorded:
        """Count one graded prediction once per ``token``.

        Parameters
        ----------
        question : Question
            What was asked; ``answer`` must be one of its keys.
        answer : str
            The choice's key; anything else is ignored with one line.
        outcome : {"right", "wrong", "undecided"}
        token : str
            Opaque and unique per (session, comparison run), e.g. a random session id and the run's id: a
            rerun of the page with the same token is not counted again. Only its hash is stored.
        """
        choice = question.choice(answer)
        if choice is None:
            return Recorded("ignored", question.ignored_line(answer))
        if outcome not in OUTCOMES or not KEY.match(question.preset) or not KEY.match(question.page):
            return Recorded("ignored", f"not a prediction to count (outcome {str(outcome)[:20]!r}); ignored.")
        if not isinstance(token, str) or not token:
            return Recorded("ignored", "a prediction needs a token to be counted once; ignored.")
        if self._broken:
            return Recorded("unavailable", self.reason)
        try:
            with self._lock, self._connect() as conn:
                if self._missing:
                    raise sqlite3.OperationalError("the database was opened to read only (create=False)")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    fresh = conn.execute("INSERT OR IGNORE INTO seen (token) VALUES (?)",
                                         (token_hash(token),)).rowcount == 1
                    if fresh:
                        conn.execute("INSERT INTO counts (page, preset, choice, outcome, label, n)"
                                     " VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (page, preset, choice, outcome)"
                                     " DO UPDATE SET n = n + 1, label = excluded.label",
                                     (question.page, question.preset, choice.key, outcome, choice.label))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except (sqlite3.Error, OSError) as exc:
            return Recorded("unavailable", self._fail(exc))
        self._ok()
        return Recorded("counted" if fresh else "already")

    def counts(self) -> pd.DataFrame:
        """Tidy counts: one row per (page, preset, choice, outcome) with its ``label`` and ``count``.

        Empty (with the columns) when nothing was recorded or the database is unavailable (see :attr:`reason`).
        """
        empty = pd.DataFrame({c: pd.Series(dtype="int64" if c == "count" else "object") for c in COLUMNS})
        if self._broken or self._missing:
            return empty
        try:
            with self._lock, self._connect() as conn:  # the lock: ":memory:" is one connection for every thread
                rows = conn.execute("SELECT page, preset, choice, label, outcome, n FROM counts WHERE n > 0"
                                    " ORDER BY page, preset, choice, outcome").fetchall()
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)
            return empty
        self._ok()
        return pd.DataFrame(rows, columns=COLUMNS).astype({"count": "int64"}) if rows else empty

    def reset(self) -> int:
        """Forget every count (and every token); returns how many predictions were counted before.

        Raises
        ------
        ClassStoreUnavailable
            With one line, when the database cannot be written.
        """
        if self._broken:
            raise ClassStoreUnavailable(self.reason)
        if self._missing:
            return 0
        try:
            with self._lock, self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")
                n = conn.execute("SELECT COALESCE(SUM(n), 0) FROM counts").fetchone()[0]
                conn.execute("DELETE FROM counts")
                conn.execute("DELETE FROM seen")
                conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise ClassStoreUnavailable(self._fail(exc)) from None
        self._ok()
        return int(n)

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()


def _read_only(path: str, exc: BaseException) -> bool:
    """Whether ``exc`` came from a disk that cannot be written (not a lock, not a damaged file)."""
    text = str(exc).lower()
    folder = Path(path).parent
    return ("readonly" in text.replace("-", "") or "read-only" in text or isinstance(exc, PermissionError)
            or (folder.exists() and not os.access(folder, os.W_OK)))


class _Closing:
    """A per-call connection closed when the ``with`` block ends (sqlite3's own only ends a transaction)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        return self._conn

    def __exit__(self, *exc: object) -> None:
        self._conn.close()


class _Shared(_Closing):
    """The one ``:memory:`` connection: kept open (closing it would drop the counts)."""

    def __exit__(self, *exc: object) -> None:
        return None
