"""Instructor: what the class predicted on each page and how often it held (anonymous counts), and a reset.

In the navigation only where the settings hold an instructor key; the key typed here is compared in constant
time (:func:`core.serve.settings.instructor_ok`) and never shown. The counts are :class:`core.predict.ClassStore`'s:
per page, preset, choice and outcome, no names, no addresses, no free text.
"""

import streamlit as st

from core.predict import OUTCOMES, ClassStoreUnavailable
from core.predict.chart import class_chart
from core.serve.settings import instructor_ok
from pages.shell.predict import class_store
from pages.shell.resources import settings

st.title("Instructor: the class's predictions")
conf = settings()
if not conf.instructor_key:
    st.info("The class view is off on this server: it has no instructor key (GIL_LAB_INSTRUCTOR_KEY or"
            " instructor_key in its secrets).", icon=":material/lock:")
    st.stop()
given = st.text_input("Instructor key", type="password", key="instructor-key",
                      help="The key set in this server's settings (GIL_LAB_INSTRUCTOR_KEY).")
if not given:
    st.caption("Enter the instructor key to see the class's counts.")
    st.stop()
if not instructor_ok(conf, given):
    st.error("That is not this server's instructor key.", icon=":material/lock:")
    st.stop()

store = class_store()
counts = store.counts()
if not store.available:
    st.warning(f"Class view off: {store.reason}.", icon=":material/group_off:")
    st.stop()
if store.note:
    st.caption(f":material/memory: {store.note}.")
st.markdown(
    "Every experiment page asks a question before Run; the measurement grades the answer from its verdicts"
    " (*right*, *wrong*, or *undecided* when the data did not decide). These are the class's counts: per page and"
    " preset, how many chose each answer and how it came out. Nothing else is stored: no names, no addresses,"
    " no free text."
)
if counts.empty:
    st.info("No predictions counted yet: they appear here as learners answer a question and press Run.")
else:
    total = int(counts["count"].sum())
    right = int(counts.loc[counts["outcome"] == "right", "count"].sum())
    st.caption(f"{total} prediction(s) counted, {right} of them right.")
    for (page, preset), frame in counts.groupby(["page", "preset"], sort=True):
        st.subheader(f"{page} · preset `{preset}`")
        n = int(frame["count"].sum())
        by = {o: int(frame.loc[frame["outcome"] == o, "count"].sum()) for o in OUTCOMES}
        st.caption(f"{n} prediction(s): {by['right']} right, {by['wrong']} wrong, {by['undecided']} undecided.")
        chart = class_chart(frame)
        st.altair_chart(chart, width="stretch")

with st.expander("Reset the class counts", icon=":material/restart_alt:"):
    st.caption("Forget every count (for a new class). This cannot be undone.")
    confirm = st.checkbox("Yes, forget every count", key="instructor-confirm")
    if st.button("Reset counts", key="instructor-reset", disabled=not confirm):
        try:
            gone = store.reset()
        except ClassStoreUnavailable as exc:
            st.warning(f"Not reset: {exc}.", icon=":material/group_off:")
        else:
            st.success(f"Reset: {gone} prediction(s) forgotten.")
