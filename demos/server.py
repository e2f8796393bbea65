"""One server for the UI and the API: FastAPI with the API routes and the Gradio app mounted at ``/``, behind
the guards of :mod:`demos.middleware` (outermost first: trusted Host, login back-off, no cross-site writes,
body cap; then the Gradio path guard)."""

from __future__ import annotations

from pathlib import Path

from demos.api import create_api
from demos.api_errors import PathScrubber, install_error_handlers
from demos.catalog_handle import CatalogHandle
from demos.gate import ModelGate
from demos.middleware import BodyLimit, HostGuard, LoginThrottle, OriginGuard
from demos.model_calls import ModelCalls
from demos.ui import build_demo
from demos.upload_guard import GradioPathGuard, public_api_names, use_upload_folder
from demos.web_config import WebConfig

MULTIPART_SLACK = 256 * 1024  # form boundaries and fields around the uploaded bytes


def create_app(services, config: WebConfig, examples_dir: Path | None = None):
    """The ASGI app. ``examples_dir``: where the UI's example files are written (None: no examples); it is
    placed inside this app's upload folder, the only folder UI handlers read."""
    import gradio as gr
    from fastapi import FastAPI

    upload_root = use_upload_folder(config.gradio_dir)
    catalog = CatalogHandle(config.index, services)
    gate = ModelGate(config.concurrency, config.queue_size)
    calls = ModelCalls(gate, config.request_timeout_s)
    app = FastAPI(
        title="sceneqa", description="Visual questions, catalog search and zero-shot classification.", version="0.1.0"
    )
    scrubber = PathScrubber({"<index>": config.index, "<ui-uploads>": upload_root})
    install_error_handlers(app, scrubber)
    app.include_router(create_api(services, catalog, config, calls, scrubber))
    demo = build_demo(
        services,
        catalog,
        gate,
        upload_root / "examples" if examples_dir is not None else None,
        upload_root=upload_root,
        request_timeout_s=config.request_timeout_s,
        limits=config.limits(services.config.image_limits.max_pixels),
    )
    demo.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size)
    app = gr.mount_gradio_app(
        app,
        demo,
        path="/",
        auth=config.ui_auth,
        max_file_size=config.max_upload_bytes,
        allowed_paths=[],
        show_error=False,
    )
    app.state.catalog = catalog
    app.state.demo = demo
    app.state.gate = gate
    guarded = GradioPathGuard(
        app, upload_root, config.max_upload_bytes + MULTIPART_SLACK, api_names=public_api_names(demo)
    )
    guarded = BodyLimit(guarded, config.max_upload_bytes + MULTIPART_SLACK, config.max_upload_bytes)
    guarded = OriginGuard(guarded)
    guarded = LoginThrottle(guarded)
    outer = HostGuard(guarded, config.trusted_hosts)
    outer.state = app.state  # what tests and the CLI look at (catalog, demo, gate)
    outer.fastapi = app
    outer.openapi = app.openapi
    return outer
