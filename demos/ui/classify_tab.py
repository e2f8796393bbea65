"""The Classify tab: zero-shot scores of an uploaded image against the user's labels, or, when a label set
(taught in the Teach tab, with ``sceneqa teach`` or over the API) is picked, that label set's probabilities."""

from __future__ import annotations

import gradio as gr

from demos.ui.context import UiContext, bind
from demos.ui.why import why_widgets

DEFAULT_LABELS = "cat, dog, cup of coffee, rocket, person, car"
NO_LABELSET = "(none: use the labels above)"
#: heatmaps shown by "Show why", best labels first: each is a forward and a backward pass on the model worker
WHY_MAX = 3
WHY_LABEL = f"Show why (heatmaps of the top {WHY_MAX} labels)"


def do_classify(
    ctx: UiContext, image: str | None, labels: str | None, multi: bool, labelset: str | None = None
) -> tuple:
    """``(bar plot of label scores, verdict markdown)`` for one uploaded image; with ``labelset`` (a name) the
    label set's head classifies it and the text labels are not used."""
    import pandas as pd

    from multimodal.classify import classify_sources
    from multimodal.zeroshot import ZeroShotOptions

    if not image:
        raise gr.Error("upload an image first")
    (path,) = ctx.uploaded_images([image])
    options = ZeroShotOptions(multi_label=bool(multi), top_k=20)
    if labelset:
        res = ctx.direct(_with_labelset, ctx, labelset, path, options)
    else:
        res = ctx.direct(classify_sources, ctx.services, [path], labels or "", options, names=[path.name])[0]
    if res.error:
        raise gr.Error(res.error)
    r = res.result
    df = pd.DataFrame({"label": [s.label for s in r.labels], "score": [s.score for s in r.labels]})
    title = f"label set {labelset}: probabilities" if labelset else "label scores"
    return gr.BarPlot(value=df, x="label", y="score", title=title, sort="-y", y_lim=[0, 1]), verdict(r)


def show_why(
    ctx: UiContext,
    image: str | None,
    labels: str | None,
    multi: bool,
    labelset: str | None = None,
    why: bool = False,
) -> tuple:
    """``(gallery update, note update)`` of the "Show why" toggle: heatmap overlays of the best
    :data:`WHY_MAX` labels (the rest skipped, said so) for the uploaded image. Unticked (the default) it hides
    both and does no model work; it runs after each Classify and when the box is ticked."""
    hidden = gr.update(value=None, visible=False)
    if not why:
        return hidden, gr.update(value="", visible=False)
    if not image:
        return hidden, gr.update(value="upload an image to see why", visible=True)
    from multimodal.classify import classify_sources
    from multimodal.teach.teach import classify_with_labelset
    from multimodal.zeroshot import ZeroShotOptions

    (path,) = ctx.uploaded_images([image])
    options = ZeroShotOptions(multi_label=bool(multi), top_k=20)
    taught = ctx.direct(load_picked, ctx, labelset) if labelset else None
    if taught is not None:  # ranked by the label set's head, each map of the head's logit for its label
        res = ctx.direct(classify_with_labelset, ctx.services, taught, [path], options, names=[path.name])[0]
    else:
        res = ctx.direct(classify_sources, ctx.services, [path], labels or "", options, names=[path.name])[0]
    if res.error:
        raise gr.Error(res.error)
    ranked = [s.label for s in res.result.labels]
    items, notes = ctx.gated(why_overlays, ctx.services, path, ranked[:WHY_MAX], taught)
    what = (
        f"label set {labelset}: where each label raises its head's logit" if taught else "where each label scores most"
    )
    note = f"{what}, best label first: {len(items)} of {len(ranked)} labels"
    if len(ranked) > WHY_MAX:
        note += f" (at most {WHY_MAX}: each heatmap costs a backward pass; `sceneqa classify --explain` makes more)"
    if notes:
        note += "; note: " + "; ".join(notes)
    return gr.update(value=items, visible=True), gr.update(value=note, visible=True)


def why_overlays(services, path, labels: list[str], labelset=None) -> tuple[list[tuple], list[str]]:
    """``([(overlay, caption)] per label, notes)``: the heatmap of the image for each label (of the text
    label's embedding, or with ``labelset`` of its head's logit, as ``sceneqa classify --labelset --explain``
    draws), its boxes and where it peaks, and what the maps leave out (a head's text blend, say). Runs on the
    model worker: a forward and a backward pass per label."""
    from multimodal.explain.api import captioned, explain_targets
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.linear import labelset_targets
    from multimodal.explain.targets import phrase_targets
    from multimodal.images import load_image

    if not labels:
        return [], []
    image = load_image(path, limits=services.config.image_limits)
    if labelset is not None:
        targets = labelset_targets(labelset, labels)
    else:
        targets, _ = phrase_targets(services.encoder, services.zeroshot, labels)
    config = ExplainConfig(max_explanations=WHY_MAX)
    explanations, _ = explain_targets(create_explainer(services.encoder), image, targets, config)
    notes = sorted({n for e in explanations for n in e.notes})
    return [captioned(image, label, e, config) for label, e in zip(labels, explanations)], notes


def load_picked(ctx: UiContext, name: str):
    """Label set ``name`` from the server's label-set folder, checked against the running encoder (naming both
    when they differ)."""
    from demos.labelsets_api import labelsets_root
    from multimodal.teach.store import load_labelset

    enc = ctx.services.encoder
    return load_labelset(labelsets_root(ctx.services), name, encoder_spec=enc.spec, encoder_dim=enc.dim)


def _with_labelset(ctx: UiContext, name: str, path, options):
    """Classify ``path`` with label set ``name`` from the server's label-set folder."""
    from multimodal.teach.teach import classify_with_labelset

    ls = load_picked(ctx, name)
    return classify_with_labelset(ctx.services, ls, [path], options, names=[path.name])[0]


def labelset_choices(ctx: UiContext) -> dict:
    """The label-set picker with the server's current label sets (refreshed when it gets focus)."""
    return gr.update(choices=labelset_options(ctx))


def labelset_options(ctx: UiContext) -> list[tuple[str, str]]:
    from demos.ui.teach_tab import labelset_names

    return [(NO_LABELSET, ""), *((n, n) for n in labelset_names(ctx))]


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
                picker = gr.Dropdown(
                    label="or a label set from Teach (used instead of the labels)",
                    choices=labelset_options(ctx),
                    value="",
                    elem_id="classify-labelset",
                )
                multi = gr.Checkbox(label="multi-label")
                why = gr.Checkbox(label=WHY_LABEL, value=False, elem_id="classify-why")
                go = gr.Button("Classify", variant="primary", elem_id="classify-button")
            with gr.Column():
                plot = gr.BarPlot(label="scores", elem_id="scores")
                shown = gr.Markdown(elem_id="verdict")
                why_note, why_gallery = why_widgets("why: where each label scores most", WHY_MAX, "classify")
        picker.focus(bind(labelset_choices, ctx), None, picker, api_name=False)
        event = go.click(bind(do_classify, ctx), [image, labels, multi, picker], [plot, shown], api_name="classify")
        # a second event, not more /classify inputs and outputs: API clients keep their calls and results
        explain, why_inputs = bind(show_why, ctx), [image, labels, multi, picker, why]
        event.success(explain, why_inputs, [why_gallery, why_note], api_name=False)
        why.change(explain, why_inputs, [why_gallery, why_note], api_name=False)
