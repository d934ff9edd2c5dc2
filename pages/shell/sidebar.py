"""The shared sidebar (the machine every number was measured on) and the banner of a GIL-free interpreter."""

from __future__ import annotations

import streamlit as st

from core.measure.machine import machine_info
from core.report.explain import interpreter_note
from core.serve.slot import RUN_SLOT
from pages.shell.resources import settings


def sidebar() -> None:
    """The machine every number on every page was measured on."""
    m = machine_info()
    with st.sidebar:
        st.markdown("#### This machine")
        st.markdown(
            f"**{m.usable_cores}** usable core{'s' if m.usable_cores != 1 else ''}"
            f" (of {m.logical_cores} logical)  \n"
            f"Python **{m.python_version}** · GIL **{m.gil_label}**  \n"
            f"dask {m.dask_version} · distributed {m.distributed_version}  \n"
            f"numpy {m.numpy_version} · pandas {m.pandas_version}"
        )
        st.caption(
            "Experiments run one at a time on this server, so numbers are never skewed by another"
            " visitor's run. The same measurements from a terminal: `python -m core compare --help`."
        )
        slot = RUN_SLOT.status()
        if slot.busy:
            st.caption(f":material/hourglass_top: Running now: {slot.describe()}.")
        conf = settings()
        st.caption(f"Limits: {conf.describe()}.")
        for warning in conf.warnings:
            st.warning(f"Setting ignored: {warning}", icon=":material/settings:")


def interpreter_banner() -> None:
    """On an interpreter without the GIL, say so at the top of every page: the lessons change."""
    note = interpreter_note(machine_info())
    if note:
        st.info(note, icon=":material/info:")
