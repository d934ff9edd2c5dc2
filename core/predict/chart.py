"""The instructor's chart: per answer, how many learners chose it and how it came out (stacked bars)."""

from __future__ import annotations

import altair as alt
import pandas as pd

OUTCOME_COLOURS = {"right": "#2e7d32", "wrong": "#c62828", "undecided": "#9e9e9e"}
BAR_PX = 22  # one bar's thickness; a band a little wider


def class_chart(counts: pd.DataFrame) -> alt.Chart:
    """One page's counts (``label``, ``outcome``, ``count`` rows of :meth:`ClassStore.counts`) as stacked bars.

    Parameters
    ----------
    counts : pandas.DataFrame
        The rows of one page and preset.

    Returns
    -------
    altair.Chart
        A horizontal ``bar`` per answer, its length the learners who chose it, stacked by how it came out
        (right, wrong, undecided), with a step per answer so one answer is a bar, not a line.
    """
    return alt.Chart(counts).mark_bar(size=BAR_PX).encode(
        x=alt.X("sum(count):Q", title="learners", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("label:N", title=None, sort=None),
        color=alt.Color("outcome:N", scale=alt.Scale(domain=list(OUTCOME_COLOURS),
                                                     range=list(OUTCOME_COLOURS.values())), title="came out"),
        tooltip=[alt.Tooltip("label:N", title="Answer"), alt.Tooltip("outcome:N", title="Came out"),
                 alt.Tooltip("count:Q", title="Learners")],
    ).properties(height=alt.Step(BAR_PX + 14))
