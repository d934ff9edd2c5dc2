"""Takeaways (tutorial §8): each lesson next to a comparison measured here."""

import streamlit as st

from core.measure.machine import machine_info
from core.presets import PRESETS, preset
from pages.shell.panel import panel
from pages.shell.predict import RECORDS

st.title("Takeaways")
st.markdown(
    "Each lesson below sits next to a comparison measured on this server: yours, if you ran that page's"
    " experiment in this session, or the page's default (a preset), measured when you ask and then stored"
    " for every visitor."
)

LESSONS = [
    ("cpu", "cpu-bound", "Threads do not speed up pure-Python CPU work; processes can",
     "Threads share one GIL, so CPU-bound Python runs one thread at a time. Processes each have their"
     " own GIL and use several cores — once the work outweighs their start-up."),
    ("io", "io-bound", "Threads do speed up waiting",
     "A waiting thread releases the GIL. More threads than cores is fine for I/O; Dask's default pool"
     " size (= cores) is often too small for it."),
    ("numpy-numpy-matmul", "numpy", "Threads suit NumPy kernels that release the GIL",
     "BLAS and sorting run in C without the GIL, so threads scale with no copying. A Python loop of tiny"
     " NumPy calls does not — see the NumPy page."),
    ("cluster", "local-cluster", "Workers × threads per worker decides how many GILs you have",
     "In a LocalCluster, processes=True gives each worker its own GIL; processes=False shares one."),
]
HELD = {"right": "it held", "wrong": "it did not hold", "undecided": "the data did not decide"}
ICON = {"right": ":material/check_circle:", "wrong": ":material/cancel:", "undecided": ":material/help:"}
records = st.session_state.get(RECORDS, {})


def own_record(key: str) -> None:
    """The learner's prediction for the page of panel ``key``: what they predicted, what was measured, the outcome."""
    r = records.get(key)
    if r is None:
        st.caption("No prediction of yours on that page yet: answer its question before you press Run.")
        return
    st.markdown(f"{ICON[r['outcome']]} **You predicted** {r['predicted']}; **measured:** {r['measured']} —"
                f" {HELD[r['outcome']]}.")


if records:
    st.subheader("Your predictions")
    st.dataframe([{"page": r["page"], "question": r["question"], "you predicted": r["predicted"],
                   "measured": r["measured"], "it held": HELD[r["outcome"]]} for r in records.values()],
                 hide_index=True)

for key, name, title, text in LESSONS:
    st.subheader(title)
    left, right = st.columns([2, 3])
    left.markdown(text)
    with left:
        own_record(key)
    with right:
        mine = st.session_state.get(f"last-{key}")
        if mine is not None:
            st.caption("From your run on the experiment page:")
            st.markdown("\n".join(f"- {s}" for s in mine.explain()[: len(mine.pair_verdicts) + len(mine.verdicts)]))
            st.altair_chart(mine.live_chart(), width="stretch")
        else:
            st.caption(f"The page's default comparison (preset `{name}`: {PRESETS[name].lesson}).")
            with st.container():
                panel(preset(name), key=f"takeaway-{name}", what="default comparison")

st.header("Your machine")
m = machine_info()
st.table({
    "": ["usable cores", "logical cores", "Python", "GIL", "free-threaded build", "dask", "distributed", "numpy",
         "pandas", "platform"],
    "value": [str(m.usable_cores), str(m.logical_cores), f"{m.python_version} ({m.python_implementation})",
              m.gil_label, str(m.free_threaded_build), m.dask_version, m.distributed_version, m.numpy_version,
              m.pandas_version, m.platform],
})
