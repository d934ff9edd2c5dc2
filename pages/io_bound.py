"""I/O-bound work (tutorial §5): sleeping tasks, and why the pool size matters."""

import streamlit as st

from core.kinds.compare import Arm, CompareSpec
from core.measure.machine import machine_info
from core.presets import preset
from pages.shell.controls import engine_picker, rounds_picker
from pages.shell.panel import panel

cores = machine_info().usable_cores
default = preset("io-bound")
st.title("I/O-bound work: sleeping tasks")
st.markdown(
    "`time.sleep` stands in for waiting on a disk, a database or the network. While a thread waits it"
    " **releases the GIL**, so other threads run — threads are the cheap, right tool here. How many"
    f" threads matters: Dask's default pool has one per core (**{cores}** on this machine), so the"
    f" tutorial's four 1-second sleeps take {-(-4 // cores)} second(s) here, not one."
)
c = st.columns(3)
seconds = c[0].slider("Seconds per task", 0.01, 1.0, float(default.size), 0.01, key="sleep", bind="query-params",
                      help="The tutorial sleeps 1 s per task; short sleeps give the same lesson in a few seconds.")
tasks = c[1].slider("Tasks", 1, 16, default.tasks, key="tasks", bind="query-params")
workers = c[2].slider("Threads / processes", 1, 16, default.arms[-1].workers, key="workers", bind="query-params",
                      help="More threads than cores is fine for waiting: a waiting thread needs no core.")
options = ["sync", "threads (default pool)", "threads", "processes"]
chosen = engine_picker("engines", options, options[:3])
make = {
    "sync": Arm("sync"),
    "threads (default pool)": default.arms[1],
    "threads": Arm("threads", workers),
    "processes": Arm("processes", workers, reuse_pool=True),
}
arms = [make[o] for o in chosen]
if arms[0].engine != "sync":
    arms.insert(0, Arm("sync"))
shapes = [(a.engine, a.workers) for a in arms]
arms = [a for i, a in enumerate(arms) if (a.engine, a.workers) not in shapes[:i]]  # the slider = the default pool
if len(arms) < 2:
    st.caption("Pick at least one engine besides sync: it is the baseline every speed-up is measured against.")
    arms = list(default.arms)
panel(CompareSpec(workload="sleep", size=seconds, tasks=tasks, arms=tuple(arms), rounds=rounds_picker()), key="io",
      what="I/O-bound comparison", predict="io-bound")

with st.expander("The tutorial's code (§5)"):
    st.code(
        """tasks_io = [delayed(sleepy)(1) for _ in range(4)]
dask.compute(*tasks_io, scheduler='threads')    # "~1 s" — only with ≥ 4 threads
dask.compute(*tasks_io, scheduler='processes')  # extra overhead: starting processes""",
        language="python",
    )
