"""One server for the UI and the API: FastAPI with the API routes and the Gradio app mounted at ``/``."""

from __future__ import annotations

import threading
from pathlib import Path

from demos.api import create_api, install_error_handlers
from demos.app import build_demo
from demos.catalog_handle import CatalogHandle
from demos.web_config import WebConfig


def create_app(services, config: WebConfig, examples_dir: Path | None = None):
    """The ASGI app (FastAPI). ``examples_dir``: where the UI's example files are written (None: no examples)."""
    import gradio as gr
    from fastapi import FastAPI

    catalog = CatalogHandle(config.index, services)
    gate = threading.BoundedSemaphore(config.concurrency)
    app = FastAPI(
        title="sceneqa", description="Visual questions, catalog search and zero-shot classification.", version="0.1.0"
    )
    install_error_handlers(app)
    app.include_router(create_api(services, catalog, config, gate))
    demo = build_demo(services, catalog, gate, examples_dir)
    demo.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size)
    app = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        auth=config.ui_auth,
        max_file_size=config.max_upload_bytes,
        allowed_paths=[],
        show_error=True,
    )
    app.state.catalog = catalog
    app.state.demo = demo
    return app
