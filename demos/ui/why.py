"""The outputs a tab's "Show why" fills: a note and a gallery of heatmap overlays, both hidden until used."""

from __future__ import annotations

import gradio as gr


def why_widgets(label: str, columns: int, elem_prefix: str | None = None) -> tuple[gr.Markdown, gr.Gallery]:
    """``(note, gallery)`` in the current layout block; ``elem_prefix`` gives them the element ids
    ``PREFIX-why-note`` and ``PREFIX-why-gallery`` (the browser tests find them by these)."""
    note = gr.Markdown(visible=False, elem_id=f"{elem_prefix}-why-note" if elem_prefix else None)
    gallery = gr.Gallery(
        label=label, columns=columns, visible=False, elem_id=f"{elem_prefix}-why-gallery" if elem_prefix else None
    )
    return note, gallery
