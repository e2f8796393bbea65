"""``build_demo(services, catalog, gate, upload_root=...)`` -> ``gr.Blocks``: the banner and the Ask, Search,
Classify, Teach and Catalog tabs, each built by its own module from module-level handlers (:mod:`demos.ui.context`
binds them to the app's services, catalog, model gate, upload folder and time limit)."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from demos.catalog_handle import CatalogHandle
from demos.gate import ModelGate
from demos.inspect_api import server_shelf
from demos.render import banner_markdown
from demos.request_limits import RequestLimits
from demos.ui.ask_tab import build_ask_tab
from demos.ui.catalog_tab import build_catalog_tab
from demos.ui.classify_tab import build_classify_tab
from demos.ui.context import UiContext
from demos.ui.inspect_tab import build_inspect_tab
from demos.ui.search_tab import build_search_tab
from demos.ui.teach_tab import build_teach_tab
from demos.upload_guard import use_upload_folder
from multimodal.banner import build_banner
from multimodal.errors import ConfigError
from multimodal.services import Services

log = logging.getLogger("sceneqa.serve")


def build_demo(
    services: Services,
    catalog: CatalogHandle,
    gate: ModelGate,
    examples_dir: Path | None = None,
    *,
    upload_root: Path,
    request_timeout_s: float = 120.0,
    limits: RequestLimits | None = None,
    inspectors=None,
) -> gr.Blocks:
    """upload_root: the app's own upload folder (created; Gradio's uploads and cached copies go there, and
    handlers read no file outside it); examples_dir: where the Ask tab's example files are written, inside
    ``upload_root`` (None: no examples); request_timeout_s: limit of each handler call, waiting included;
    limits: the per-request caps (the API's)."""
    root = use_upload_folder(upload_root)  # before any component exists: each reads it when constructed
    if examples_dir is not None and not Path(examples_dir).resolve().is_relative_to(root):
        raise ConfigError(
            f"examples folder {examples_dir} is outside the upload folder {root}; the UI reads only files inside "
            f"it: pass a folder under it (e.g. {root / 'examples'})"
        )
    shelf = inspectors or server_shelf(services)  # the API's inspectors
    ctx = UiContext(services, catalog, gate, root, request_timeout_s, limits or RequestLimits(), shelf)
    banner = build_banner(services)
    log.debug("tier %s chosen because: %s", banner.tier, banner.detail)
    with gr.Blocks(title="sceneqa") as demo:
        gr.Markdown(banner_markdown(banner), elem_id="banner")
        build_ask_tab(ctx, examples_dir)
        build_search_tab(ctx, demo)
        build_classify_tab(ctx)
        build_teach_tab(ctx)
        build_catalog_tab(ctx)
        build_inspect_tab(ctx, shelf)
    for block in demo.blocks.values():  # Gradio's cached copies and outputs: inside the upload folder too
        block.GRADIO_CACHE = str(root)
    demo.GRADIO_CACHE = str(root)
    return demo
