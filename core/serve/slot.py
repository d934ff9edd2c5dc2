"""One experiment at a time per process: the run slot, and a queue in which waiting costs nothing.

Two experiments that run at once share the cores and skew each other's timings, so a server runs one
at a time. A plain lock would do that, but a visitor who clicks Run while another's experiment is
going deserves to know what they wait for, their place and for how long, and must be able to give up
(leave the page) without leaving anything behind. :class:`RunSlot` is a reentrant lock for one holder at
a time that knows who holds it, since when, and for about how long, with a first-come first-served queue.

**Waiting must not slow the run it waits for.** A server's sessions are threads of the process that
measures, sharing its GIL: a class of 29 waiters that each woke every half second to redraw their page
made a comparison take twice its time (its sync and thread arms ran in this process). A waiter here sleeps
on the slot's condition and is woken when the slot changes hands; it checks ``should_stop`` (a cheap
probe, no drawing) every ``check_s`` and calls ``on_wait`` (which draws) when it joins, when it becomes
next, and otherwise on its own timer of about ``refresh_s`` (spread among the waiters).

It is reentrant per thread because the app holds the slot for a whole comparison (several engines, one
after the other, so no other visitor's run lands between them) while each engine's
:func:`core.measure.run.run_experiment` takes it again.
"""

from __future__ import annotations

import itertools
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
    place : int
        The asker's place in the queue: 1 means it is next (0 when it is not waiting).
    wait_s : float
        About how long the asker will wait: the holder's time left plus the estimates of every session
        ahead of it in the queue.
    """

    busy: bool
    label: str = ""
    elapsed_s: float = 0.0
    remaining_s: float = 0.0
    waiting: int = 0
    place: int = 0
    wait_s: float = 0.0

    def describe(self) -> str:
        if not self.busy:
            return "free"
        left = f"about {self.remaining_s:.0f} s left" if self.remaining_s >= 1 else "finishing"
        if self.place > 1:
            queue = f"; you are number {self.place} in the queue, about {self.wait_s:.0f} s from your turn"
        elif self.waiting > 1:
            queue = f"; {self.waiting - 1} other session(s) also waiting"
        else:
            queue = ""
        return f"{self.label} has run {self.elapsed_s:.0f} s ({left}){queue}"


class RunSlot:
    """A reentrant, observable lock with a first-come first-served queue: one experiment at a time."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._depth = 0
        self._label = ""
        self._started = 0.0
        self._estimate_s = 0.0
        self._tickets = itertools.count()
        self._queue: dict[int, float] = {}  # ticket -> estimate, in arrival order (dicts keep insertion order)

    def status(self) -> SlotStatus:
        """A snapshot of the slot (safe from any thread)."""
        with self._cond:
            return self._status_locked()

    def _status_locked(self, ticket: int | None = None) -> SlotStatus:
        place, ahead = 0, 0.0
        if ticket is not None and ticket in self._queue:
            for t, estimate in self._queue.items():
                if t == ticket:
                    break
                place += 1
                ahead += estimate
            place += 1
        if self._owner is None:
            return SlotStatus(busy=False, waiting=len(self._queue), place=place, wait_s=ahead)
        elapsed = time.monotonic() - self._started
        remaining = max(0.0, self._estimate_s - elapsed)
        return SlotStatus(busy=True, label=self._label, elapsed_s=elapsed, remaining_s=remaining,
                          waiting=len(self._queue), place=place, wait_s=remaining + ahead)

    @property
    def held_by_me(self) -> bool:
        with self._cond:
            return self._owner == threading.get_ident()

    def _my_turn(self, ticket: int) -> bool:
        return self._owner is None and next(iter(self._queue)) == ticket

    @contextmanager
    def hold(
        self,
        label: str,
        estimate_s: float = 0.0,
        *,
        max_wait_s: float | None = None,
        on_wait: Callable[[SlotStatus], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        check_s: float = 1.0,
        refresh_s: float = 15.0,
        poll_s: float | None = None,
    ) -> Iterator[float]:
        """Hold the slot for the ``with`` block; yields the seconds spent waiting for it.

        Parameters
        ----------
        label : str
            What this holder runs, as other sessions will be told.
        estimate_s : float
            How long the holder expects to take (for the others' "about N s left" and their place's wait).
        max_wait_s : float, optional
            Give up after waiting this long: raises :class:`SlotBusy`. ``None`` waits for ever.
        on_wait : callable, optional
            Called with the current :class:`SlotStatus` when this session joins the queue, when it becomes
            next, and about every ``refresh_s`` (1 to 1.6 times it, spread by arrival). It may raise to stop waiting
            (Streamlit does, from its calls, when the session goes away); the exception propagates and
            nothing is held.
        should_stop : callable, optional
            Asked every ``check_s`` while waiting (a cheap probe that draws nothing, such as "has this
            browser session gone?"); True gives up the wait with :class:`SlotBusy`.
        poll_s : float, optional
            Old name of ``check_s`` (also bounds ``refresh_s``), for callers that want faster updates.
        """
        if poll_s is not None:
            check_s, refresh_s = poll_s, min(refresh_s, poll_s)
        me = threading.get_ident()
        waited = 0.0
        with self._cond:
            if self._owner == me:  # reentrant: the app holds it around several engines' runs
                self._depth += 1
            else:
                t0 = time.monotonic()
                ticket = next(self._tickets)
                self._queue[ticket] = float(estimate_s)
                try:
                    told: int | None = None  # the place this waiter was last told
                    told_at = -refresh_s
                    # Each waiter's own period, spread by its ticket: a class that joined at once must not
                    # redraw all at once either.
                    every_s = refresh_s * (1.0 + 0.1 * (ticket % 7))
                    while not self._my_turn(ticket):
                        now = time.monotonic()
                        waited = now - t0
                        if max_wait_s is not None and waited >= max_wait_s:
                            raise SlotBusy(
                                f"another experiment is still running after {waited:.0f} s of waiting"
                                f" ({self._status_locked(ticket).describe()}): try again in a little while"
                            )
                        status = self._status_locked(ticket)
                        # Told when it joins, when it becomes next, and on its own timer; not each time the slot
                        # changes hands: then every waiter's place changes at once, and all of them redrawing in the
                        # measuring process would land on the first rounds of the run that just began.
                        if on_wait is not None and (told is None or (status.place <= 1 < told)
                                                    or now - told_at >= every_s):
                            told, told_at = status.place, now
                            self._cond.release()  # never call out while holding the lock
                            try:
                                on_wait(status)
                            finally:
                                self._cond.acquire()
                            continue  # the slot may have changed hands meanwhile
                        if should_stop is not None:
                            self._cond.release()
                            try:
                                stop = should_stop()
                            finally:
                                self._cond.acquire()
                            if stop:
                                raise SlotBusy("the wait was given up: the session went away")
                            if self._my_turn(ticket):
                                break
                        timeout = check_s if max_wait_s is None else min(check_s, max(0.0, max_wait_s - waited))
                        self._cond.wait(timeout)
                finally:
                    del self._queue[ticket]
                    self._cond.notify_all()  # the next in line may be the one behind this ticket
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
