"""The HTTP API (FastAPI): /v1/classify, /v1/search, /v1/ask (server-sent events when streaming),
/v1/items (POST, DELETE), /v1/index, /healthz. Images come as multipart uploads or base64 in JSON;
responses are shaped like the CLI's ``--json``; no endpoint reads a server path a client names.

Every model call goes through :class:`demos.model_calls.ModelCalls` (the serving engine's workers, shared with
the UI: embeddings batched across requests, deadlines that stop work, 503 when a line is full). Classify and
search run their own code (decoding, FAISS) in the request's thread and only their embeddings on the workers;
ask runs on the answerer worker; the event loop only parses requests and writes responses.

Search filters come as expression strings (``"filters": ["colour=red", "year>=2012"]``) and/or structured
JSON (``"where": {"colour": "red", "year": {">=": 2012}, "kind": {"in": ["mug", "tag"]}}``, see
:func:`where_filters`); both become the same :class:`retrieval.filters.Filter` clauses, at most
``MAX_FILTERS`` together."""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass, replace
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match

from demos.api_errors import PathScrubber
from demos.api_models import describe_routes
from demos.api_payload import MAX_FILTERS, Payload, contexts_of, flat_object, read_payload
from demos.catalog_handle import CatalogHandle
from demos.explain_api import add_explain_routes, explain_ask, explain_classify, explain_search, no_stream_explain
from demos.inspect_api import add_inspect_routes, open_selection, server_shelf
from demos.labelsets_api import add_labelset_routes, classify_with_labelset_rows, labelset_selection
from demos.model_calls import ModelCalls
from demos.request_limits import RequestLimits
from demos.web_config import WebConfig
from multimodal.ask.context_files import MAX_CONTEXT_BYTES, load_context_bytes
from multimodal.ask.pipeline import AskRequest, ask, ask_stream
from multimodal.ask.questions import parse_question
from multimodal.classify import classify_sources
from multimodal.errors import SceneQAError
from multimodal.search import SearchRequest, search_catalog
from multimodal.services import Services
from multimodal.zeroshot import ZeroShotOptions
from retrieval.errors import FilterError
from retrieval.filters import Filter, parse_filter

API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: ``where`` operators -> filter operator; a bare value means ``=``, a JSON list ``in``
WHERE_OPERATORS = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "in": "in",
    "not in": "not in",
}
MAX_IN_VALUES = 100
MAX_WHERE_TEXT = 1000


@dataclass(frozen=True)
class _Deps:
    """What the routes share."""

    services: Services
    catalog: CatalogHandle
    config: WebConfig
    calls: ModelCalls
    scrubber: PathScrubber
    inspectors: object = None  # multimodal.inspect.shelf.InspectorShelf (demos/inspect_api.py)

    def authorize(self, request: Request) -> None:
        sent = request.headers.get("authorization", "").encode()
        token = self.config.api_token
        if token and not hmac.compare_digest(sent, f"Bearer {token}".encode()):
            raise HTTPException(401, "missing or wrong API token; send 'Authorization: Bearer <token>'")

    def pixel_check(self, images: list[tuple[str, bytes]]) -> None:
        """Count and declared pixels of the request's images, before any is decoded (413 beyond the caps)."""
        self.limits.check_images([d for _, d in images], names=[n for n, _ in images])

    @property
    def limits(self) -> RequestLimits:
        return self.config.limits(self.services.config.image_limits.max_pixels)

    def scrub(self, exc: Exception) -> str:
        """The error's message without server folders (the same scrubber as the error handlers)."""
        return self.scrubber(str(exc))


def create_api(
    services: Services,
    catalog: CatalogHandle,
    config: WebConfig,
    calls: ModelCalls,
    scrubber: PathScrubber | None = None,
    inspectors=None,
) -> APIRouter:
    router = APIRouter()
    scrubber = scrubber or PathScrubber({"<index>": catalog.folder})
    deps = _Deps(
        services, catalog, config, calls, scrubber, inspectors or server_shelf(services, config.inspectors_dir)
    )
    auth = [Depends(deps.authorize)]
    _status_routes(router, deps, auth)
    _model_routes(router, deps, auth)
    _ask_route(router, deps, auth)
    _item_routes(router, deps, auth)
    add_inspect_routes(router, deps, auth, deps.inspectors)
    add_labelset_routes(router, deps, auth)
    add_explain_routes(router, deps, auth)
    _fallback_route(router)
    describe_routes(router)  # request bodies and error answers in /docs (demos/api_models.py)
    return router


