"""One server for the UI and the API: FastAPI with the API routes, ``/metrics`` and the Gradio app mounted at
``/``, behind the guards of :mod:`demos.middleware` (outermost first: the request log and metrics, trusted
Host, login back-off, no cross-site writes, body cap; then the Gradio event and path guards).

The UI and the API share one serving engine (:mod:`multimodal.engine`): the same model workers, queues and
limits; the handlers get services whose encoder batches through it."""

from __future__ import annotations

import hmac
from pathlib import Path

from fastapi import HTTPException, Request, Response
from fastapi.responses import PlainTextResponse

from demos.api import create_api
from demos.api_errors import install_error_handlers
from demos.api_responses import metrics_answers
from demos.api_wording import ApiScrubber
from demos.catalog_handle import CatalogHandle
from demos.early_refusal import RefuseWhenFull
from demos.gate import ModelGate
from demos.gradio_events import GradioEventGuard
from demos.gradio_log_cap import cap_event_errors, install_log_caps
from demos.inspect_api import server_shelf
from demos.metrics import ServerMetrics
from demos.middleware import BodyLimit, HostGuard, LoginThrottle, OriginGuard, RequestLog
from demos.model_calls import ModelCalls
from demos.ui import build_demo
from demos.upload_guard import GradioPathGuard, public_api_names, use_upload_folder
from demos.web_config import WebConfig
from multimodal.engine.config import EngineConfig
from multimodal.engine.encoder import batched_services
from multimodal.engine.engine import Engine

MULTIPART_SLACK = 256 * 1024  # form boundaries and fields around the uploaded bytes


def create_app(services, config: WebConfig, examples_dir: Path | None = None, engine: EngineConfig | None = None):
    """The ASGI app. ``examples_dir``: where the UI's example files are written (None: no examples); it is
    placed inside this app's upload folder, the only folder UI handlers read. ``engine``: batching and queue
    settings (default: ``--concurrency`` call threads and ``--queue-size`` per worker from ``config``)."""
    import gradio as gr
    from fastapi import FastAPI

    engine_config = engine or EngineConfig(queue_size=config.queue_size, call_threads=config.concurrency)
    metrics = ServerMetrics()
    model_engine = Engine(engine_config, services.encoder, observer=metrics)
    metrics.watch(model_engine.stats)
    services = batched_services(services, model_engine)
    upload_root = use_upload_folder(config.gradio_dir)
    catalog = CatalogHandle(config.index, services)
    gate = ModelGate(model_engine)
    # requests in flight at once (running or waiting): enough to fill every worker's queue and a batch
    calls = ModelCalls(gate, config.request_timeout_s, capacity=engine_config.queue_size + engine_config.max_batch)
    app = FastAPI(
        title="sceneqa", description="Visual questions, catalog search and zero-shot classification.", version="0.1.0"
    )
    # no server folder in a message, and the JSON field named where the library names a CLI option
    scrubber = ApiScrubber({"<index>": config.index, "<ui-uploads>": upload_root})
    install_error_handlers(app, scrubber)
    inspectors = server_shelf(services, config.inspectors_dir)  # one shelf for the API and the UI
    app.include_router(create_api(services, catalog, config, calls, scrubber, inspectors=inspectors))
    demo = build_demo(
        services,
        catalog,
        gate,
        upload_root / "examples" if examples_dir is not None else None,
        upload_root=upload_root,
        request_timeout_s=config.request_timeout_s,
        limits=config.limits(services.config.image_limits.max_pixels),
        inspectors=inspectors,
    )
    cap_event_errors(demo)  # Gradio prints a failed event's error, every input value in it: kept short
    install_log_caps()  # and so are long log records (uvicorn's ASGI tracebacks); idempotent
    # UI events run their own code in Gradio's threads and meet the API's requests in the same worker queues
    demo.queue(default_concurrency_limit=max(config.concurrency, engine_config.max_batch), max_size=config.queue_size)
    _metrics_route(app, metrics, config.api_token)
    app.router.add_event_handler("shutdown", model_engine.stop)
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
    app.state.engine = model_engine
    app.state.metrics = metrics
    app.state.services = services
    guarded = GradioPathGuard(
        app, upload_root, config.max_upload_bytes + MULTIPART_SLACK, api_names=public_api_names(demo)
    )
    guarded = GradioEventGuard(guarded, demo)  # an unknown event stream: 404, not a stream that breaks
    guarded = BodyLimit(guarded, config.max_upload_bytes + MULTIPART_SLACK, config.max_upload_bytes)
    guarded = OriginGuard(guarded)
    guarded = LoginThrottle(guarded)
    guarded = RefuseWhenFull(guarded, calls)  # a full server refuses model requests before reading their body
    outer = RequestLog(HostGuard(guarded, config.trusted_hosts), metrics.request)
    outer.state = app.state  # what tests and the CLI look at (catalog, demo, gate, engine, metrics)
    outer.fastapi = app
    outer.openapi = app.openapi
    return outer


def _metrics_route(app, metrics: ServerMetrics, token: str | None) -> None:
    @app.get("/metrics", response_class=PlainTextResponse, responses=metrics_answers())
    async def prometheus_metrics(request: Request):
        """The Prometheus text format; needs the API token when the server has one. Never waits for a model."""
        sent = request.headers.get("authorization", "").encode()
        if token and not hmac.compare_digest(sent, f"Bearer {token}".encode()):
            raise HTTPException(401, "missing or wrong API token; send 'Authorization: Bearer <token>'")
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)
