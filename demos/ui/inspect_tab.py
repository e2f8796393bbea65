"""The Inspect tab: fit an inspector from uploaded good images (with a progress bar), pick one, drop images
and see each one's verdict, score and heatmap overlay with the anomalous regions boxed; ask a yes/no question
("is this part defective?") that the inspector's verdict answers, cited.

Handlers are module-level functions of an :class:`InspectContext` (the UI context plus the server's inspector
shelf, shared with the API), bound with :func:`demos.ui.context.bind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from demos.ui.annotate import annotate
from demos.ui.context import UiContext, bind
from multimodal.inspect.shelf import InspectorShelf

SHOWN_SIDE = 768
MAX_SHOWN = 8  # overlays in the gallery per request


@dataclass(frozen=True)
class InspectContext:
    """``ui``: the app's handler context; ``shelf``: the server's inspectors."""

    ui: UiContext
    shelf: InspectorShelf

    @property
    def folders(self) -> tuple[Path, ...]:
        """Server folders scrubbed from error messages (the bind's error conversion reads this)."""
        return (*self.ui.folders, self.shelf.root, self.ui.services.config.resolved_cache_dir)


def _decode(ctx: UiContext, paths: list[Path]):
    """``(images, names, skipped lines)`` of uploaded files at full size; unreadable ones are skipped."""
    from multimodal.errors import InvalidImageError
    from multimodal.images import load_image

    images, names, skipped = [], [], []
    for path in paths:
        try:
            images.append(load_image(path, limits=ctx.services.config.image_limits, name=path.name))
            names.append(path.name)
        except InvalidImageError as exc:
            skipped.append(f"{path.name}: {exc}")
    return images, names, skipped


def fit_uploaded(
    ictx: InspectContext, name: str | None, files: list | None, replace: bool, progress=gr.Progress()
) -> tuple[str, dict]:
    """Fit inspector ``name`` on the uploaded good images: ``(summary markdown, inspector dropdown update)``."""
    from multimodal.inspect.store import validate_name

    ctx = ictx.ui
    name = validate_name((name or "").strip())
    paths = ctx.uploaded_images(files)
    if len(paths) < 2:
        raise gr.Error(f"upload at least 2 good images (20 or more recommended); got {len(paths)}")
    images, _, skipped = _decode(ctx, paths)
    if len(images) < 2:
        raise gr.Error(f"{len(images)} of the uploads could be read; at least 2 are needed. " + "; ".join(skipped))

    def tick(stage: str, done: int, total: int) -> None:
        progress((done, total), desc=f"fitting: {stage}", unit="images")

    state = ctx.gated(ictx.shelf.fit, name, images, replace=bool(replace), skipped=skipped, progress=tick)
    return fit_summary(state.summary()), gr.update(choices=ictx.shelf.names(), value=name)


def fit_summary(s: dict) -> str:
    """Markdown of a fit's provenance summary (pure)."""
    skipped = f"; {len(s['skipped'])} skipped: " + "; ".join(s["skipped"]) if s["skipped"] else ""
    return (
        f"**inspector `{s['name']}` saved**: backbone {s['backbone']}, input {s['input_size'][0]}x"
        f"{s['input_size'][1]}, bank of {s['bank_size']:,} patches from {s['bank_images']} images\n\n"
        f"{s['threshold_how']}; {s['threshold_method']}{skipped}"
    )


def list_inspectors(ictx: InspectContext) -> dict:
    """The inspector dropdown with the shelf's current names."""
    return gr.update(choices=ictx.shelf.names())


def inspect_uploaded(
    ictx: InspectContext, name: str | None, files: list | None, band: float, labelset: str | None
) -> tuple[str, list, tuple | None]:
    """``(results markdown, gallery of heatmap overlays [(image, caption)], annotated first image)``."""
    from demos.inspect_api import labelsets_root
    from multimodal.inspect.config import VerdictConfig
    from multimodal.inspect.defect_types import inspect_with_types, open_labelset
    from multimodal.inspect.render import overlay

    ctx = ictx.ui
    if not name:
        raise gr.Error("pick an inspector first (or fit one above)")
    paths = ctx.uploaded_images(files)
    if not paths:
        raise gr.Error("drop one or more images to inspect")

    def run():
        inspector = ictx.shelf.open(name)
        labels = open_labelset(ctx.services, labelsets_root(ctx.services), labelset.strip()) if labelset else None
        images, names, skipped = _decode(ctx, paths)
        verdict = VerdictConfig(band=float(band))
        return images, inspect_with_types(ctx.services, inspector, images, names, verdict, labels), skipped

    images, found, skipped = ctx.gated(run)
    gallery = []
    for img, (ins, _) in list(zip(images, found))[:MAX_SHOWN]:
        shown = overlay(img, ins.heatmap, ins.threshold, ins.boxes)
        shown.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
        gallery.append((shown, f"{ins.image}: {ins.verdict} ({ins.score:.3g})"))
    first = annotated(images[0], found[0][0]) if found else None
    return results_markdown(name, found, skipped), gallery, first


def annotated(img, ins) -> tuple:
    """A ``gr.AnnotatedImage`` value: the image (shrunk) with a box per anomalous region."""
    shown = img.copy()
    shown.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
    sx, sy = shown.width / img.width, shown.height / img.height
    boxes = []
    for i, b in enumerate(ins.boxes):
        left, top = int(b.x0 * sx), int(b.y0 * sy)
        box = (left, top, max(left + 1, int(b.x1 * sx)), max(top + 1, int(b.y1 * sy)))
        boxes.append((box, f"region {i + 1} ({b.peak:.3g})"))
    return shown, boxes


def results_markdown(name: str, found, skipped) -> str:
    """One table row per inspected image (pure): verdict, score, threshold, probability, defect type, regions."""
    rows = [
        f"inspector `{name}`",
        "",
        "| image | verdict | score | threshold | probability | defect type | regions |",
        "|---|---|---|---|---|---|---|",
    ]
    for ins, kind in found:
        kind_text = kind.describe() if kind is not None else ""
        rows.append(
            f"| {_cell(ins.image)} | **{ins.verdict}** | {ins.score:.4g} | {ins.threshold:.4g} | "
            f"{ins.probability:.3f} | {_cell(kind_text)} | {len(ins.boxes)} |"
        )
    rows += [f"\n_skipped {_cell(s)}_" for s in skipped]
    return "\n".join(rows)


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")[:120]


def ask_inspector(ictx: InspectContext, name: str | None, question: str | None, files: list | None) -> tuple:
    """Ask about the dropped images with the inspector as evidence: ``(answer markdown, annotated first image)``."""
    from multimodal.ask.inspector_evidence import InspectorSelection
    from multimodal.ask.pipeline import AskRequest, ask

    ctx = ictx.ui
    if not name:
        raise gr.Error("pick an inspector first")
    paths = ctx.uploaded_images(files)
    if not paths or not (question or "").strip():
        raise gr.Error("drop an image and type a question, e.g. 'is this part defective?'")

    def run():
        req = AskRequest(
            question, tuple(paths), tuple(p.name for p in paths), inspector=InspectorSelection(ictx.shelf.open(name))
        )
        return ask(ctx.services, req)

    result = ctx.gated(run)
    a = result.answer
    cites = "\n".join(f"- `{c.locator}`: {c.text}" for c in a.citations)
    text = f"**{a.text}** (confidence {a.confidence:.2f})\n\n{a.detail}\n\n{cites}"
    from multimodal.images import load_image

    img = load_image(paths[0], limits=ctx.services.config.image_limits)
    size = img.size
    img.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
    return text, annotate(a, [img], [size])[0]


def build_inspect_tab(ctx: UiContext, shelf: InspectorShelf) -> None:
    """The tab's components and events (inside the current Blocks)."""
    ictx = InspectContext(ctx, shelf)
    with gr.Tab("Inspect"):
        with gr.Accordion("fit an inspector from good images", open=False):
            with gr.Row():
                name = gr.Textbox(label="name", placeholder="e.g. spindle-v2", elem_id="inspect-fit-name")
                replace = gr.Checkbox(label="replace an existing one")
            good = gr.File(label="good images", file_count="multiple", file_types=["image"], type="filepath")
            fit_btn = gr.Button("Fit", elem_id="inspect-fit-button")
            fit_out = gr.Markdown(elem_id="inspect-fit-summary")
        with gr.Row():
            with gr.Column():
                chosen = gr.Dropdown(label="inspector", choices=shelf.names(), elem_id="inspect-choice")
                refresh = gr.Button("refresh list", size="sm")
                files = gr.File(label="images to inspect", file_count="multiple", file_types=["image"], type="filepath")
                band = gr.Slider(0.0, 3.0, value=0.5, step=0.1, label='"cannot tell" band (good-score spreads)')
                labelset = gr.Textbox(label="label set for defect types (optional, from Teach)")
                go = gr.Button("Inspect", variant="primary", elem_id="inspect-button")
                question = gr.Textbox(label="ask about these images", placeholder="is this part defective?")
                ask_btn = gr.Button("Ask with the inspector")
            with gr.Column():
                table = gr.Markdown(elem_id="inspect-results")
                first = gr.AnnotatedImage(label="regions (first image)", elem_id="inspect-regions")
                gallery = gr.Gallery(label="heatmaps", columns=2, elem_id="inspect-heatmaps")
                answer = gr.Markdown(elem_id="inspect-answer")
        fit_btn.click(bind(fit_uploaded, ictx), [name, good, replace], [fit_out, chosen], api_name="inspect_fit")
        refresh.click(bind(list_inspectors, ictx), [], [chosen], api_name=False)
        go.click(
            bind(inspect_uploaded, ictx), [chosen, files, band, labelset], [table, gallery, first], api_name="inspect"
        )
        ask_btn.click(bind(ask_inspector, ictx), [chosen, question, files], [answer, first], api_name="inspect_ask")
