"""The Ask tab: a question about uploaded images, attached records and (optionally) the catalog, answered as
a stream through the model gate."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import gradio as gr

from demos.render import answer_markdown, evidence_html
from demos.ui.context import UiContext, bind, thumbnail
from demos.ui.examples import write_examples

CONTEXT_TYPES = [".txt", ".log", ".csv", ".jsonl", ".md"]


def do_ask(
    ctx: UiContext,
    images: list | None,
    question: str | None,
    context_files: list | None,
    pasted: str | None,
    use_catalog: bool,
) -> Iterator[tuple]:
    """Yields ``(answer markdown, evidence html, cited catalog items [(thumbnail, caption)], text read)``: the
    answer text as it grows, then the final answer with its evidence. Reads only uploaded files."""
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
                yield text, "", [], ""
            else:
                a = piece.answer
                items = [
                    (thumbnail(catalog.image_path(c.locator.split(":", 1)[1])), c.text[:80])
                    for c in a.citations
                    if c.kind == "item"
                ]
                ocr = "\n".join(c.text for c in a.citations if c.kind == "ocr")
                yield answer_markdown(a), evidence_html(a, sources), items, ocr


def build_ask_tab(ctx: UiContext, examples_dir: Path | None) -> None:
    """The tab's components and its ``/ask`` event (inside the current Blocks)."""
    with gr.Tab("Ask"):
        with gr.Row():
            with gr.Column():
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
                go = gr.Button("Ask", variant="primary", elem_id="ask-button")
            with gr.Column():
                answer = gr.Markdown(elem_id="answer")
                evidence = gr.HTML(label="evidence", elem_id="evidence")
                items = gr.Gallery(label="cited catalog items", columns=3, height=220)
                ocr = gr.Textbox(label="text read in the image", lines=2)
        inputs = [images, question, context, pasted, use_catalog]
        if examples_dir is not None:
            gr.Examples(write_examples(examples_dir), inputs)
        go.click(bind(do_ask, ctx), inputs, [answer, evidence, items, ocr], api_name="ask")
