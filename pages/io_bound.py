"""I/O-bound work (tutorial §5): sleeping tasks, and why the pool size matters."""

import streamlit as st

from core.measure.machine import machine_info
from core.measure.spec import ExperimentSpec
from pages.common import Arm, engine_picker, run_panel, show_results

cores = machine_info().usable_cores
st.title("I/O-bound work: sleeping tasks")
st.markdown(
    "`time.sleep` stands in for waiting on a disk, a database or the network. While a thread waits it"
    " **releases the GIL**, so other threads run — threads are the cheap, right tool here. How many"
    f" threads matters: Dask's default pool has one per core (**{cores}** on this machine), so the"
    " tutorial's four 1-second sleeps take two seconds here, not one."
)
c = st.columns(4)
seconds = c[0].slider("Seconds per task", 0.1, 2.0, 0.5, 0.1, key="sleep", bind="query-params",
                      help="The tutorial sleeps 1 s per task.")
tasks = c[1].slider("Tasks", 1, 16, 4, key="tasks", bind="query-params")
workers = c[2].slider("Threads / processes", 1, 16, 4, key="workers", bind="query-params",
                      help="More threads than cores is fine for waiting: a waiting thread needs no core.")
repeats = c[3].slider("Repeats", 1, 5, 2, key="repeats", bind="query-params")
options = ["sync", "threads (default pool)", "threads", "processes"]
chosen = engine_picker("engines", options, options)


def _spec(scheduler: str, n_workers: int) -> ExperimentSpec:
    return ExperimentSpec(workload="sleep", size=seconds, tasks=tasks, scheduler=scheduler,
                          workers=n_workers, repeats=repeats)


make = {
    "sync": lambda: Arm("sync", _spec("sync", 1)),
    "threads (default pool)": lambda: Arm(f"threads × {cores} (default)", _spec("threads", cores)),
    "threads": lambda: Arm(f"threads × {workers}", _spec("threads", workers)),
    "processes": lambda: Arm(f"processes × {workers}", _spec("processes", workers)),
}
arms = [make[o]() for o in chosen]
labels = [a.label for a in arms]
if len(set(labels)) < len(labels):  # the slider equals the default pool: one arm says it all
    arms = [a for i, a in enumerate(arms) if a.label not in labels[:i]]
results = run_panel("io", arms, what="I/O-bound comparison")
if results:
    show_results(arms, results, key="io")

with st.expander("The tutorial's code (§5)"):
    st.code(
        """tasks_io = [delayed(sleepy)(1) for _ in range(4)]
dask.compute(*tasks_io, scheduler='threads')    # "~1 s" — only with ≥ 4 threads
dask.compute(*tasks_io, scheduler='processes')  # extra overhead: starting processes""",
        language="python",
    )
