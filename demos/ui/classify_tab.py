"""The Classify tab: zero-shot scores of an uploaded image against the user's labels."""

from __future__ import annotations

import gradio as gr

from demos.ui.context import UiContext, bind

DEFAULT_LABELS = "cat, dog, cup of coffee, rocket, person, car"


def do_classify(ctx: UiContext, image: str | None, labels: str | None, multi: bool) -> tuple:
    """``(bar plot of label scores, verdict markdown)`` for one uploaded image."""
    import pandas as pd

    from multimodal.classify import classify_sources
    from multimodal.zeroshot import ZeroShotOptions

    if not image:
        raise gr.Error("upload an image first")
    (path,) = ctx.uploaded_images([image])
    options = ZeroShotOptions(multi_label=bool(multi), top_k=20)
    res = ctx.gated(classify_sources, ctx.services, [path], labels or "", options, names=[path.name])[0]
    if res.error:
        raise gr.Error(res.error)
    r = res.result
    df = pd.DataFrame({"label": [s.label for s in r.labels], "score": [s.score for s in r.labels]})
    return gr.BarPlot(value=df, x="label", y="score", title="label scores", sort="-y", y_lim=[0, 1]), verdict(r)


def verdict(result) -> str:
    """The verdict line of a zero-shot result (pure)."""
    if result.abstained:
        return "**none of these** (no label is supported by the image)"
    return "supported: **" + ", ".join(result.supported) + "**"


def build_classify_tab(ctx: UiContext) -> None:
    """The tab's components and its ``/classify`` event (inside the current Blocks)."""
    with gr.Tab("Classify"):
        with gr.Row():
            with gr.Column():
                image = gr.Image(label="image", type="filepath", elem_id="classify-image")
                labels = gr.Textbox(
                    label="labels (comma-separated or one per line)",
                    value=DEFAULT_LABELS,
                    lines=3,
                    elem_id="classify-labels",
                )
                multi = gr.Checkbox(label="multi-label")
                go = gr.Button("Classify", variant="primary", elem_id="classify-button")
            with gr.Column():
                plot = gr.BarPlot(label="scores", elem_id="scores")
                shown = gr.Markdown(elem_id="verdict")
        go.click(bind(do_classify, ctx), [image, labels, multi], [plot, shown], api_name="classify")
