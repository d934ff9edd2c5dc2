"""The start page's schematic: processes, their threads and the GIL, drawn as boxes (no measurement)."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

# --- the schematic ---------------------------------------------------------------------------------

_SCHEMATIC_KINDS = ["process", "thread", "GIL"]
_SCHEMATIC_FILL = ["#dce6f1", "#f28e2b", "#e15759"]
_SCHEMATIC_STROKE = ["#4e79a7", "#b85f12", "#a2282f"]
_SCHEMATIC_ABOUT = {
    "process": "An interpreter with its own memory and its own GIL",
    "thread": "Runs Python bytecode only while it holds its process's GIL",
    "GIL": "Global interpreter lock: one thread of this process runs Python at a time",
}
_PANEL_W = 330
_MARGIN = 8
_GAP = 8


def _box(panel: str, kind: str, x: float, y: float, w: float, h: float, label: str,
         label_y: float | None = None) -> dict[str, object]:
    return {"panel": panel, "kind": kind, "x": x, "x2": x + w, "y": y, "y2": y + h, "label": label,
            "label_x": x + w / 2, "label_y": y + h / 2 if label_y is None else label_y,
            "about": _SCHEMATIC_ABOUT.get(kind, "")}


def _schematic_frame(n: int) -> tuple[pd.DataFrame, float, list[str]]:
    """Boxes (and captions, kind ``note``) of both panels, in pixels from the top-left corner."""
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    inner = _PANEL_W - 2 * _MARGIN
    left, right = "left", "right"
    boxes: list[dict[str, object]] = []

    # Left: one process box holding n threads and a single shared GIL.
    pad, head, thread_h, gil_w, gil_h = 14, 28, 32, 96, 28
    thread_w = min((inner - 2 * pad - (cols - 1) * _GAP) / cols, 96)
    thread_x0 = _PANEL_W / 2 - (cols * thread_w + (cols - 1) * _GAP) / 2  # centre the grid
    threads_h = rows * thread_h + (rows - 1) * _GAP
    process_h = head + threads_h + 18 + gil_h + 14
    boxes.append(_box(left, "process", _MARGIN, _MARGIN, inner, process_h, "process", label_y=_MARGIN + 15))
    for k in range(n):
        r, c = divmod(k, cols)
        boxes.append(_box(left, "thread", thread_x0 + c * (thread_w + _GAP), _MARGIN + head + r * (thread_h + _GAP),
                          thread_w, thread_h, f"thread {k + 1}"))
    gil_y = _MARGIN + head + threads_h + 18
    boxes.append(_box(left, "GIL", _PANEL_W / 2 - gil_w / 2, gil_y, gil_w, gil_h, "GIL (shared)"))
    left_bottom = _MARGIN + process_h

    # Right: n process boxes, each with one thread and its own GIL.
    cell_w = min((inner - (cols - 1) * _GAP) / cols, 96)
    cell_x0 = _PANEL_W / 2 - (cols * cell_w + (cols - 1) * _GAP) / 2
    cell_head, cell_thread_h, cell_gil_h, cell_pad = 24, 28, 24, 6
    cell_h = cell_head + cell_thread_h + 6 + cell_gil_h + cell_pad
    for k in range(n):
        r, c = divmod(k, cols)
        x = cell_x0 + c * (cell_w + _GAP)
        y = _MARGIN + r * (cell_h + _GAP)
        boxes.append(_box(right, "process", x, y, cell_w, cell_h, f"process {k + 1}", label_y=y + 13))
        boxes.append(_box(right, "thread", x + cell_pad, y + cell_head, cell_w - 2 * cell_pad, cell_thread_h, "thread"))
        boxes.append(_box(right, "GIL", x + cell_pad, y + cell_head + cell_thread_h + 6, cell_w - 2 * cell_pad,
                          cell_gil_h, "GIL"))
    right_bottom = _MARGIN + rows * cell_h + (rows - 1) * _GAP

    caption_y = max(left_bottom, right_bottom) + 18
    captions = {left: "one thread at a time runs Python",
                right: "all of them run Python at once" if n > 1 else "it runs Python on its own"}
    for panel, text in captions.items():
        boxes.append({"panel": panel, "kind": "note", "x": None, "x2": None, "y": None, "y2": None, "label": text,
                      "label_x": _PANEL_W / 2, "label_y": caption_y, "about": text})
    height = caption_y + 12
    titles = [
        f"One process, {n} thread{'s' if n != 1 else ''} (one GIL shared)",
        f"{n} process{'es' if n != 1 else ''}, one thread each (a GIL each)",
    ]
    return pd.DataFrame(boxes), height, titles


def schematic_chart(n: int = 4) -> alt.HConcatChart:
    """Threads versus processes as a diagram: who has to share a GIL.

    Left panel, "One process, N threads (one GIL shared)": a process box holding ``n`` thread boxes
    and a single GIL. Right panel, "N processes, one thread each (a GIL each)": ``n`` process boxes,
    each holding one thread and its own GIL. Boxes are labelled directly and coloured by kind
    (process pale blue, thread orange, GIL red); there are no axes, grid or view outline.

    Parameters
    ----------
    n : int, default 4
        Threads on the left, processes on the right (1 to 16; laid out four to a row).

    Returns
    -------
    altair.HConcatChart
        Two panels of ``rect`` (``x``/``x2``/``y``/``y2``, colour by ``kind``) and ``text`` layers over
        one shared data set with columns ``panel`` (``left``/``right``), ``kind`` (``process``,
        ``thread``, ``GIL`` or ``note`` for the caption), box corners in pixels and ``label``.
        About 700 px wide.

    Raises
    ------
    ValueError
        If ``n`` is not an integer from 1 to 16.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 16:
        raise ValueError(f"n must be an integer from 1 to 16 (got {n!r})")
    frame, height, titles = _schematic_frame(n)
    x_scale = alt.Scale(domain=[0, _PANEL_W], nice=False, zero=False)
    y_scale = alt.Scale(domain=[0, height], nice=False, zero=False, reverse=True)
    tooltip = [alt.Tooltip("label:N", title="Box"), alt.Tooltip("about:N", title="What it is")]

    def panel(name: str, panel_title: str) -> alt.LayerChart:
        rects = alt.Chart().transform_filter(
            (alt.datum.panel == name) & (alt.datum.kind != "note")
        ).mark_rect(strokeWidth=1.5, cornerRadius=4).encode(
            x=alt.X("x:Q", scale=x_scale, axis=None),
            x2="x2:Q",
            y=alt.Y("y:Q", scale=y_scale, axis=None),
            y2="y2:Q",
            color=alt.Color("kind:N", scale=alt.Scale(domain=_SCHEMATIC_KINDS, range=_SCHEMATIC_FILL), legend=None),
            stroke=alt.Stroke("kind:N", scale=alt.Scale(domain=_SCHEMATIC_KINDS, range=_SCHEMATIC_STROKE),
                              legend=None),
            tooltip=tooltip,
        )
        def labels(kind: str, **mark: object) -> alt.Chart:
            return alt.Chart().transform_filter(
                (alt.datum.panel == name) & (alt.datum.kind == kind)
            ).mark_text(fontSize=11, **mark).encode(
                x=alt.X("label_x:Q", scale=x_scale, axis=None),
                y=alt.Y("label_y:Q", scale=y_scale, axis=None),
                text="label:N",
                tooltip=tooltip,
            )

        texts = [
            labels("process", fontWeight="bold", color="#1f3b5c"),
            labels("thread", color="#222222"),
            labels("GIL", fontWeight="bold", color="white"),
            labels("note", fontStyle="italic", color="#555555"),
        ]
        return alt.layer(rects, *texts).properties(
            width=_PANEL_W, height=height, title=alt.TitleParams(panel_title, fontSize=13, anchor="middle"))

    chart = alt.hconcat(panel("left", titles[0]), panel("right", titles[1]), data=frame, spacing=24)
    return chart.resolve_scale(color="shared", stroke="shared").configure_view(strokeWidth=0)

