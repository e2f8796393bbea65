"""The Catalog tab: what the catalog holds, adding uploaded images (with JSON metadata or a catalog file
naming them) and removing items by id. Writes run through the model gate as writes: applied and answered,
or never applied."""

from __future__ import annotations

import json

import gradio as gr

from demos.ui.context import UiContext, bind


def catalog_info(ctx: UiContext) -> str:
    """Markdown: item count, index type, encoder, size on disk and the declared metadata columns."""
    if not ctx.catalog.exists():
        return "The catalog is empty."
    info = ctx.gated(lambda: ctx.catalog.reader().info())
    schema = ", ".join(f"{k} ({v})" for k, v in info["schema"].items()) or "none"
    return (
        f"**{info['count']} items**, index type `{info['index_type']}`, encoder `{info['encoder']}`, "
        f"{info['size_on_disk_bytes'] / 2**20:.1f} MB on disk.\n\nmetadata columns: {schema}"
    )


def add_files(
    ctx: UiContext, files: list | None, meta_json: str | None, catalog_file: str | None = None, progress=gr.Progress()
) -> tuple[str, str]:
    """Add uploaded images: with ``catalog_file`` (CSV/JSONL/Parquet whose image column names the uploads) its
    rows, else every image with the JSON object ``meta_json`` as metadata. Returns ``(summary, catalog info)``."""
    paths = ctx.uploaded_images(files)
    if not paths:
        raise gr.Error("choose image files to add")
    meta = {} if catalog_file else parse_metadata(meta_json)
    uploads = [(f.name, f.read_bytes()) for f in paths]
    if catalog_file:
        (path,) = ctx.uploaded([catalog_file])
        summary = ctx.gated(
            ctx.catalog.add_catalog_file,
            path.name,
            path.read_bytes(),
            uploads,
            lambda n: progress(None, desc="indexing"),
            write=True,
        )
        return summary_text(summary), catalog_info(ctx)
    done = [0]

    def tick(n: int) -> None:
        done[0] += n
        progress((done[0], len(paths)), desc="indexing", unit="images")

    summary = ctx.gated(ctx.catalog.add_uploads, uploads, meta, tick, write=True)
    return summary_text(summary), catalog_info(ctx)


def remove_ids(ctx: UiContext, text: str | None) -> tuple[str, str]:
    """Remove the items whose ids are listed (one per line or comma-separated). Returns ``(summary, info)``."""
    ids = [t.strip() for t in (text or "").replace(",", "\n").splitlines() if t.strip()]
    if not ids:
        raise gr.Error("enter item ids to remove")
    removed = ctx.gated(ctx.catalog.remove, ids, write=True)
    missing = [i for i in ids if i not in removed]
    return (f"removed {len(removed)}" + (f"; not found: {', '.join(missing)}" if missing else "")), catalog_info(ctx)


def parse_metadata(meta_json: str | None) -> dict:
    """The metadata typed in the tab: a JSON object, or ``{}`` when empty (pure)."""
    if not meta_json or not meta_json.strip():
        return {}
    try:
        meta = json.loads(meta_json)
    except json.JSONDecodeError as exc:
        raise gr.Error(f"metadata is not JSON: {exc.msg}") from None
    if not isinstance(meta, dict):
        raise gr.Error('metadata must be a JSON object, e.g. {"kind": "valve"}')
    return meta


def summary_text(summary) -> str:
    """One line per outcome of an ingest summary, then the failures, one per line (pure)."""
    failed = "".join(f"\n- {w}: {r}" for w, r in summary.failed)
    return (
        f"added {summary.added}, updated {summary.updated}, unchanged {summary.unchanged}, "
        f"duplicates {len(summary.duplicates)}, failed {len(summary.failed)}{failed}"
    )


def build_catalog_tab(ctx: UiContext) -> None:
    """The tab's components and its ``/add_items`` and ``/remove_items`` events (inside the current Blocks)."""
    info_fn = bind(catalog_info, ctx)
    with gr.Tab("Catalog"):
        info = gr.Markdown(info_fn(), elem_id="catalog-info")
        with gr.Row():
            with gr.Column():
                files = gr.File(label="add images", file_count="multiple", file_types=["image"], type="filepath")
                meta = gr.Textbox(label='metadata for these images (JSON, e.g. {"kind": "valve"})', lines=2)
                catalog_file = gr.File(
                    label="or a catalog file (.csv .jsonl .parquet) whose image column names the uploaded files",
                    file_types=[".csv", ".jsonl", ".ndjson", ".parquet"],
                    type="filepath",
                )
                add = gr.Button("Add to catalog", variant="primary")
            with gr.Column():
                ids = gr.Textbox(label="remove items (ids, one per line)", lines=3)
                remove = gr.Button("Remove")
                refresh = gr.Button("Refresh")
        status = gr.Markdown()
        add.click(bind(add_files, ctx), [files, meta, catalog_file], [status, info], api_name="add_items")
        remove.click(bind(remove_ids, ctx), [ids], [status, info], api_name="remove_items")
        refresh.click(info_fn, None, info, api_name=False)
