"""``sceneqa serve``: the web UI and the HTTP API on one port (the product's main job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from multimodal.engine.config import DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_MS, DEFAULT_MODEL_NICE
from sceneqa.cli.banner import announce
from sceneqa.cli.catalog import services_for_index

HELP = """\
Starts the web UI (Ask, Search, Classify, Catalog) and the HTTP API (/v1/..., docs at /docs) on one port,
bound to 127.0.0.1 unless --host says otherwise. With no catalog at --index, a demo catalog is built first
from photos that ship with the installed packages (or from --demo-data: a folder or a CSV/JSONL/Parquet
catalog, e.g. ../shared/data/fashion/catalog.csv).
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="start the web UI and the HTTP API",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--index", type=Path, help="catalog folder (default: CACHE/demo-index, built on first start)")
    p.add_argument("--demo-data", type=Path, help="build the first catalog from this folder or catalog file")
    p.add_argument("--api-token", help="require 'Authorization: Bearer TOKEN' on /v1 (or $SCENEQA_API_TOKEN)")
    p.add_argument("--ui-auth", metavar="USER:PASSWORD", help="protect the UI with a login")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest request/upload (default: 20)")
    p.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="seconds per request, waiting included: a request still queued then is dropped unseen by the model, "
        "a running one stops at its next check or token (504) (default: 120)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="whole model calls at once (ask; inspect, teach, uploads), UI and API together (default: 1)",
    )
    p.add_argument(
        "--queue-size",
        type=int,
        default=32,
        help="requests waiting per model worker before new ones get 503 with Retry-After (default: 32)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=DEFAULT_MAX_BATCH,
        help=f"images (or texts) of concurrent requests embedded in one forward pass; 1: no batching "
        f"(default: {DEFAULT_MAX_BATCH})",
    )
    p.add_argument(
        "--max-wait-ms",
        type=float,
        default=DEFAULT_MAX_WAIT_MS,
        help=f"how long a batch waits for more requests after its first (default: {DEFAULT_MAX_WAIT_MS:g})",
    )
    p.add_argument(
        "--model-nice",
        type=int,
        default=DEFAULT_MODEL_NICE,
        help="Linux: run model workers at this much lower CPU priority than the request loop, so health checks "
        f"and refusals stay prompt under full load; 0: same priority (default: {DEFAULT_MODEL_NICE})",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host header is NAME (loopback names and --host always are; '*' turns the "
        "DNS-rebinding check off); repeatable",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=256,
        help="open connections and requests at once; past it new ones get 503 (default: 256)",
    )
    p.add_argument(
        "--max-request-megapixels",
        type=float,
        default=100.0,
        help="decoded pixels per request, all its images together (default: 100)",
    )
    p.add_argument(
        "--inspectors-dir", type=Path, metavar="DIR", help="where inspectors live (default: CACHE/inspectors)"
    )
    p.set_defaults(handler=run)


def web_config(args: argparse.Namespace, index: Path):
    import os

    from demos.web_config import WebConfig
    from multimodal.errors import ConfigError

    ui_auth = None
    if args.ui_auth:
        user, sep, password = args.ui_auth.partition(":")
        if not sep or not user or not password:
            raise ConfigError("--ui-auth expects USER:PASSWORD")
        ui_auth = (user, password)
    return WebConfig(
        index=index,
        host=args.host,
        port=args.port,
        api_token=args.api_token or os.environ.get("SCENEQA_API_TOKEN") or None,
        ui_auth=ui_auth,
        max_upload_mb=args.max_upload_mb,
        request_timeout_s=args.request_timeout,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        allowed_hosts=tuple(args.allowed_host),
        max_request_megapixels=args.max_request_megapixels,
        max_connections=args.max_connections,
        inspectors_dir=getattr(args, "inspectors_dir", None),
    )


def engine_config(args: argparse.Namespace):
    from multimodal.engine.config import EngineConfig

    return EngineConfig(
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        queue_size=args.queue_size,
        call_threads=args.concurrency,
        model_nice=args.model_nice,
    )


def ensure_catalog(services, index: Path, demo_data: Path | None, quiet: bool) -> None:
    """Build the first catalog if ``index`` holds none."""
    from tqdm import tqdm

    from multimodal.ingest.local import IngestOptions, ingest
    from retrieval.catalog import Catalog
    from retrieval.manifest import read_manifest
    from retrieval.sources import read_source

    if read_manifest(index) is not None:
        return
    if demo_data is None:
        from demos.demo_catalog import build_demo_source

        demo_data = build_demo_source(index.parent / f"{index.name}-source")
    print(f"sceneqa: building the demo catalog in {index} from {demo_data}", file=sys.stderr)
    enc = services.encoder
    with (
        Catalog.open(index, encoder=enc.spec, dim=enc.dim, writable=True, create=True) as cat,
        tqdm(unit="img", desc="indexing", file=sys.stderr, disable=None if not quiet else True) as bar,
    ):
        summary = ingest(cat, enc, read_source(demo_data), IngestOptions(), progress=bar.update)
    print(f"sceneqa: demo catalog ready: {summary.count} items", file=sys.stderr)


def run(args: argparse.Namespace, config) -> int:
    import uvicorn

    from demos.memory import fix_mmap_threshold, freeze_startup_objects, limit_malloc_arenas
    from demos.server import create_app

    limit_malloc_arenas()  # before any worker thread exists: flat memory under load (see demos/memory.py)
    fix_mmap_threshold()  # freed image buffers go back to the OS
    index = args.index or config.resolved_cache_dir / "demo-index"
    services = services_for_index(config, index)
    announce(services, args.quiet)
    web = web_config(args, index)
    if web.exposed_without_auth:
        print(
            f"sceneqa: WARNING: listening on {web.host} without --api-token and --ui-auth: anyone who can reach "
            "this machine can use the API and the UI",
            file=sys.stderr,
        )
    ensure_catalog(services, index, args.demo_data, args.quiet)
    app = create_app(services, web, examples_dir=config.resolved_cache_dir / "examples", engine=engine_config(args))
    print(
        f"sceneqa: serving the UI at http://{web.host}:{web.port}/ and the API at http://{web.host}:{web.port}/v1 "
        f"(docs: /docs)",
        file=sys.stderr,
        flush=True,
    )
    freeze_startup_objects()
    uvicorn.run(
        app,
        host=web.host,
        port=web.port,
        log_level="warning",
        timeout_keep_alive=5,
        # the login back-off keys on the peer address: never take it from X-Forwarded-For (any client can send it)
        proxy_headers=False,
        # connections and tasks at once: past it new ones get 503 (bounded file descriptors and memory)
        limit_concurrency=web.max_connections,
    )
    return 0
