"""The Gradio app: ``build_demo(services, catalog, gate, upload_root=...)`` -> ``gr.Blocks`` with Ask, Search,
Classify and Catalog tabs and a banner naming the tier and models. Handlers call the same use cases as the CLI,
read only files inside the app's upload folder (:func:`demos.upload_guard.confine`), run model work through the
shared :class:`ModelGate` under a per-call deadline, turn our errors into ``gr.Error`` (others into a generic
message), and keep per-session data in ``gr.State``."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import gradio as gr

from demos.catalog_handle import CatalogHandle
from demos.gate import ModelGate
from demos.render import answer_markdown, evidence_html, item_caption
from demos.ui_errors import ui_errors
from demos.upload_guard import confine, use_upload_folder
from multimodal.deadline import Deadline
from multimodal.errors import ConfigError, SceneQAError

CONTEXT_TYPES = [".txt", ".log", ".csv", ".jsonl", ".md"]
EXAMPLE_LOG = """2026-03-01 08:02 shift start, operator A. Koch
2026-03-01 08:10 pump 1 pressure 4.1 bar, nominal
2026-03-01 09:30 valve 3 inspected: seal intact, no leak found
2026-03-01 09:32 valve 3 torque checked, 45 Nm
2026-03-01 10:05 valve 7 inspected: seal cracked, replacement ordered
2026-03-01 11:00 cat seen near pump 2 again; maintenance informed
"""


def _thumb(path: str, side: int = 256):
    from multimodal.images import load_image

    img = load_image(path, draft_size=side)
    img.thumbnail((side, side))
    return img


def write_examples(folder: Path) -> list[list]:
    """Example inputs for the Ask tab: package photos and a small inspection log."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "inspection.log"
    log.write_text(EXAMPLE_LOG)
    photos = {}
    for name in ("chelsea", "coffee", "astronaut", "page"):
        photos[name] = folder / f"{name}.jpg"
        if not photos[name].exists():
            Image.fromarray(getattr(data, name)()).convert("RGB").save(photos[name], quality=90)
    return [
        [[str(photos["chelsea"])], "is there a cat?", [str(log)], "", False],
        [[str(photos["coffee"])], "what is this?", [], "", True],
        [[str(photos["astronaut"])], "how many people are there?", [], "", False],
        [[str(photos["page"])], "what does the text say?", [], "", False],
        [[], "what was found when valve 7 was inspected?", [str(log)], "", False],
    ]


