"""The HTTP API (FastAPI): /v1/classify, /v1/search, /v1/ask (server-sent events when streaming),
/v1/items (POST, DELETE), /v1/index, /healthz. Images come as multipart uploads or base64 in JSON;
responses are shaped like the CLI's ``--json``; no endpoint reads a server path a client names."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import threading
from collections.abc import Callable

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from demos.catalog_handle import CatalogHandle
from demos.web_config import WebConfig
from multimodal.ask import AskRequest, ask, ask_stream
from multimodal.classify import classify_sources
from multimodal.context_files import load_context_bytes
from multimodal.errors import SceneQAError
from multimodal.search import SearchRequest, search_catalog
from multimodal.services import Services
from multimodal.zeroshot import ZeroShotOptions
from retrieval.errors import CatalogError


class Payload:
    """Fields and uploaded files of a request, from JSON (base64 images) or multipart form data."""

    def __init__(self, fields: dict, files: list[tuple[str, str, bytes]]) -> None:
        self.fields = fields
        self.files = files  # (form field, filename, bytes)

    def images(self, key: str = "image") -> list[tuple[str, bytes]]:
        out = [(name, data) for field, name, data in self.files if field in (key, f"{key}s")]
        raw = self.fields.get(key) or self.fields.get(f"{key}s") or []
        for i, b64 in enumerate(raw if isinstance(raw, list) else [raw]):
            if not isinstance(b64, str):
                raise HTTPException(400, f"{key}: expected base64 text")
            try:
                out.append((f"{key}-{i + 1}", base64.b64decode(b64.split(",", 1)[-1], validate=True)))
            except (binascii.Error, ValueError):
                raise HTTPException(
                    400,
                    f"{key}: not valid base64 (send the file bytes base64-encoded, or upload "
                    "it as multipart/form-data)",
                ) from None
        return out


async def read_payload(request: Request, limit: int) -> Payload:
    length = int(request.headers.get("content-length") or 0)
    if length > limit:
        raise HTTPException(413, f"request of {length / 2**20:.1f} MB is over the {limit / 2**20:.1f} MB upload limit")
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=16, max_fields=64)
        fields, files, total = {}, [], 0
        for key, value in form.multi_items():
            if hasattr(value, "read"):
                data = await value.read(limit + 1)
                total += len(data)
                if total > limit:
                    raise HTTPException(413, f"uploads are over the {limit / 2**20:.1f} MB limit")
                files.append((key, value.filename or key, data))
            else:
                fields[key] = _form_value(fields.get(key), value)
        return Payload(fields, files)
    body = await request.body()
    if len(body) > limit:
        raise HTTPException(413, f"request is over the {limit / 2**20:.1f} MB upload limit")
    try:
        data = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"the body is not JSON ({exc.msg}); send JSON or multipart/form-data") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the JSON body must be an object")
    return Payload(data, [])


def _form_value(previous, value: str):
    if previous is None:
        return value
    return (previous if isinstance(previous, list) else [previous]) + [value]


def _flag(value, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _labels(value) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value or "").split(",")


def create_api(
    services: Services,
    catalog: CatalogHandle,
    config: WebConfig,
    gate: threading.BoundedSemaphore,
) -> APIRouter:
    router = APIRouter()

    def authorize(request: Request) -> None:
        sent = request.headers.get("authorization", "").encode()
        if config.api_token and not hmac.compare_digest(sent, f"Bearer {config.api_token}".encode()):
            raise HTTPException(401, "missing or wrong API token; send 'Authorization: Bearer <token>'")

    async def work(fn: Callable, *args):
        """Run model work in a thread, one gate for the whole server, bounded in time."""

        def gated():
            with gate:
                return fn(*args)

        try:
            return await asyncio.wait_for(run_in_threadpool(gated), timeout=config.request_timeout_s)
        except TimeoutError:
            raise HTTPException(504, f"the request took longer than {config.request_timeout_s:.0f} s") from None
        except SceneQAError as exc:
            status = 404 if isinstance(exc, CatalogError) and "empty" in str(exc) else 400
            raise HTTPException(status, str(exc)) from None

    @router.get("/healthz")
    async def healthz():
        return {
            "status": "ok",
            "tier": services.tier.tier,
            "encoder": services.encoder.spec,
            "answerer": services.answerer_spec,
            "index": catalog.exists(),
        }

    auth = [Depends(authorize)]

    @router.post("/v1/classify", dependencies=auth)
    async def classify(request: Request):
        p = await read_payload(request, config.max_upload_bytes)
        images = p.images()
        if not images:
            raise HTTPException(400, "no image: send 'image' as a multipart file or base64 in JSON")
        options = ZeroShotOptions(
            multi_label=_flag(p.fields.get("multi_label")),
            top_k=int(p.fields.get("top_k", 5)),
            threshold=float(p.fields.get("threshold", 0.5)),
        )
        names = [n for n, _ in images]
        results = await work(
            lambda: classify_sources(
                services, [d for _, d in images], _labels(p.fields.get("labels")), options, names=names
            )
        )
        rows = [r.as_dict(services) for r in results]
        return rows[0] if len(rows) == 1 else {"results": rows}

    @router.post("/v1/search", dependencies=auth)
    async def search(request: Request):
        p = await read_payload(request, config.max_upload_bytes)
        images = p.images()
        filters = p.fields.get("filters") or p.fields.get("filter") or []
        req = (
            SearchRequest(
                text=p.fields.get("text") or None,
                image=images[0][1] if images else None,
                image_name=images[0][0] if images else None,
                like=p.fields.get("like") or None,
                weight=float(p.fields.get("weight", 0.5)),
                negative=p.fields.get("negative") or None,
                filters=tuple(filters if isinstance(filters, list) else [filters]),
                k=int(p.fields.get("k", 10)),
                hybrid=_flag(p.fields.get("hybrid")),
            )
            if (p.fields.get("text") or images or p.fields.get("like"))
            else None
        )
        if req is None:
            raise HTTPException(400, "nothing to search for: give text, image or like")
        response = await work(lambda: search_catalog(services, catalog.reader(), req))
        for hit in response["results"]:
            hit["image"] = f"/v1/items/{hit['id']}/image"  # served from the catalog, never a server path
        return response

    @router.post("/v1/ask", dependencies=auth)
    async def ask_endpoint(request: Request):
        p = await read_payload(request, config.max_upload_bytes)
        images = p.images()
        contexts = [(name, data) for field, name, data in p.files if field in ("context", "contexts")]
        for i, item in enumerate(p.fields.get("contexts") or []):
            if isinstance(item, dict):
                contexts.append((str(item.get("name", f"context-{i + 1}.txt")), str(item.get("text", "")).encode()))
        req = AskRequest(
            question=str(p.fields.get("question", "")),
            images=tuple(d for _, d in images),
            image_names=tuple(n for n, _ in images),
            context_text=p.fields.get("context_text"),
        )
        use_catalog = _flag(p.fields.get("use_catalog")) and catalog.exists()
        chunks = [c for name, data in contexts for c in load_context_bytes(data, name)]

        def run():
            return ask(services, _with_chunks(req, chunks), catalog.reader() if use_catalog else None).as_dict()

        if not _flag(p.fields.get("stream")):
            return await work(run)

        def events():
            with gate:
                try:
                    for piece in ask_stream(
                        services, _with_chunks(req, chunks), catalog.reader() if use_catalog else None
                    ):
                        if isinstance(piece, str):
                            yield f"event: token\ndata: {json.dumps({'text': piece})}\n\n"
                        else:
                            yield f"event: answer\ndata: {json.dumps(piece.as_dict())}\n\n"
                except SceneQAError as exc:
                    yield f"event: error\ndata: {json.dumps({'error': str(exc)})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @router.post("/v1/items", dependencies=auth)
    async def add_items(request: Request):
        p = await read_payload(request, config.max_upload_bytes)
        images = p.images()
        if not images:
            raise HTTPException(400, "no image: send one or more 'image' files (or base64 'images' in JSON)")
        meta = p.fields.get("metadata") or {}
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except json.JSONDecodeError:
                raise HTTPException(400, "metadata: expected a JSON object") from None
        if p.fields.get("id"):
            meta = {**meta, "id": p.fields["id"]}
        summary = await work(catalog.add_uploads, images, meta)
        return summary.as_dict()

    @router.delete("/v1/items/{item_id}", dependencies=auth)
    async def remove_item(item_id: str):
        removed = await work(catalog.remove, [item_id])
        if not removed:
            raise HTTPException(404, f"no item {item_id!r} in the catalog")
        return {"removed": list(removed)}

    @router.get("/v1/items/{item_id}/image", dependencies=auth)
    async def item_image(item_id: str):
        try:
            return FileResponse(catalog.image_path(item_id))
        except CatalogError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/v1/index", dependencies=auth)
    async def index_info():
        if not catalog.exists():
            return {"count": 0, "folder": str(catalog.folder), "encoder": services.encoder.spec}
        info = await work(lambda: catalog.reader().info())
        return info

    return router


def _with_chunks(req: AskRequest, chunks) -> AskRequest:
    """Uploaded context arrives as bytes; pass it on as pasted text per file (locators keep the file name)."""
    if not chunks:
        return req
    from dataclasses import replace

    return replace(req, preloaded_chunks=tuple(chunks))


def install_error_handlers(app: FastAPI) -> None:
    """Errors as ``{"error": message}``: ours (bad input) 400, HTTP ones with their status."""

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(SceneQAError)
    async def our_error(request: Request, exc: SceneQAError):
        return JSONResponse({"error": str(exc)}, status_code=400)