def _status_routes(router: APIRouter, d: _Deps, auth: list) -> None:
    @router.get("/healthz")
    async def healthz():
        """Never waits for a model or the disk beyond one stat."""
        return {
            "status": "ok",
            "tier": d.services.tier.tier,
            "encoder": d.services.encoder.spec,
            "answerer": d.services.answerer_spec,
            "index": d.catalog.exists(),
            "models": d.calls.gate.stats(),
        }

    @router.get("/v1/index", dependencies=auth)
    async def index_info():
        if not d.catalog.exists():
            return {"count": 0, "folder": d.catalog.folder.name, "encoder": d.services.encoder.spec}
        info = await run_in_threadpool(lambda: d.catalog.reader().info())
        return {**info, "folder": d.catalog.folder.name}


def _model_routes(router: APIRouter, d: _Deps, auth: list) -> None:
    limit = d.config.max_upload_bytes

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
        labelset = p.text("labelset", limit=200)  # a taught label set instead of labels (demos/labelsets_api.py)

        def run():
            d.pixel_check(images)
            if labelset:
                return classify_with_labelset_rows(d, labelset, images, options)
            results = classify_sources(d.services, [data for _, data in images], labels, options, names=names)
            return [r.as_dict(d.services) for r in results]

        rows = await d.calls.run(run, what="classify", receive=request.receive, lane="direct")
        rows = await explain_classify(d, p, images, rows, request)  # explain=true: overlays (demos/explain_api.py)
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
            filters=search_filters(p),
            k=p.number("k", 10, int, 1, 1000),
            hybrid=p.flag("hybrid"),
        )
        p.flag("explain")  # read before the search: a malformed flag is a 422, not work then an error

        def run():
            d.pixel_check(images[:1])
            return search_catalog(d.services, d.catalog.reader(), req)

        response = await d.calls.run(run, what="search", receive=request.receive, lane="direct")
        for hit in response["results"]:
            hit["image"] = f"/v1/items/{quote(hit['id'], safe='')}/image"  # by id (URL-encoded), never a server path
        response["query"]["index"] = d.catalog.folder.name
        return await explain_search(d, p, images, response, request)  # explain=true: overlays per hit


def _ask_route(router: APIRouter, d: _Deps, auth: list) -> None:
    @router.post("/v1/ask", dependencies=auth)
    async def ask_endpoint(request: Request):
        p = await read_payload(request, d.config.max_upload_bytes)
        question = p.text("question", "") or ""
        parse_question(question)  # a bad question is refused before any context is read
        images = p.images()
        contexts = contexts_of(p, d.limits)
        req = AskRequest(
            question=question,
            images=tuple(data for _, data in images),
            image_names=tuple(n for n, _ in images),
            context_text=p.text("context_text", limit=MAX_CONTEXT_BYTES),
        )
        inspector, labelset = p.text("inspector", limit=200), p.text("labelset", limit=200)  # become evidence
        use_catalog = p.flag("use_catalog") and d.catalog.exists()
        p.flag("explain")  # read before the model runs: a malformed flag is a 422 with no model time spent

        def prepared() -> AskRequest:  # runs in the worker: reading and chunking records is CPU work
            d.pixel_check(images)
            chunks = [c for name, data in contexts for c in load_context_bytes(data, name)]
            full = replace(req, inspector=open_selection(d.inspectors, inspector))
            full = replace(full, labelset=labelset_selection(d.services, labelset))
            return replace(full, preloaded_chunks=tuple(chunks)) if chunks else full

        def run():
            return ask(d.services, prepared(), d.catalog.reader() if use_catalog else None)

        if not p.flag("stream"):
            result = await d.calls.run(run, what="ask", receive=request.receive, lane="answerer")
            return await explain_ask(d, p, images, question, result, request)  # explain=true: demos/explain_api.py
        no_stream_explain(p)

        def pieces():
            return ask_stream(d.services, prepared(), d.catalog.reader() if use_catalog else None)

        stream = d.calls.open_stream(pieces, what="ask")  # a full line is a 503 here, before any byte is sent

        async def events():
            try:
                async for piece in stream:
                    if isinstance(piece, str):
                        yield f"event: token\ndata: {json.dumps({'text': piece})}\n\n"
                    else:
                        yield f"event: answer\ndata: {json.dumps(piece.as_dict())}\n\n"
            except (SceneQAError, HTTPException) as exc:  # a bad label set is an HTTPException (404, 400)
                message = exc.detail if isinstance(exc, HTTPException) else str(exc)
                yield f"event: error\ndata: {json.dumps({'error': d.scrub(message)})}\n\n"

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store"},
            background=BackgroundTask(stream.close),  # a client gone before the first byte stops it too
        )