def build_demo(
    services,
    catalog: CatalogHandle,
    gate: ModelGate,
    examples_dir: Path | None = None,
    *,
    upload_root: Path,
    request_timeout_s: float = 120.0,
) -> gr.Blocks:
    """upload_root: the app's own upload folder (created; Gradio's uploads and cached copies go there, and
    handlers read no file outside it); examples_dir: where the Ask tab's example files are written, inside
    ``upload_root`` (None: no examples); request_timeout_s: limit of each handler call, waiting included."""
    from multimodal.ask import AskRequest, ask_stream
    from multimodal.classify import classify_sources
    from multimodal.context_files import load_context_file
    from multimodal.search import SearchRequest, search_catalog
    from multimodal.zeroshot import ZeroShotOptions

    root = use_upload_folder(upload_root)  # before any component exists: each reads it when constructed
    if examples_dir is not None and not Path(examples_dir).resolve().is_relative_to(root):
        raise ConfigError(
            f"examples folder {examples_dir} is outside the upload folder {root}; the UI reads only files inside "
            f"it: pass a folder under it (e.g. {root / 'examples'})"
        )
    handler = ui_errors([root, catalog.folder])

    def deadline() -> Deadline:
        return Deadline(request_timeout_s, "the UI request")

    def gated(fn, *args, write: bool = False, **kwargs):
        return gate.run(lambda: fn(*args, **kwargs), deadline(), write=write)

    def uploaded(paths) -> list[Path]:
        return [confine(p if isinstance(p, str) else p.name, root) for p in (paths or [])]

    # ---- Ask ---------------------------------------------------------------------------------------------

    @handler
    def do_ask(images, question, context_files, pasted, use_catalog):
        images = uploaded(images)
        files = uploaded(context_files)
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

        def start():
            reader = catalog.reader() if use_catalog and catalog.exists() else None
            return ask_stream(services, req, reader)

        text = ""
        # the gate is held by the stream's worker thread only, never across this generator's yield; closing
        # this generator (client gone) cancels the worker and frees the slot
        with closing(gate.stream(start, deadline())) as pieces:
            for piece in pieces:
                if isinstance(piece, str):
                    text += piece
                    yield text, "", [], ""
                else:
                    a = piece.answer
                    items = [
                        (_thumb(str(catalog.image_path(c.locator.split(":", 1)[1]))), c.text[:80])
                        for c in a.citations
                        if c.kind == "item"
                    ]
                    ocr = "\n".join(c.text for c in a.citations if c.kind == "ocr")
                    yield answer_markdown(a), evidence_html(a, sources), items, ocr

    # ---- Search ------------------------------------------------------------------------------------------

    def run_search(text, image, weight, negative, filters_text, k, hybrid, like=None):
        filters = tuple(f.strip() for f in (filters_text or "").splitlines() if f.strip())
        image = confine(image, root) if image else None
        req = SearchRequest(
            text=text or None,
            image=image,
            image_name=image.name if image else None,
            like=like,
            weight=weight,
            negative=negative or None,
            filters=filters,
            k=int(k),
            hybrid=bool(hybrid) and bool(text),
        )
        response = gated(lambda: search_catalog(services, catalog.reader(), req))
        hits = response["results"]
        gallery = [(_thumb(h["image"]), item_caption(h)) for h in hits]
        records = [{k: v for k, v in h.items() if k != "image"} for h in hits]  # no server paths to clients
        return gallery, [h["id"] for h in hits], records

    widgets = filter_widget_specs(catalog)

    @handler
    def do_search(text, image, weight, negative, filters_text, k, hybrid, *widget_values):
        extra = widget_filters(widgets, widget_values)
        combined = "\n".join([filters_text or "", *extra])
        return run_search(text, image, weight, negative, combined, k, hybrid)

    @handler
    def more_like(ids, k, evt: gr.EventData):
        # gr.EventData, not gr.SelectData: Gradio builds a SelectData before calling us and crashes on an event
        # sent without data ("'NoneType' object is not subscriptable"); here a bad selection is our error
        data = getattr(evt, "_data", None)
        item_id = selected_id(ids, data.get("index") if isinstance(data, dict) else None)
        return run_search(None, None, 0.5, None, "", k, False, like=item_id)

    # ---- Classify ----------------------------------------------------------------------------------------

    @handler
    def do_classify(image, labels, multi):
        import pandas as pd

        if not image:
            raise gr.Error("upload an image first")
        image = confine(image, root)
        options = ZeroShotOptions(multi_label=bool(multi), top_k=20)
        res = gated(classify_sources, services, [image], labels or "", options, names=[image.name])[0]
        if res.error:
            raise gr.Error(res.error)
        r = res.result
        df = pd.DataFrame({"label": [s.label for s in r.labels], "score": [s.score for s in r.labels]})
        verdict = (
            "**none of these** (no label is supported by the image)"
            if r.abstained
            else "supported: **" + ", ".join(r.supported) + "**"
        )
        return gr.BarPlot(value=df, x="label", y="score", title="label scores", sort="-y", y_lim=[0, 1]), verdict

    # ---- Catalog -----------------------------------------------------------------------------------------

    @handler
    def catalog_info():
        if not catalog.exists():
            return "The catalog is empty."
        info = gated(lambda: catalog.reader().info())
        schema = ", ".join(f"{k} ({v})" for k, v in info["schema"].items()) or "none"
        return (
            f"**{info['count']} items**, index type `{info['index_type']}`, encoder `{info['encoder']}`, "
            f"{info['size_on_disk_bytes'] / 2**20:.1f} MB on disk.\n\nmetadata columns: {schema}"
        )

    @handler
    def add_files(files, meta_json, catalog_file=None, progress=gr.Progress()):
        import json

        files = uploaded(files)
        if not files:
            raise gr.Error("choose image files to add")
        if catalog_file:
            (path,) = uploaded([catalog_file])
            uploads = [(f.name, f.read_bytes()) for f in files]
            summary = gated(
                catalog.add_catalog_file,
                path.name,
                path.read_bytes(),
                uploads,
                lambda n: progress(None, desc="indexing"),
                write=True,
            )
            failed = "".join(f"\n- {w}: {r}" for w, r in summary.failed)
            return (
                f"added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
                f"duplicates {len(summary.duplicates)}, failed {len(summary.failed)}{failed}"
            ), catalog_info()
        try:
            meta = json.loads(meta_json) if meta_json and meta_json.strip() else {}
        except json.JSONDecodeError as exc:
            raise gr.Error(f"metadata is not JSON: {exc.msg}") from None
        done = [0]

        def tick(n):
            done[0] += n
            progress((done[0], len(files)), desc="indexing", unit="images")

        uploads = [(f.name, f.read_bytes()) for f in files]
        summary = gated(catalog.add_uploads, uploads, meta, tick, write=True)
        failed = "".join(f"\n- {w}: {r}" for w, r in summary.failed)
        return (
            f"added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
            f"duplicates {len(summary.duplicates)}, failed {len(summary.failed)}{failed}"
        ), catalog_info()

    @handler
    def remove_ids(text):
        ids = [t.strip() for t in (text or "").replace(",", "\n").splitlines() if t.strip()]
        if not ids:
            raise gr.Error("enter item ids to remove")
        removed = gated(catalog.remove, ids, write=True)
        missing = [i for i in ids if i not in removed]
        return (f"removed {len(removed)}" + (f"; not found: {', '.join(missing)}" if missing else "")), catalog_info()

    # ---- layout ------------------------------------------------------------------------------------------

    with gr.Blocks(title="sceneqa") as demo:
        gr.Markdown(banner_markdown(services), elem_id="banner")
        with gr.Tab("Ask"):
            with gr.Row():
                with gr.Column():
                    a_images = gr.File(
                        label="images",
                        file_count="multiple",
                        file_types=["image"],
                        type="filepath",
                        elem_id="ask-images",
                    )
                    a_question = gr.Textbox(
                        label="question", placeholder="is the seal on this valve intact?", elem_id="ask-question"
                    )
                    a_context = gr.File(
                        label="records (.txt .log .csv .jsonl .md)",
                        file_count="multiple",
                        file_types=CONTEXT_TYPES,
                        type="filepath",
                    )
                    a_pasted = gr.Textbox(label="or paste text", lines=3)
                    a_catalog = gr.Checkbox(label="use the catalog", value=False)
                    a_go = gr.Button("Ask", variant="primary", elem_id="ask-button")
                with gr.Column():
                    a_answer = gr.Markdown(elem_id="answer")
                    a_evidence = gr.HTML(label="evidence", elem_id="evidence")
                    a_items = gr.Gallery(label="cited catalog items", columns=3, height=220)
                    a_ocr = gr.Textbox(label="text read in the image", lines=2)
            if examples_dir is not None:
                gr.Examples(write_examples(examples_dir), [a_images, a_question, a_context, a_pasted, a_catalog])
            a_go.click(
                do_ask,
                [a_images, a_question, a_context, a_pasted, a_catalog],
                [a_answer, a_evidence, a_items, a_ocr],
                api_name="ask",
            )
        with gr.Tab("Search"):
            with gr.Row():
                with gr.Column(scale=1):
                    s_text = gr.Textbox(label="text", elem_id="search-text")
                    s_image = gr.Image(label="image", type="filepath")
                    s_weight = gr.Slider(0, 1, 0.5, step=0.05, label="image weight (text + image)")
                    s_negative = gr.Textbox(label="not like (negative)")
                    s_filters = gr.Textbox(
                        label="filters, one per line (e.g. colour=red, year>=2022, kind in (mug, tag))",
                        lines=2,
                        value="",
                    )
                    with gr.Row():
                        s_k = gr.Slider(1, 50, 12, step=1, label="results")
                        s_hybrid = gr.Checkbox(label="hybrid (keywords + vectors)")
                    s_widgets = build_filter_widgets(widgets)
                    s_go = gr.Button("Search", variant="primary", elem_id="search-button")
                    gr.Markdown(_schema_hint(catalog))
                with gr.Column(scale=2):
                    s_gallery = gr.Gallery(
                        label="results (click one: more like this)", columns=4, height=520, elem_id="results"
                    )
                    s_json = gr.JSON(label="records")
            s_ids = gr.State([])
            s_go.click(
                do_search,
                [s_text, s_image, s_weight, s_negative, s_filters, s_k, s_hybrid, *s_widgets],
                [s_gallery, s_ids, s_json],
                api_name="search",
            )
            # internal events: hidden from the API docs and clients (the browser calls them by fn_index)
            s_gallery.select(more_like, [s_ids, s_k], [s_gallery, s_ids, s_json], api_name=False)
        with gr.Tab("Classify"):
            with gr.Row():
                with gr.Column():
                    c_image = gr.Image(label="image", type="filepath", elem_id="classify-image")
                    c_labels = gr.Textbox(
                        label="labels (comma-separated or one per line)",
                        value="cat, dog, cup of coffee, rocket, person, car",
                        lines=3,
                        elem_id="classify-labels",
                    )
                    c_multi = gr.Checkbox(label="multi-label")
                    c_go = gr.Button("Classify", variant="primary", elem_id="classify-button")
                with gr.Column():
                    c_plot = gr.BarPlot(label="scores", elem_id="scores")
                    c_verdict = gr.Markdown(elem_id="verdict")
            c_go.click(do_classify, [c_image, c_labels, c_multi], [c_plot, c_verdict], api_name="classify")
        with gr.Tab("Catalog"):
            k_info = gr.Markdown(catalog_info(), elem_id="catalog-info")
            with gr.Row():
                with gr.Column():
                    k_files = gr.File(label="add images", file_count="multiple", file_types=["image"], type="filepath")
                    k_meta = gr.Textbox(label='metadata for these images (JSON, e.g. {"kind": "valve"})', lines=2)
                    k_catalog = gr.File(
                        label="or a catalog file (.csv .jsonl .parquet) whose image column names the uploaded files",
                        file_types=[".csv", ".jsonl", ".ndjson", ".parquet"],
                        type="filepath",
                    )
                    k_add = gr.Button("Add to catalog", variant="primary")
                with gr.Column():
                    k_ids = gr.Textbox(label="remove items (ids, one per line)", lines=3)
                    k_remove = gr.Button("Remove")
                    k_refresh = gr.Button("Refresh")
            k_status = gr.Markdown()
            k_add.click(add_files, [k_files, k_meta, k_catalog], [k_status, k_info], api_name="add_items")
            k_remove.click(remove_ids, [k_ids], [k_status, k_info], api_name="remove_items")
            k_refresh.click(catalog_info, None, k_info, api_name=False)
    for block in demo.blocks.values():  # Gradio's cached copies and outputs: inside the upload folder too
        block.GRADIO_CACHE = str(root)
    demo.GRADIO_CACHE = str(root)
    return demo


