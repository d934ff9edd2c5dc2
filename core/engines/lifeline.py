"""Kept for importers of the old name: the worker-side helpers now live in :mod:`core.workers`.

They moved because a spawned worker imports them by reference, and importing ``core.engines.lifeline``
imports the ``core.engines`` package first (``distributed``, every engine): 1.0–1.4 s per worker that a
user's own pool does not pay. Nothing the lab sends its workers may reference this module.
"""

from __future__ import annotations

from core.workers import Call, die_with_parent, init_plain_worker, init_pool_worker, ready_barrier, run_calls

__all__ = ["Call", "die_with_parent", "init_plain_worker", "init_pool_worker", "ready_barrier", "run_calls"]
