"""The widgets several pages share: which engines, and how many rounds (both bound to the URL)."""

from __future__ import annotations

import streamlit as st


def engine_picker(key: str, options: list[str], default: list[str], label: str = "Engines") -> list[str]:
    """A URL-bound multiselect of engines that never returns an empty list."""
    chosen = st.pills(label, options, selection_mode="multi", default=default, key=key, bind="query-params")
    if not chosen:
        st.caption("No engine selected: showing the default ones.")
        return default
    return [o for o in options if o in chosen]


def rounds_picker(key: str = "rounds") -> int | str:
    """How many rounds a comparison measures: ``"auto"`` (until decided) or a fixed number (URL-bound)."""
    with st.expander("How the engines are compared", icon=":material/balance:"):
        choice = st.segmented_control(
            "Rounds", ["auto", "3", "7", "10", "20", "40"], default="auto", key=key, bind="query-params",
            help="auto: rounds are added until every verdict is decided, or the time budget is spent. 3: too few"
                 " for any claim: see what the lab says when the data cannot decide.",
        ) or "auto"
        st.markdown(
            "The engines run **together, in rounds**: after one warm-up round, every round runs each engine once,"
            " in an order that rotates, so a busy moment of this shared machine hits them all alike. Each"
            " engine is compared with the baseline **round by round**, and the verdict comes from bounds of"
            " those paired speed-ups: *faster* when surely above 1.05×, *no faster* when surely below 1.2×, *same*"
            " within ±20 %, *slower* and *no slower* alike, and *undecided* otherwise — the lab would rather say it"
            " does not know than teach a lesson the data do not support. At least 7 rounds are needed for any"
            " claim. With *auto*, an engine whose verdict is settled sits out the later rounds, so the time"
            " left goes to the ones still undecided (a *same* needs more rounds than a *faster*)."
        )
    return choice if choice == "auto" else int(choice)
