"""Beyond the GIL: subinterpreters (one GIL each) and a free-threaded build's threads, beside threads and processes."""

import streamlit as st

from core.engines.code import engine_code
from core.interpreters import PythonInfo, best_subinterpreters, discover, free_threaded
from core.kinds.compare.beyond_gil import HOW_TO_GET, cost_of
from core.presets import preset
from pages.shell.controls import rounds_picker
from pages.shell.panel import panel


@st.cache_resource(show_spinner=False, ttl=600)
def _interpreters() -> list[PythonInfo]:
    return discover()  # one probe of each interpreter per server (every ten minutes at most)


infos = _interpreters()
st.title("Beyond the GIL: subinterpreters and free-threaded Python")
st.markdown(
    "Processes get around the GIL by having one each, and pay for it: a fresh interpreter per worker and every"
    " argument pickled and copied. Two newer ways give Python code several cores **in one process**:"
    " **subinterpreters** (3.12+: each has its own GIL; 3.14's `InterpreterPoolExecutor`) and **free-threaded"
    " builds** (`python3.13t`, `python3.14t`: no GIL at all). Here the same pure-Python `fib` tasks run on"
    " each, measured together in interleaved rounds."
)

spec = preset("beyond-gil")
sub, ft = best_subinterpreters(infos), free_threaded(infos)
has_sub = any(a.engine == "interpreters" for a in spec.arms)
if not has_sub:
    st.info(HOW_TO_GET)
else:
    where = next(a for a in spec.arms if a.engine == "interpreters")
    st.caption(
        f"Subinterpreters run **in this process** (Python {where.python or 'of the lab'})." if not where.python else
        f"The lab runs on an interpreter without them, so the subinterpreter arm runs on this machine's Python"
        f" {where.python} ({sub.path if sub else '?'}), in a warm child process started once before the rounds;"
        " its start-up is shown apart. Its baseline is the lab's sync: both are CPython, within a few per cent."
    )
if ft is None:
    st.caption("No free-threaded build here (`pyenv install 3.13t`): its threads would run fib in parallel like"
               " the subinterpreters, without the GIL and without copying.")

spec = spec.replace(rounds=rounds_picker(key="bg-rounds"))
result = panel(spec, key="beyond-gil", what="comparison beyond the GIL")

st.subheader("What each one costs, and the lines you write")
st.code("def fib(n):  # pure Python: holds the GIL\n    return n if n < 2 else fib(n - 1) + fib(n - 2)",
        language="python")
verdicts = {v.label: v for v in result.verdicts} if result is not None else {}
items = f"[{spec.size!r}] * {spec.tasks}"
tabs = st.tabs([a.label for a in spec.arms])
for tab, arm in zip(tabs, spec.arms, strict=True):
    with tab:
        v = verdicts.get(arm.label)
        if v is not None:
            st.caption(f"Measured above: **{v.describe()}** against sync.")
        st.markdown(f"**Cost:** {cost_of(arm)}")
        st.code(engine_code(arm, name="pool").snippet(fn="fib", items=items), language="python")

st.subheader("Interpreters on this machine")
st.dataframe([{"tag": i.tag, "version": i.version, "build": i.build if i.ok else "",
               "GIL": ("on" if i.gil_enabled else "off") if i.ok else "",
               "subinterpreters": i.executor or ("no" if i.ok else ""), "path": i.path, "found in": i.source,
               "error": i.error} for i in infos], hide_index=True)
st.caption("`python -m core interpreters` prints the same; `GIL_LAB_PYTHONS` adds interpreters by path.")
