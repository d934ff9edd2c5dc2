"""The shared result store: measured results of any kind, kept for every visitor of a server.

A page must know *before* it measures whether a result is there (to show it on page load without
starting a multi-second run), and Streamlit's caches offer no "is this cached?" question. One store
answers both, so "cached" can never disagree with what is cached. The app keeps one instance in
``st.cache_resource`` (``pages/shell/resources.py``); nothing here imports Streamlit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class ResultStore:
    """Results by (spec, nonce), least recently used dropped first; safe to share between sessions.

    Keys use ``repr(spec)``: equal specs have equal reprs, also across a development reload of ``core``
    (which makes old and new spec classes compare unequal). ``nonce`` changes only when a visitor asks
    for a fresh measurement ("Measure again"). A comparison is stored whole, as one result: its arms
    are never mixed with an arm measured at another moment.
    """

    def __init__(self, max_entries: int = 300) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._max = max_entries

    @staticmethod
    def key(spec: Any, nonce: int) -> tuple[str, int]:
        return repr(spec), nonce

    def get(self, spec: Any, nonce: int) -> Any | None:
        with self._lock:
            found = self._items.get(self.key(spec, nonce))
            if found is not None:
                self._items.move_to_end(self.key(spec, nonce))
            return found

    def put(self, spec: Any, nonce: int, result: Any) -> None:
        with self._lock:
            self._items[self.key(spec, nonce)] = result
            self._items.move_to_end(self.key(spec, nonce))
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def has(self, spec: Any, nonce: int) -> bool:
        with self._lock:
            return self.key(spec, nonce) in self._items

    def has_all(self, specs: list[Any], nonce: int) -> bool:
        with self._lock:
            return all(self.key(s, nonce) in self._items for s in specs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
