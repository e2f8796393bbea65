"""The HTTP API (FastAPI): /v1/classify, /v1/search, /v1/ask (server-sent events when streaming),
/v1/items (POST, DELETE), /v1/index, /healthz. Images come as multipart uploads or base64 in JSON;
responses are shaped like the CLI's ``--json``; no endpoint reads a server path a client names.

Every model call goes through :class:`demos.model_calls.ModelCalls` (one gate for the server, deadlines that
stop work, 503 when the line is full); the event loop only parses requests and writes responses."""

from __future__ import annotations

import hmac
import json
from dataclasses import replace

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match

from demos.api_payload import contexts_of, read_payload
from demos.catalog_handle import CatalogHandle
from demos.model_calls import ModelCalls
from demos.web_config import WebConfig
from multimodal.ask import AskRequest, ask, ask_stream
from multimodal.classify import classify_sources
from multimodal.context_files import MAX_CONTEXT_BYTES, load_context_bytes
from multimodal.errors import SceneQAError
from multimodal.images import check_pixel_budget
from multimodal.questions import parse_question
from multimodal.search import SearchRequest, search_catalog
from multimodal.services import Services
from multimodal.zeroshot import ZeroShotOptions

API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_api(services: Services, catalog: CatalogHandle, config: WebConfig, calls: ModelCalls) -> APIRouter:
    router = APIRouter()
    limit = config.max_upload_bytes

    def authorize(request: Request) -> None:
        sent = request.headers.get("authorization", "").encode()
        if config.api_token and not hmac.compare_digest(sent, f"Bearer {config.api_token}".encode()):
            raise HTTPException(401, "missing or wrong API token; send 'Authorization: Bearer <token>'")

    def pixel_check(images: list[tuple[str, bytes]]) -> None:
        check_pixel_budget(
            [d for _, d in images],
            config.max_request_megapixels,
            names=[n for n, _ in images],
            per_image_max=services.config.image_limits.max_pixels,
        )

    @router.get("/healthz")
    async def healthz():
        """Never waits for a model or the disk beyond one stat."""
        return {
            "status": "ok",
            "tier": services.tier.tier,
            "encoder": services.encoder.spec,
            "answerer": services.answerer_spec,
            "index": catalog.exists(),
            "models": calls.gate.stats(),
        }

    auth = [Depends(authorize)]

    @router.post("/v1/classify", dependencies=auth)
    async def classify(request: Request):
        p = await read_payload(request, limit)
        images = p.images()
        if not images:
            raise HTTPException(400, "no image: send 'image' as a multipart file or base64 in JSON")
        options = ZeroShotOptions(
            multi_label=p.flag("multi_label"),
            top_k=p.number("top_k", 5, int, 1, 1000),
            threshold=p.number("threshold", 0.5, float, 0.0, 1.0),
        )
        labels = p.labels()
        names = [n for n, _ in images]

        def run():
            pixel_check(images)
            results = classify_sources(services, [d for _, d in images], labels, options, names=names)
            return [r.as_dict(services) for r in results]

        rows = await calls.run(run, what="classify", receive=request.receive)
        return rows[0] if len(rows) == 1 else {"results": rows}

    @router.post("/v1/search", dependencies=auth)
    async def search(request: Request):
        p = await read_payload(request, limit)
        images = p.images()
        text, like = p.text("text") or None, p.text("like", limit=200) or None
        if not (text or images or like):
            raise HTTPException(400, "nothing to search for: give text, image or like")
        req = SearchRequest(
            text=text,
            image=images[0][1] if images else None,
            image_name=images[0][0] if images else None,
            like=like,
            weight=p.number("weight", 0.5, float, 0.0, 1.0),
            negative=p.text("negative") or None,
            filters=p.filters(),
            k=p.number("k", 10, int, 1, 1000),
            hybrid=p.flag("hybrid"),
        )

        def run():
            pixel_check(images[:1])
            return search_catalog(services, catalog.reader(), req)

        response = await calls.run(run, what="search", receive=request.receive)
        for hit in response["results"]:
            hit["image"] = f"/v1/items/{hit['id']}/image"  # served from the catalog, never a server path
        response["query"]["index"] = catalog.folder.name
        return response

    @router.post("/v1/ask", dependencies=auth)
    async def ask_endpoint(request: Request):
        p = await read_payload(request, limit)
        question = p.text("question", "") or ""
        parse_question(question)  # a bad question is refused before any context is read
        images = p.images()
        contexts = contexts_of(p, MAX_CONTEXT_BYTES)
        req = AskRequest(
            question=question,
            images=tuple(d for _, d in images),
            image_names=tuple(n for n, _ in images),
            context_text=p.text("context_text", limit=MAX_CONTEXT_BYTES),
        )
        use_catalog = p.flag("use_catalog") and catalog.exists()

        def prepared() -> AskRequest:  # runs in the worker: reading and chunking records is CPU work
            pixel_check(images)
            chunks = [c for name, data in contexts for c in load_context_bytes(data, name)]
            return replace(req, preloaded_chunks=tuple(chunks)) if chunks else req

        def run():
            return ask(services, prepared(), catalog.reader() if use_catalog else None).as_dict()

        if not p.flag("stream"):
            return await calls.run(run, what="ask", receive=request.receive)

        def pieces():
            return ask_stream(services, prepared(), catalog.reader() if use_catalog else None)

        async def events():
            try:
                async for piece in calls.stream(pieces, what="ask"):
                    if isinstance(piece, str):
                        yield f"event: token\ndata: {json.dumps({'text': piece})}\n\n"
                    else:
                        yield f"event: answer\ndata: {json.dumps(piece.as_dict())}\n\n"
            except SceneQAError as exc:
                yield f"event: error\ndata: {json.dumps({'error': calls_scrub(exc)})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    def calls_scrub(exc: Exception) -> str:
        return str(exc).replace(str(catalog.folder), "<index>")

    @router.post("/v1/items", dependencies=auth)
    async def add_items(request: Request):
        p = await read_payload(request, limit)
        images = p.images()
        if not images:
            raise HTTPException(400, "no image: send one or more 'image' files (or base64 'images' in JSON)")
        meta = p.fields.get("metadata") or {}
        if isinstance(meta, str):
            try:
                meta = json.loads(meta)
            except json.JSONDecodeError:
                raise HTTPException(400, "metadata: expected a JSON object") from None
        if not isinstance(meta, dict):
            raise HTTPException(400, "metadata: expected a JSON object")
        item_id = p.fields.get("id")
        if item_id is not None and not isinstance(item_id, str | int):
            raise HTTPException(400, "id: expected text")
        replace_flag = p.flag("replace")

        def run():
            pixel_check(images)
            return catalog.add_uploads(
                images, meta, item_id=None if item_id is None else str(item_id), replace=replace_flag
            )

        summary = await calls.run(run, write=True, what="the add", receive=request.receive)
        return summary.as_dict()

    @router.delete("/v1/items/{item_id}", dependencies=auth)
    async def remove_item(item_id: str):
        removed = await calls.run(lambda: catalog.remove([item_id]), write=True, what="the removal")
        if not removed:
            raise HTTPException(404, f"no item {item_id[:200]!r} in the catalog")
        return {"removed": list(removed)}

    @router.get("/v1/items/{item_id}/image", dependencies=auth)
    async def item_image(item_id: str):
        path, media_type = await run_in_threadpool(catalog.image_file, item_id)
        return FileResponse(path, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})

    @router.get("/v1/index", dependencies=auth)
    async def index_info():
        if not catalog.exists():
            return {"count": 0, "folder": catalog.folder.name, "encoder": services.encoder.spec}
        info = await run_in_threadpool(lambda: catalog.reader().info())
        return {**info, "folder": catalog.folder.name}

    @router.api_route("/v1/{rest:path}", methods=API_METHODS, include_in_schema=False)
    async def unknown_route(request: Request, rest: str):
        """Wrong method on a /v1 route: 405 with ``Allow``; no such route: 404 (the UI mount would say 404)."""
        allowed = set()
        for route in router.routes:
            if getattr(route, "path", "").startswith("/v1/") and route.path != "/v1/{rest:path}":
                match, _ = route.matches({**request.scope, "method": "__none__"})
                if match != Match.NONE:
                    allowed |= set(getattr(route, "methods", ()) or ())
        if allowed:
            raise HTTPException(
                405,
                f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}",
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        raise HTTPException(404, f"no API route /v1/{rest[:100]}; see /docs")

    return router
