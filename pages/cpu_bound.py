"""CPU-bound work (tutorial §4): recursive fib on sync, threads and processes."""

import streamlit as st

from core.measure.spec import ExperimentSpec
from pages.common import Arm, engine_picker, run_panel, show_results

st.title("CPU-bound work: recursive Fibonacci")
st.markdown(
    "`fib(n)` is pure Python: every step is bytecode, and in CPython only the thread holding the"
    " **GIL** may run bytecode. Threads therefore take turns; processes each have their own"
    " interpreter and GIL, so they can use several cores — after paying to start."
)

c = st.columns(4)
n = c[0].slider("fib n", 15, 34, 30, key="n", bind="query-params",
                help="The tutorial uses 30. Each +1 makes a task about 1.6× longer.")
tasks = c[1].slider("Tasks", 1, 16, 4, key="tasks", bind="query-params", help="Independent fib(n) tasks.")
workers = c[2].slider("Workers", 1, 8, 4, key="workers", bind="query-params",
                      help="Threads for the threads scheduler, processes for the processes scheduler.")
repeats = c[3].slider("Repeats", 1, 5, 3, key="repeats", bind="query-params",
                      help="Each engine runs this many times; the median is shown with the spread.")
engines = engine_picker("engines", ["sync", "threads", "processes"], ["sync", "threads", "processes"])
with st.expander("Processes scheduler options"):
    chunksize = st.slider(
        "chunksize", 1, 8, 1, key="chunksize", bind="query-params",
        help="Tasks sent to a process per submission. Dask's default is 6: a 4-task graph then runs in ONE process.",
    )
    reuse = st.toggle("Reuse one process pool for all repeats", key="reuse", bind="query-params",
                      help="Dask starts a new pool on every compute; a reused pool pays start-up once.")

arms = [
    Arm(s, ExperimentSpec(workload="fib", size=n, tasks=tasks, scheduler=s,
                          workers=1 if s == "sync" else workers, repeats=repeats,
                          chunksize=chunksize if s == "processes" else 1,
                          reuse_pool=reuse and s == "processes"))
    for s in engines
]
results = run_panel("cpu", arms, what="CPU-bound comparison")
if results:
    show_results(arms, results, key="cpu")

with st.expander("The tutorial's code (§4), and what one stopwatch hides"):
    st.code(
        """tasks = [delayed(fib)(30) for _ in range(4)]
t0 = time.time(); dask.compute(*tasks, scheduler='threads');   print(time.time() - t0)
t1 = time.time(); dask.compute(*tasks, scheduler='processes'); print(time.time() - t1)""",
        language="python",
    )
    st.markdown(
        "- One stopwatch around `dask.compute` mixes pool start-up, the tasks and shutdown. The lab reports"
        " them separately (see the *Data* tab).\n"
        "- Dask's processes scheduler sends up to 6 tasks per submission (`chunksize`), so the tutorial's"
        " 4 tasks run in one process. Set *chunksize* to 6 above and look at the timeline.\n"
        "- Thread pool size defaults to the number of cores; here it is the *Workers* slider."
    )
