"""Your function: will threads help it, or does it need processes? Measured here, with one sentence of advice."""

import streamlit as st

from core.kinds.compare import Arm, CompareSpec
from core.report.advice import advise
from core.userfunc import tried
from pages.shell.controls import engine_picker, rounds_picker
from pages.shell.panel import panel
from pages.shell.resources import settings

st.title("Your function: threads or processes?")
st.markdown(
    "Name a function of yours, as `module:name`, with its arguments. The lab calls it as every task, on a thread"
    " pool and on a process pool against one thread, in interleaved rounds, and says what it does to the GIL and"
    " what to use — from what it measured, not from what the function is supposed to do."
)

if not settings().allow_user_functions:
    st.info(
        "**Off on this server.** Naming a module here would import it — run its code — on the server, for"
        " whoever asks, so a shared deployment does not offer it. Run the lab on your own machine"
        " (`GIL_LAB_MODE=local streamlit run streamlit_app.py`, or set `GIL_LAB_ALLOW_USER_FUNCTIONS=true`), or"
        " from a terminal: `python -m core compare --function mymodule:crunch --args '[30]'`.",
        icon=":material/lock:",
    )
    st.stop()

# Text fields are not bound to the URL: a link must never prefill code for this page to import.
c = st.columns([2, 1, 1])
function = c[0].text_input("Function (module:name)", value="", placeholder="mymodule:crunch", key="uf-function",
                           help="Importable where the lab runs: its current directory, PYTHONPATH or an installed"
                                " package. Process pools import it in every worker.")
args = c[1].text_input("Arguments (JSON list)", value="[]", key="uf-args", help="e.g. [30] or [\"data.csv\", 2]")
kwargs = c[2].text_input("Keyword arguments (JSON object)", value="{}", key="uf-kwargs", help='e.g. {"n": 30}')
s = st.columns(3)
tasks = s[0].slider("Tasks (calls)", 1, 16, 4, key="uf-tasks", bind="query-params")
threads = s[1].slider("Threads", 1, 16, 4, key="uf-threads", bind="query-params")
processes = s[2].slider("Processes", 1, 8, 2, key="uf-processes", bind="query-params")
ENGINES = ["futures-threads", "futures-processes", "Dask threads", "Dask processes", "multiprocessing",
           "joblib-loky", "joblib-threads"]
make = {
    "futures-threads": Arm("futures-threads", threads),
    "futures-processes": Arm("futures-processes", processes, reuse_pool=True),
    "Dask threads": Arm("threads", threads, label=f"Dask threads ×{threads}"),
    "Dask processes": Arm("processes", processes, reuse_pool=True, label=f"Dask processes ×{processes}"),
    "multiprocessing": Arm("multiprocessing", processes, reuse_pool=True),
    "joblib-loky": Arm("joblib-loky", processes, reuse_pool=True),
    "joblib-threads": Arm("joblib-threads", threads),
}
engines = engine_picker("uf-engines", ENGINES, ENGINES[:2], label="Engines (each against sync, the baseline)")
rounds = rounds_picker()

if not function.strip():
    st.info("Type a function above, e.g. `mymodule:crunch` with arguments `[30]`.")
    st.stop()
try:
    spec = CompareSpec(workload="function", function=function.strip(), function_args=args, function_kwargs=kwargs,
                       tasks=tasks, arms=(Arm("sync"), *(make[e] for e in engines)), rounds=rounds)
except ValueError as exc:
    st.error(f"Not a call the lab can make: {exc}")
    st.stop()
with st.spinner("Trying one call in a separate process (it is stopped if it does not return)…"):
    try:
        trial = tried(spec.experiment(spec.arms[0]))
    except (ValueError, RuntimeError) as exc:
        st.error(f"{type(exc).__name__}: {exc}")
        st.stop()
st.caption(
    f"One trial call in a fresh process took **{trial.seconds * 1000:.1f} ms**, the CPU {trial.cpu_share:.0%} of"
    f" that time, and returned `{trial.value_repr[:80]}` ({trial.value_type}); importing the module took"
    f" {trial.import_s * 1000:.0f} ms."
)
advice_box = st.empty()
result = panel(spec, key="your-function", what="comparison of your function")
if result is not None:
    advice = advise(result)
    box = {"threads": advice_box.success, "processes": advice_box.success}.get(advice.use, advice_box.warning)
    box(f"**{advice.text}**", icon=":material/lightbulb:")
