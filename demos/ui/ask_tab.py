"""The Ask tab: a question about uploaded images, attached records and (optionally) the catalog, answered as
a stream through the model gate; "Show why" (off by default) adds heatmap overlays of the image evidence behind
the answer (:mod:`multimodal.explain.evidence`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import gradio as gr

from demos.inspect_api import open_selection
from demos.render import answer_markdown, evidence_html
from demos.ui.annotate import MAX_BOXES, annotate
from demos.ui.classify_tab import labelset_choices, labelset_options
from demos.ui.context import UiContext, bind, thumbnail
from demos.ui.examples import write_examples
from demos.ui.why import why_widgets
from multimodal.ask.answers import Answer

CONTEXT_TYPES = [".txt", ".log", ".csv", ".jsonl", ".md"]
MAX_SHOWN = 16  # image slots in the tab (RequestLimits.max_images is 16 by default; past that: a note)
SHOWN_SIDE = 768  # pixels a side of the images shown (boxes are scaled to them)
SHOWN_BOXES = 200  # boxes drawn over all images together (Gradio writes a full-size mask image for each)
#: images explained by "Show why", first first: each is a forward and a backward pass on the model worker
WHY_IMAGES = 3
WHY_LABEL = f"Show why (heatmaps of the image evidence behind the answer, first {WHY_IMAGES} images)"


class Asked(NamedTuple):
    """The last answer of the session, kept for "Show why": the answer, its question and the uploaded images."""

    answer: Answer
    question: str
    paths: tuple[str, ...]


class Shown(NamedTuple):
    """What the image slots show: a note, and one ``gr.AnnotatedImage`` value per image (request order);
    ``asked``: the answer they belong to (``None`` without images), for "Show why"."""

    note: str
    overlays: list
    asked: Asked | None = None


def do_ask(
    ctx: UiContext,
    images: list | None,
    question: str | None,
    context_files: list | None,
    pasted: str | None,
    use_catalog: bool,
    labelset: str | None = None,
    inspector: str | None = None,
) -> Iterator[tuple]:
    """Yields ``(answer markdown, evidence html, cited catalog items [(thumbnail, caption)], text read, shown)``:
    the answer text as it grows (``shown`` None), then the final answer with its evidence and the images with
    what it rests on outlined (a :class:`Shown`, kept in the session for :func:`show_images`). Reads only
    uploaded files. ``labelset``: a taught label set's name, whose top labels become evidence (and answer
    "which of my labels is this?"); ``inspector``: an inspector of the server's shelf (``ctx.inspectors``), whose
    verdict is evidence and answers "is this part defective?"."""
    from multimodal.ask.context_files import load_context_file
    from multimodal.ask.pipeline import AskRequest, ask_stream

    images = ctx.uploaded_images(images)
    files = ctx.uploaded(context_files)
    ctx.limits.check_context([f.stat().st_size for f in files] + [len((pasted or "").encode())])
    chunks = [c for f in files for c in load_context_file(f)]
    sources = {f.name: f.read_text(encoding="utf-8", errors="replace") for f in files}
    if pasted:
        sources["pasted"] = pasted
    req = AskRequest(
        question=question or "",
        images=tuple(images),
        image_names=tuple(p.name for p in images),
        context_text=pasted or None,
        preloaded_chunks=tuple(chunks),
        labelset=_labelset(ctx, labelset),
        inspector=open_selection(ctx.inspectors, inspector) if ctx.inspectors is not None else None,
    )
    catalog = ctx.catalog

    def start():
        reader = catalog.reader() if use_catalog and catalog.exists() else None
        return ask_stream(ctx.services, req, reader)

    text = ""
    # the gate is held by the stream's worker thread only, never across this generator's yield; closing this
    # generator (client gone) cancels the worker and frees the slot
    with closing(ctx.gate.stream(start, ctx.deadline())) as pieces:
        for piece in pieces:
            if isinstance(piece, str):
                text += piece
                yield text, "", [], "", None
            else:
                a = piece.answer
                items = [
                    (thumbnail(catalog.image_path(c.locator.split(":", 1)[1])), c.text[:80])
                    for c in a.citations
                    if c.kind == "item"
                ]
                ocr = "\n".join(c.text for c in a.citations if c.kind == "ocr")
                shown = outlined(ctx, a, images)
                if images:
                    shown = shown._replace(asked=Asked(a, question or "", tuple(str(p) for p in images)))
                yield answer_markdown(a), evidence_html(a, sources), items, ocr, shown


def _inspector_names(ctx: UiContext) -> list[str]:
    return ["", *(ctx.inspectors.names() if ctx.inspectors is not None else [])]


def _labelset(ctx: UiContext, name: str | None):
    """The chosen label set as Ask evidence, checked against the running encoder (None when none is chosen)."""
    if not name:
        return None
    from demos.labelsets_api import labelsets_root
    from multimodal.ask.labelset_evidence import LabelSetSelection
    from multimodal.teach.store import load_labelset

    enc = ctx.services.encoder
    ls = load_labelset(labelsets_root(ctx.services), name, encoder_spec=enc.spec, encoder_dim=enc.dim)
    return LabelSetSelection(ls, ctx.services)


def outlined(ctx: UiContext, answer: Answer, paths: list[Path]) -> Shown:
    """The request's images (decoded as the answerer saw them, then shrunk) with the boxes of the evidence
    ``answer`` rests on (at most ``SHOWN_BOXES`` over all images, shared evenly), and a note saying what they
    show."""
    from multimodal.images import load_image

    shown, sizes = [], []
    for path in paths[: shown_slots(ctx)]:
        img = load_image(path, limits=ctx.services.config.image_limits, name=path.name)
        sizes.append(img.size)  # the boxes are pixels of this image: EXIF orientation applied, full size
        img.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
        shown.append(img)
    overlays = annotate(answer, shown, sizes, max_boxes=min(MAX_BOXES, SHOWN_BOXES // max(1, len(shown))))
    if not paths:
        note = ""
    elif any(boxes for _, boxes in overlays):
        note = "outlined: what " + ("could be established" if answer.abstained else "the answer rests on")
    else:
        note = "nothing to outline: the answer rests on facts about whole images or on the records"
    return Shown(_with_overflow(note, len(paths), shown_slots(ctx)), overlays)


def remember(shown: Shown | None):
    """The answer the images shown belong to (``None``: an answer without images), kept in the session for
    "Show why"; nothing changes when there is no answer."""
    return shown.asked if shown is not None else gr.skip()


def ask_why(ctx: UiContext, asked: Asked | None, why: bool = False) -> tuple:
    """``(gallery update, note update)`` of the "Show why" toggle: for the first :data:`WHY_IMAGES` images of the
    last answer, the boxes of the image evidence it cites over the heatmap of the question's subject, and a note
    (capped, flat maps and images with nothing to show said so). Unticked (the default) it hides both and does
    no model work; it runs after each answer and when the box is ticked."""
    hidden = gr.update(value=None, visible=False)
    if not why:
        return hidden, gr.update(value="", visible=False)
    if asked is None:
        return hidden, gr.update(
            value="ask a question about images; the evidence behind the answer is then shown", visible=True
        )
    paths = ctx.uploaded_images(list(asked.paths[:WHY_IMAGES]))
    items, notes = ctx.gated(answer_overlays, ctx.services, asked, paths)
    total = len(asked.paths)
    head = f"the image evidence behind the answer: {len(items)} of {total} image(s)"
    if total > WHY_IMAGES:
        head += f" (at most {WHY_IMAGES}: each heatmap costs a backward pass; `sceneqa ask --explain` makes more)"
    return gr.update(value=items or None, visible=bool(items)), gr.update(value="; ".join([head, *notes]), visible=True)


def answer_overlays(services, asked: Asked, paths: list[Path]) -> tuple[list[tuple], list[str]]:
    """``([(overlay, caption)], notes)`` for ``paths`` (the answer's first images; runs on the model worker)."""
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.evidence import answer_target, explain_answer
    from multimodal.images import load_image

    subject, explainer, target, problem = answer_target(services, asked.question)
    images = [load_image(p, limits=services.config.image_limits, name=p.name) for p in paths]
    config = ExplainConfig(max_explanations=max(1, len(images)))
    rows, _ = explain_answer(images, asked.answer, explainer, target, config)
    items = []
    for row in rows:
        picture = row.picture.copy()
        picture.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
        items.append((picture, row.summary(subject)))
    notes = [problem] if problem else []
    notes += [row.summary(subject) for row in rows if row.explanation is not None and row.explanation.flat]
    if len(rows) < len(images):
        notes.append(f"{len(images) - len(rows)} image(s) without cited boxes or a subject: nothing to show")
    return items, notes


def preview_images(ctx: UiContext, images: list | None) -> list:
    """Updates for the image slots (:func:`slot_updates`) showing the uploaded images, before any answer."""
    from multimodal.images import load_image

    paths = ctx.uploaded_images(images)
    previews = []
    for path in paths[: shown_slots(ctx)]:
        img = load_image(path, limits=ctx.services.config.image_limits, draft_size=SHOWN_SIDE, name=path.name)
        img.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
        previews.append(img)
    return slot_updates(ctx, Shown(_with_overflow("", len(paths), shown_slots(ctx)), annotate(None, previews)))


def show_images(ctx: UiContext, shown: Shown | None) -> list:
    """Updates for the image slots showing an answer's :class:`Shown`, then None for the session's copy (the
    images are not kept once shown). Nothing changes when there is no answer."""
    if shown is None:
        return [gr.skip()] * (1 + 2 * shown_slots(ctx) + 1)
    return [*slot_updates(ctx, shown), None]


def slot_updates(ctx: UiContext, shown: Shown) -> list:
    """``[note, *slot visibility updates, *slot values]``: a slot per image (the rest hidden and emptied)."""
    slots = shown_slots(ctx)
    values = list(shown.overlays[:slots]) + [None] * (slots - len(shown.overlays[:slots]))
    return [shown.note, *(gr.update(visible=v is not None) for v in values), *values]


def shown_slots(ctx: UiContext) -> int:
    return min(ctx.limits.max_images, MAX_SHOWN)


def _with_overflow(note: str, images: int, slots: int) -> str:
    if images <= slots:
        return note
    return "; ".join(n for n in (note, f"showing the first {slots} of {images} images") if n)


def build_ask_tab(ctx: UiContext, examples_dir: Path | None) -> None:
    """The tab's components, its ``/ask`` event (the API answers the first four outputs: the images shown are
    session state) and the image previews (inside the current Blocks): inputs | images | answer and evidence."""
    with gr.Tab("Ask"):
        with gr.Row():
            with gr.Column(scale=1):
                images = gr.File(
                    label="images", file_count="multiple", file_types=["image"], type="filepath", elem_id="ask-images"
                )
                question = gr.Textbox(
                    label="question", placeholder="is the seal on this valve intact?", elem_id="ask-question"
                )
                context = gr.File(
                    label="records (.txt .log .csv .jsonl .md)",
                    file_count="multiple",
                    file_types=CONTEXT_TYPES,
                    type="filepath",
                )
                pasted = gr.Textbox(label="or paste text", lines=3)
                use_catalog = gr.Checkbox(label="use the catalog", value=False)
                picker = gr.Dropdown(
                    label="a label set from Teach (answers 'which of my labels is this?')",
                    choices=labelset_options(ctx),
                    value="",
                    elem_id="ask-labelset",
                )
                inspector = gr.Dropdown(
                    label="an inspector from Inspect (answers 'is this part defective?')",
                    choices=_inspector_names(ctx),
                    value="",
                    elem_id="ask-inspector",
                )
                why = gr.Checkbox(label=WHY_LABEL, value=False, elem_id="ask-why")
                go = gr.Button("Ask", variant="primary", elem_id="ask-button")
            with gr.Column(scale=1, elem_id="ask-shown"):
                slots = _image_slots(shown_slots(ctx))
            with gr.Column(scale=1):
                answer = gr.Markdown(elem_id="answer")
                evidence = gr.HTML(label="evidence", elem_id="evidence")
                items = gr.Gallery(label="cited catalog items", columns=3, height=220)
                ocr = gr.Textbox(label="text read in the image", lines=2)
                why_note, why_gallery = why_widgets("why: the image evidence behind the answer", WHY_IMAGES, "ask")
        shown, last = gr.State(None), gr.State(None)
        inputs = [images, question, context, pasted, use_catalog, picker, inspector]
        if examples_dir is not None:
            gr.Examples(write_examples(examples_dir), inputs[:5])
        picker.focus(bind(labelset_choices, ctx), None, picker, api_name=False)

        asked = go.click(bind(do_ask, ctx), inputs, [answer, evidence, items, ocr, shown], api_name="ask")
        inspector.focus(lambda: gr.update(choices=_inspector_names(ctx)), None, inspector, api_name=False)
        # internal events: hidden from the API docs and clients (the browser calls them by fn_index)
        # "Show why" reads the answer kept in ``last`` (show_images drops ``shown``): remember, show, then explain
        explain, why_outputs = bind(ask_why, ctx), [why_gallery, why_note]
        asked.success(remember, [shown], [last], api_name=False, show_progress="hidden").then(
            bind(show_images, ctx), [shown], [*slots, shown], api_name=False, show_progress="hidden"
        ).then(explain, [last, why], why_outputs, api_name=False)
        why.change(explain, [last, why], why_outputs, api_name=False)
        images.change(bind(preview_images, ctx), [images], slots, api_name=False, show_progress="minimal")


def _image_slots(n: int) -> list:
    """``[note, *frames, *images]``: a note, then ``n`` hidden frames each holding an annotated image."""
    note = gr.Markdown(elem_id="ask-shown-note")
    frames, overlays = [], []
    for i in range(n):
        with gr.Column(visible=False) as frame:
            overlays.append(gr.AnnotatedImage(label=f"image {i + 1}", elem_id=f"ask-image-{i + 1}"))
        frames.append(frame)
    return [note, *frames, *overlays]
