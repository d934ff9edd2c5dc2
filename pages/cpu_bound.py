"""CPU-bound work (tutorial §4): recursive fib on sync, threads and processes."""

import streamlit as st

from core.kinds.compare import Arm, CompareSpec
from core.presets import pairs_for, preset
from pages.shell.controls import engine_picker, rounds_picker
from pages.shell.panel import panel

default = preset("cpu-bound")
st.title("CPU-bound work: recursive Fibonacci")
st.markdown(
    "`fib(n)` is pure Python: every step is bytecode, and in CPython only the thread holding the"
    " **GIL** may run bytecode. Threads therefore take turns; processes each have their own"
    " interpreter and GIL, so they can use several cores — after paying to start."
)

c = st.columns(3)
n = c[0].slider("fib n", 15, 34, int(default.size), key="n", bind="query-params",
                help="The tutorial uses 30. Each +1 makes a task about 1.6× longer; the default decides in seconds.")
tasks = c[1].slider("Tasks", 1, 16, default.tasks, key="tasks", bind="query-params", help="Independent fib(n) tasks.")
workers = c[2].slider("Workers", 1, 8, default.arms[1].workers, key="workers", bind="query-params",
                      help="Threads for the threads engine, processes for the processes engines.")
ENGINES = ["sync", "threads", "processes", "processes, new pool each compute"]
engines = engine_picker("engines", ENGINES, ENGINES[:3])
with st.expander("Processes options"):
    chunksize = st.slider(
        "chunksize", 1, 8, 1, key="chunksize", bind="query-params",
        help="Tasks sent to a process per submission. Dask's default is 6: a 4-task graph then runs in ONE process.",
    )
    st.caption("*processes* keeps one warm pool for every round (its start-up is paid once and shown apart);"
               " *processes, new pool each compute* is Dask's default: a new pool for every `dask.compute`.")

make = {
    "sync": Arm("sync"),
    "threads": Arm("threads", workers),
    "processes": Arm("processes", workers, chunksize=chunksize, reuse_pool=True),
    "processes, new pool each compute": Arm("processes", workers, chunksize=chunksize, reuse_pool=False),
}
arms = tuple(make[e] for e in engines)
if arms[0].engine != "sync":
    arms = (Arm("sync"), *arms)
if len(arms) < 2:
    st.caption("Pick at least one engine besides sync: it is the baseline every speed-up is measured against.")
    arms = default.arms
spec = CompareSpec(workload="fib", size=n, tasks=tasks, arms=arms, rounds=rounds_picker(),
                   pairs=pairs_for("cpu-bound", arms))
panel(spec, key="cpu", what="CPU-bound comparison", predict="cpu-bound")

with st.expander("The tutorial's code (§4), and what one stopwatch hides"):
    st.code(
        """tasks = [delayed(fib)(30) for _ in range(4)]
t0 = time.time(); dask.compute(*tasks, scheduler='threads');   print(time.time() - t0)
t1 = time.time(); dask.compute(*tasks, scheduler='processes'); print(time.time() - t1)""",
        language="python",
    )
    st.markdown(
        "- One stopwatch around one `dask.compute` each, one after the other, measures two moments of a busy"
        " machine. The lab runs the engines in interleaved rounds and compares them round by round.\n"
        "- It also mixes pool start-up, the tasks and shutdown. The lab reports them separately (see the"
        " *Data* tab).\n"
        "- Dask's processes scheduler sends up to 6 tasks per submission (`chunksize`), so the tutorial's"
        " 4 tasks run in one process. Set *chunksize* to 6 above and look at the timeline.\n"
        "- Thread pool size defaults to the number of cores; here it is the *Workers* slider."
    )