def selected_id(ids, index) -> str:
    """The id of the clicked result: ``ids[index]`` for a non-negative int index in range; our error otherwise
    (a select event sent without a search, without an index, or with one from a stale gallery)."""
    if not ids:
        raise gr.Error("run a search first, then click a result")
    if isinstance(index, (list, tuple)) and len(index) == 1:
        index = index[0]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(ids):
        raise gr.Error(f"select one of the {len(ids)} results shown (got selection {index!r}); search again")
    return ids[index]


def banner_markdown(services) -> str:
    """The banner: tier and why, the models in use, and how to get the full models."""
    info = services.encoder.info
    weights = info.weights if info.pretrained else "RANDOM WEIGHTS (tiny test model: scores mean nothing)"
    lines = [
        "# sceneqa",
        f"**tier `{services.tier.tier}`**: {services.tier.reason}  ",
        f"encoder `{info.spec}`: {weights}  ",
        f"answerer `{services.answerer_spec}`  ",
        f"runtime {services.runtime.describe()}",
    ]
    if services.tier.tier != "full":
        lines.append(
            "\n_Full models (CLIP + SmolVLM): run `sceneqa --tier full serve` once on a machine with "
            "internet, or pass `--encoder open_clip:local-dir:DIR --answerer hf:DIR`._"
        )
    return "\n".join(lines)


