"""One experiment at a time per process: the run slot.

Two experiments that run at once share the cores and skew each other's timings, so a server runs one
at a time. A plain lock would do that, but a visitor who clicks Run while another's experiment is
going deserves to know what they wait for and for how long, and must be able to give up (leave the
page) without leaving anything behind. :class:`RunSlot` is a reentrant lock for one holder at a time
that knows who holds it, since when, and for about how long; waiters poll it and are told.

It is reentrant per thread because the app holds the slot for a whole comparison (several engines, one
after the other, so no other visitor's run lands between them) while each engine's
:func:`core.engines.run_experiment` takes it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class SlotBusy(RuntimeError):
    """Waited for the slot longer than allowed; the message says who holds it and for how long."""


@dataclass(frozen=True)
class SlotStatus:
    """What a waiting session is told.

    Attributes
    ----------
    busy : bool
        Someone holds the slot.
    label : str
        What the holder is running ("" when free).
    elapsed_s : float
        Seconds since the holder started.
    remaining_s : float
        The holder's estimate minus the time elapsed, never below zero (it may run over its estimate).
    waiting : int
        Sessions waiting, including the one asking.
    """

    busy: bool
    label: str = ""
    elapsed_s: float = 0.0
    remaining_s: float = 0.0
    waiting: int = 0

    def describe(self) -> str:
        if not self.busy:
            return "free"
        left = f"about {self.remaining_s:.0f} s left" if self.remaining_s >= 1 else "finishing"
        queue = f"; {self.waiting - 1} other session(s) also waiting" if self.waiting > 1 else ""
        return f"{self.label} has run {self.elapsed_s:.0f} s ({left}){queue}"


class RunSlot:
    """A reentrant, observable lock: one experiment at a time in this process."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._label = ""
        self._started = 0.0
        self._estimate_s = 0.0
        self._waiting = 0

    def status(self) -> SlotStatus:
        """A snapshot of the slot (safe from any thread)."""
        with self._cond:
            return self._status_locked()

    def _status_locked(self) -> SlotStatus:
        if self._owner is None:
            return SlotStatus(busy=False, waiting=self._waiting)
        elapsed = time.monotonic() - self._started
        return SlotStatus(busy=True, label=self._label, elapsed_s=elapsed,
                          remaining_s=max(0.0, self._estimate_s - elapsed), waiting=self._waiting)

    @property
    def held_by_me(self) -> bool:
        with self._cond:
            return self._owner == threading.get_ident()

    @contextmanager
    def hold(
        self,
        label: str,
        estimate_s: float = 0.0,
        *,
        max_wait_s: float | None = None,
        on_wait: Callable[[SlotStatus], None] | None = None,
        poll_s: float = 0.5,
    ) -> Iterator[float]:
        """Hold the slot for the ``with`` block; yields the seconds spent waiting for it.

        Parameters
        ----------
        label : str
            What this holder runs, as other sessions will be told.
        estimate_s : float
            How long the holder expects to take (for the others' "about N s left").
        max_wait_s : float, optional
            Give up after waiting this long: raises :class:`SlotBusy`. ``None`` waits for ever.
        on_wait : callable, optional
            Called with the current :class:`SlotStatus` about every ``poll_s`` while waiting. It may
            raise to stop waiting (Streamlit does, from its calls, when the session goes away); the
            exception propagates and nothing is held.
        """
        me = threading.get_ident()
        waited = 0.0
        with self._cond:
            if self._owner == me:  # reentrant: the app holds it around several engines' runs
                self._depth += 1
            else:
                t0 = time.monotonic()
                self._waiting += 1
                try:
                    while self._owner is not None:
                        waited = time.monotonic() - t0
                        if max_wait_s is not None and waited >= max_wait_s:
                            raise SlotBusy(
                                f"another experiment is still running after {waited:.0f} s of waiting"
                                f" ({self._status_locked().describe()}): try again in a little while"
                            )
                        if on_wait is not None:
                            status = self._status_locked()
                            self._cond.release()  # never call out while holding the lock
                            try:
                                on_wait(status)
                            finally:
                                self._cond.acquire()
                            if self._owner is None:
                                break
                        timeout = poll_s if max_wait_s is None else min(poll_s, max(0.0, max_wait_s - waited))
                        self._cond.wait(timeout)
                finally:
                    self._waiting -= 1
                waited = time.monotonic() - t0
                self._owner, self._depth = me, 1
                self._label, self._estimate_s, self._started = label, float(estimate_s), time.monotonic()
        try:
            yield waited
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._label = ""
                    self._cond.notify_all()


RUN_SLOT = RunSlot()
"""The process-wide slot every experiment runs in (the app's server is one process)."""