def _item_routes(router: APIRouter, d: _Deps, auth: list) -> None:
    @router.post("/v1/items", dependencies=auth)
    async def add_items(request: Request):
        p = await read_payload(request, d.config.max_upload_bytes)
        images = p.images()
        if not images:
            raise HTTPException(400, "no image: send one or more 'image' files (or base64 'images' in JSON)")
        meta, item_id = flat_object("metadata", p.json_object("metadata")), p.item_id()
        replace_flag = p.flag("replace")

        def run():
            d.pixel_check(images)
            return d.catalog.add_uploads(images, meta, item_id=item_id, replace=replace_flag)

        summary = await d.calls.run(run, write=True, what="the add", receive=request.receive)
        return summary.as_dict()

    @router.delete("/v1/items/{item_id}", dependencies=auth)
    async def remove_item(item_id: str):
        removed = await d.calls.run(lambda: d.catalog.remove([item_id]), write=True, what="the removal")
        if not removed:
            raise HTTPException(404, f"no item {item_id[:200]!r} in the catalog")
        return {"removed": list(removed)}

    @router.get("/v1/items/{item_id}/image", dependencies=auth, response_class=FileResponse)
    async def item_image(item_id: str):
        path, media_type = await run_in_threadpool(d.catalog.image_file, item_id)
        return FileResponse(path, media_type=media_type, headers={"X-Content-Type-Options": "nosniff"})


def _fallback_route(router: APIRouter) -> None:
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


# ---- search filters ---------------------------------------------------------------------------------------


def search_filters(p: Payload) -> tuple[str, ...]:
    """The request's ``filters`` expressions followed by its ``where`` clauses (as expressions), at most
    ``MAX_FILTERS`` together. Raises HTTPException 400 (too many) or FilterError (a bad ``where``)."""
    expressions = p.filters()
    clauses = where_filters(p.json_object("where"), room=MAX_FILTERS - len(expressions))
    return (*expressions, *(filter_expression(f) for f in clauses))


def where_filters(where: dict, room: int = MAX_FILTERS) -> list[Filter]:
    """Filters from a structured ``where`` object (ANDed), e.g.
    ``{"colour": "red", "year": {">=": 2012, "<": 2020}, "kind": {"in": ["mug", "tag"]}, "size": ["S", "M"]}``:
    a bare value means ``=``, a list ``in``, an object maps operators (``= != < <= > >= in``, ``not in``) to
    values. Values are text, numbers or booleans (as 1/0). Raises :class:`FilterError` naming the bad key or
    operator, or when there are more than ``room`` clauses."""
    if not isinstance(where, dict):
        raise FilterError('where: expected a JSON object such as {"colour": "red", "year": {">=": 2012}}')
    out: list[Filter] = []
    for column, spec in where.items():
        if not column.strip() or len(column) > 200:
            raise FilterError(f"where: key {column[:40]!r} is not a column name (1 to 200 characters)")
        if isinstance(spec, dict):
            if not spec:
                raise FilterError(f'where.{column}: no operator; use e.g. {{">=": 2012}}')
            pairs = list(spec.items())
        else:
            pairs = [("in" if isinstance(spec, list) else "=", spec)]
        for op, value in pairs:
            if op not in WHERE_OPERATORS:
                raise FilterError(
                    f"where.{column}: unknown operator {str(op)[:20]!r}; use one of {', '.join(WHERE_OPERATORS)}"
                )
            out.append(Filter(column, WHERE_OPERATORS[op], _where_values(column, op, value)))
            if len(out) > room:
                raise FilterError(f"too many filters: at most {MAX_FILTERS} per request ('filters' and 'where')")
    return out


def _where_values(column: str, op: str, value: object) -> tuple[str, ...]:
    where = f"where.{column}" + ("" if op in ("=", "in") else f".{op}")
    if WHERE_OPERATORS[op] in ("in", "not in"):
        values = value if isinstance(value, list) else [value]
        if not values or len(values) > MAX_IN_VALUES:
            raise FilterError(f"{where}: give 1 to {MAX_IN_VALUES} values for {op!r}, got {len(values)}")
        return tuple(_where_scalar(where, v) for v in values)
    return (_where_scalar(where, value),)


def _where_scalar(where: str, value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str) and value.strip() and len(value) <= MAX_WHERE_TEXT:
        return value
    shown = json.dumps(value)[:40] if not isinstance(value, float) else str(value)
    raise FilterError(
        f"{where}: {shown} is not a filter value; use text (1 to {MAX_WHERE_TEXT} characters) or a number"
    )


def filter_expression(f: Filter) -> str:
    """``f`` as the expression :func:`parse_filter` reads back as ``f``; :class:`FilterError` naming the key
    when a value cannot be written so (a value of ``in`` holding a comma or parenthesis, surrounding spaces
    or quotes)."""
    text = str(f)
    try:
        same = parse_filter(text) == f
    except FilterError:
        same = False
    if not same:
        raise FilterError(
            f"where.{f.column}: {list(f.values)!r} cannot be written as a filter: keys cannot hold < > = !, values "
            "of 'in' cannot hold commas or parentheses, and no key or value may start or end with spaces or quotes"
        )
    return text