def filter_widget_specs(catalog: CatalogHandle, max_choices: int = 30) -> list[tuple[str, str, list]]:
    """(column, kind, choices) for the Search tab: a multi-select per category column with at most
    ``max_choices`` values, a min/max pair per number column."""
    if not catalog.exists():
        return []
    try:
        store = catalog.reader().store
    except SceneQAError:
        return []
    specs = []
    for name, typ in store.schema().items():
        if typ == "text":
            values = [str(v) for v in store.distinct_values(name, max_choices + 1)]
            if 1 < len(values) <= max_choices and not any(c in v for v in values for c in ",()"):
                specs.append((name, "choice", sorted(values)))
        elif typ in ("integer", "real"):
            specs.append((name, "range", []))
    return specs


def build_filter_widgets(specs) -> list:
    """Create the filter components (inside the current layout); one per choice column, two per range."""
    comps = []
    for name, kind, choices in specs:
        if kind == "choice":
            comps.append(gr.Dropdown(choices=choices, multiselect=True, label=name, value=[]))
        else:
            with gr.Row():  # text boxes: empty means "no bound" (a Number component cannot be empty)
                comps.append(gr.Textbox(label=f"{name} from", value="", max_lines=1))
                comps.append(gr.Textbox(label=f"{name} to", value="", max_lines=1))
    return comps


def widget_filters(specs, values) -> list[str]:
    """Filter expressions from the widget values (pure)."""
    out, i = [], 0
    for name, kind, _ in specs:
        if kind == "choice":
            chosen = values[i] if i < len(values) else None
            i += 1
            if chosen:
                out.append(f"{name} in ({', '.join(chosen)})")
        else:
            bounds = [values[j] if j < len(values) else None for j in (i, i + 1)]
            i += 2
            for bound, op in zip(bounds, (">=", "<=")):
                if bound is not None and str(bound).strip():
                    out.append(f"{name}{op}{str(bound).strip()}")
    return out


def _schema_hint(catalog: CatalogHandle) -> str:
    if not catalog.exists():
        return ""
    try:
        cat = catalog.reader()
    except SceneQAError:
        return ""
    parts = []
    for name, typ in cat.store.schema().items():
        if typ == "text":
            values = [str(v) for v in cat.store.distinct_values(name, 8)]
            parts.append(f"`{name}`: {', '.join(values)}")
        else:
            parts.append(f"`{name}` ({typ})")
    return "filterable columns: " + "; ".join(parts) if parts else ""
