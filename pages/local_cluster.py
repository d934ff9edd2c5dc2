"""LocalCluster (tutorial §6): processes=False vs processes=True, and the client.map pitfall."""

import streamlit as st

from core.kinds.compare import Arm, CompareSpec
from core.kinds.pitfall import map_pitfall
from core.presets import pairs_for, preset
from pages.shell.controls import rounds_picker
from pages.shell.panel import panel
from pages.shell.resources import AppClusters, settings

st.title("LocalCluster: workers × threads per worker")
st.markdown(
    "`distributed.LocalCluster` runs a scheduler and *workers* on this machine. With `processes=False`"
    " every worker is a thread pool inside this one Python process — one GIL for all. With"
    " `processes=True` each worker is its own process with its own GIL. Split the same total concurrency"
    " differently and watch the GIL decide. Clusters are kept for the next run here and stopped while another page"
    " measures (idle, they still take CPU); their start-up is shown."
)
default = preset("local-cluster")
c = st.columns(2)
n = c[0].slider("fib n", 15, 32, int(default.size), key="n", bind="query-params",
                help="The tutorial uses 30. A distributed compute costs 10-30 ms of scheduling on a small shared"
                     " machine: n = 27 tasks are long enough to show the parallelism through it, and decide in"
                     " seconds.")
tasks = c[1].slider("Tasks", 1, 16, default.tasks, key="tasks", bind="query-params")
threads_arm, processes_arm = default.arms[1], default.arms[2]
left, right = st.columns(2, border=True)
with left:
    st.markdown("**`LocalCluster(processes=False, …)`**")
    t_workers = st.slider("n_workers", 1, 4, threads_arm.workers, key="t-workers", bind="query-params")
    t_threads = st.slider("threads_per_worker", 1, 8, threads_arm.threads_per_worker, key="t-threads",
                          bind="query-params")
with right:
    st.markdown("**`LocalCluster(processes=True, …)`**")
    p_workers = st.slider("n_workers ", 1, 4, processes_arm.workers, key="p-workers", bind="query-params",
                          help="Each worker is a process (about 100 MB of memory each).")
    p_threads = st.slider("threads_per_worker ", 1, 4, processes_arm.threads_per_worker, key="p-threads",
                          bind="query-params")
arms = [Arm("sync"), Arm("cluster-threads", t_workers, t_threads), Arm("cluster-processes", p_workers, p_threads)]
if settings().allow_external_cluster:
    # Off on a shared deployment (core.serve.settings): a public server should not connect to addresses typed by
    # strangers. Not bound to the URL either, so a shared link never makes someone's browser connect anywhere.
    with st.expander("Add your own Dask cluster to the comparison", icon=":material/lan:"):
        address = st.text_input(
            "Scheduler address", key="external-address", placeholder="tcp://10.0.0.5:8786", max_chars=200,
            help="A running `dask scheduler` and its workers, started anywhere with only `dask`, `distributed` and"
                 " `numpy` installed (the same Python version as this app): the lab sends its task code with every"
                 " run, nothing of it is installed there. The same fib tasks run there; its workers decide the"
                 " concurrency, and the results describe them (hosts, threads, versions).",
        ).strip()
        if address:
            try:
                candidate = Arm("external", address=address)
                CompareSpec(workload="fib", size=n, tasks=tasks, arms=(Arm("sync"), candidate))
                arms.append(candidate)
            except ValueError as exc:
                st.error(f"That address cannot be used: {exc}")
panel(CompareSpec(workload="fib", size=n, tasks=tasks, arms=tuple(arms), rounds=rounds_picker(),
                  pairs=pairs_for("local-cluster", tuple(arms))), key="cluster",
      what="LocalCluster comparison", predict="local-cluster")

st.divider()
st.header("The tutorial's `client.map` pitfall")
st.markdown(
    "The tutorial times `client.map(fib, [30]*4)`. But `Client.map` is **pure** by default: identical"
    " arguments give identical keys, and the cluster computes one key once. Four futures, one task."
    " The lab builds graphs with `dask.delayed` and unique keys (or `pure=False`), so N tasks are N tasks."
)
if st.button("Count the tasks client.map really runs", key="pitfall"):
    try:
        res = map_pitfall(AppClusters(), n=20, calls=4)
    except Exception as exc:  # a teaching demo must never take the page down
        st.error(f"The demo could not run: {exc}")
    else:
        a, b = st.columns(2)
        a.metric("client.map(fib, [20]*4)", f"{res.pure_executions} task run",
                 help=f"{res.pure_keys} distinct key(s) for {res.calls} futures")
        b.metric("client.map(..., pure=False)", f"{res.impure_executions} tasks run",
                 help=f"{res.impure_keys} distinct keys for {res.calls} futures")
        st.caption(f"Pure: {res.pure_keys} key(s), {res.pure_executions} execution(s). "
                   f"pure=False: {res.impure_keys} keys, {res.impure_executions} executions.")
with st.expander("The tutorial's code (§6)"):
    st.code(
        """cluster_t = LocalCluster(processes=False, n_workers=1, threads_per_worker=4)
cluster_p = LocalCluster(processes=True,  n_workers=4, threads_per_worker=1)
futs = client_t.map(fib, [30]*4)   # pure: ONE task
futs = client_t.map(fib, [30]*4, pure=False)   # four tasks""",
        language="python",
    )
