"""The server's shared resources: its settings, cached clusters and warm pools, the warm start, the result store.

Everything here is cached once per server (``st.cache_resource``) and shared by every session; what
would leak (a cluster, a pool) is closed when Streamlit evicts it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

from core.engines import LocalClusterHandle
from core.engines.local import WarmPool
from core.kinds import kind_of
from core.kinds.base import check, run_slot
from core.measure.estimate import BudgetError
from core.serve.settings import Settings, load_settings
from core.serve.store import ResultStore


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The server's limits (``core.serve.settings``): env vars over ``st.secrets`` over safe shared defaults."""
    try:
        secrets = st.secrets.to_dict()
    except Exception:  # no secrets.toml (the usual case), or one that does not parse
        secrets = {}
    return load_settings(secrets)


@st.cache_resource(max_entries=3, on_release=lambda handle: handle.close(), show_spinner=False)
def cluster_handle(processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
    """One LocalCluster per shape, shared by all sessions.

    The holder, not the Client, is cached (Streamlit refuses awaitables). When an entry is evicted,
    ``close`` waits for runs still using the cluster, so no session loses its running work.
    """
    return LocalClusterHandle(processes, n_workers, threads_per_worker)


@st.cache_resource(max_entries=4, on_release=lambda pool: pool.close(), show_spinner=False)
def warm_pool(engine: str, workers: int, numpy: bool, _how: dict[str, Any]) -> WarmPool:
    """One warm process pool per engine and size, shared by all sessions: a click pays no pool start-up.

    ``_how`` (how to start, stop and check a pool that is not Dask's; not part of the cache key) comes
    from the engine. An evicted pool closes once the last run using it has ended.
    """
    return WarmPool(workers, numpy, **_how)


class AppClusters:
    """Hands the engines the app's cached LocalClusters and warm process pools."""

    def get(self, processes: bool, n_workers: int, threads_per_worker: int) -> LocalClusterHandle:
        return cluster_handle(processes, n_workers, threads_per_worker)

    def pool(self, workers: int, numpy: bool, engine: str = "processes", **how: Any) -> WarmPool:
        return warm_pool(engine, workers, numpy, how)


WARM_START_PRESET = "start"  # the page a fresh server's first visitor meets
WARMING = "starting"  # how the run slot names the warm start to a visitor who waits for it


@st.cache_resource(show_spinner=False)
def warm_start() -> threading.Thread | None:
    """Start the start page's warm process pools in the background, once per server (``warm_start`` setting).

    A learner's first click is the lab's first impression: it should measure, not start four worker
    processes inside the first result. So the first page any visitor opens starts them, in a thread
    that holds the run slot while it does (a pool starting takes the cores a measurement would use): a
    click that comes meanwhile waits and is told what for ("the lab is starting 4 worker processes"),
    and a click after it finds the pool warm (its start-up 0 in the result). Skipped when the pools would
    not fit the server's memory limit. Only the pools are started here (Dask's ``processes`` with a reused
    pool, what the start preset has); other pages start theirs at their first click, shown apart.
    """
    conf = settings()
    if not conf.warm_start:
        return None
    from core.measure.estimate import estimate
    from core.presets import preset

    spec = preset(WARM_START_PRESET)
    arms = [spec.experiment(a) for a in spec.arms if a.engine == "processes" and a.reuse_pool]
    if not arms:
        return None
    try:
        check(kind_of(spec).cost(spec), conf.max_seconds, memory_fraction=conf.memory_fraction)
    except BudgetError:
        return None
    # The holders are fetched here, in the script thread (st.cache_resource); the thread only starts them.
    pools = [AppClusters().pool(a.workers, a.workload.startswith("numpy")) for a in arms]
    workers = sum(a.workers for a in arms)
    label = f"{WARMING} {workers} worker processes for the start page (once per server)"
    expected = sum(estimate(a.replace(reuse_pool=True)).setup_s for a in arms)

    def start() -> None:
        try:
            with run_slot(label, expected):
                for pool in pools:
                    with pool.use():
                        pass
        except Exception:  # a pool that cannot start now starts (and reports why) at the first click instead
            pass

    thread = threading.Thread(target=start, name="gil-lab-warm-start", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner=False)
def results_store() -> ResultStore:
    """The server's one result store (``st.cache_resource``: shared by all sessions)."""
    return ResultStore()


def session_gone() -> Callable[[], bool]:
    """A probe that turns true once this browser session has disconnected (false outside a server).

    Streamlit keeps running a script whose browser tab has closed until the script next calls it; an
    experiment may not call Streamlit for many seconds, so the engine polls this instead.
    """
    try:
        from streamlit import runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is None or not runtime.exists():
            return lambda: False
        server, session_id = runtime.get_instance(), ctx.session_id
        return lambda: not server.is_active_session(session_id)
    except Exception:  # an internal API moved: never cancel rather than crash
        return lambda: False
