"""The HTTP API's request contracts as pydantic models, for the OpenAPI document (``/docs``): per POST route the
JSON body, the same fields as multipart/form-data (images and records as files, objects as JSON text), and the
``{"error": ...}`` answers every /v1 route may give.

The routes read their bodies with :class:`demos.api_payload.Payload`, whose typed accessors enforce these
types and ranges for JSON and forms alike (422 naming the field and the expected type); the limits here are
the same constants. ``tests/test_contracts.py`` checks that every POST route is described and fuzzes them."""

from __future__ import annotations

import copy

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from demos.api_payload import MAX_CONTEXTS, MAX_FILTERS, MAX_IMAGES
from multimodal.ask.context_files import MAX_CONTEXT_BYTES
from multimodal.ask.questions import MAX_QUESTION_CHARS
from multimodal.explain.base import MAX_PHRASE_CHARS
from multimodal.zeroshot import MAX_LABELS

B64 = "the image file's bytes, base64 (a data: URL prefix is allowed)"
NAME = Field(None, max_length=200)
FlatValue = str | int | float | bool | None


class _Body(BaseModel):
    # unknown fields are ignored (clients may send more than a route reads)
    model_config = ConfigDict(extra="allow")


class _Images(_Body):
    image: str | None = Field(None, description=B64)
    images: list[str] = Field([], max_length=MAX_IMAGES, description=f"several images, {B64}")


class ClassifyBody(_Images):
    labels: list[str] | str = Field("", max_length=MAX_LABELS, description="a list, or comma-separated text")
    labelset: str | None = Field(None, max_length=200, description="a taught label set instead of labels")
    multi_label: bool = False
    top_k: int = Field(5, ge=1, le=1000)
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    explain: bool = False


class SearchBody(_Images):
    text: str | None = Field(None, max_length=10_000)
    like: str | None = Field(None, max_length=200, description="the id of a catalog item")
    weight: float = Field(0.5, ge=0.0, le=1.0, description="text vs image weight of a combined query")
    negative: str | None = Field(None, max_length=10_000)
    filters: list[str] | str = Field([], max_length=MAX_FILTERS, description="expressions such as 'colour=red'")
    where: dict[str, object] = Field({}, description='structured filters, e.g. {"year": {">=": 2012}}')
    k: int = Field(10, ge=1, le=1000)
    hybrid: bool = False
    explain: bool = False


class ContextFile(BaseModel):
    name: str | None = Field(None, max_length=200)
    text: str = Field("", max_length=MAX_CONTEXT_BYTES)


class AskBody(_Images):
    question: str = Field(..., max_length=MAX_QUESTION_CHARS)
    contexts: list[ContextFile] = Field([], max_length=MAX_CONTEXTS)
    context_text: str | None = Field(None, max_length=MAX_CONTEXT_BYTES)
    inspector: str | None = NAME
    labelset: str | None = NAME
    use_catalog: bool = False
    stream: bool = Field(False, description="answer as server-sent events (token, answer, error)")


class ItemsBody(_Images):
    metadata: dict[str, FlatValue] = Field({}, description="flat: text, numbers, booleans or null")
    id: str | int | None = Field(None, description="the item's id (default: from the image's hash)")
    replace: bool = False


class FitBody(_Images):
    name: str = Field(..., max_length=200)
    size: int = Field(512, ge=32, le=1024)
    false_alarm: float = Field(0.01, ge=0.001, le=0.2)
    replace: bool = False


class InspectBody(_Images):
    inspector: str = Field(..., max_length=200)
    band: float = Field(0.5, ge=0.0, le=5.0)
    labelset: str | None = NAME
    heatmap: bool = True


class TeachBody(_Images):
    name: str = Field(..., max_length=200)
    labels: list[str] | str = Field(..., description="one label per image, in order (a list or comma-separated)")
    add: bool = False
    replace: bool = False


class TuneBody(_Body):
    text_columns: list[str] | str = Field(..., description="metadata columns holding item text")
    holdout: float = Field(0.2, ge=0.05, le=0.5)


class LocateBody(_Images):
    phrase: str = Field(..., max_length=MAX_PHRASE_CHARS)
    detector: bool = True
    overlay: bool = True


BODIES: dict[str, type[BaseModel]] = {
    "/v1/classify": ClassifyBody,
    "/v1/search": SearchBody,
    "/v1/ask": AskBody,
    "/v1/items": ItemsBody,
    "/v1/inspectors": FitBody,
    "/v1/inspect": InspectBody,
    "/v1/labelsets": TeachBody,
    "/v1/index/tune": TuneBody,
    "/v1/locate": LocateBody,
}
OTHER_ANSWERS = {  # answers that are not JSON
    "/v1/ask": {200: {"content": {"text/event-stream": {}}}},  # events token ... answer, or error
    "/v1/items/{item_id}/image": {200: {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}}},
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
ERROR_STATUSES = {
    400: "a bad request (the message says which field and why)",
    401: "missing or wrong API token",
    404: "no such item, inspector, label set, or an empty catalog",
    405: "wrong method",
    409: "exists already, or made with another encoder",
    413: "over a size limit (bytes, images, pixels, characters)",
    415: "neither JSON nor a form",
    422: "a field of the wrong type or out of range, named with the expected type",
    503: "the model queue is full (see Retry-After)",
    504: "the request's deadline passed",
}


def json_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema with its ``$defs`` inlined (OpenAPI resolves ``$ref`` against the document)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: inline(v) for k, v in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    return inline(schema)


def form_schema(model: type[BaseModel]) -> dict:
    """The same fields as multipart/form-data: images and records as files, objects as JSON text."""
    schema = json_schema(model)
    props = schema["properties"]
    files = {"type": "array", "items": {"type": "string", "format": "binary"}}
    for key in ("image", "images"):
        props[key] = {**files, "maxItems": MAX_IMAGES, "description": "image files"}
    if "contexts" in props:
        props["context"] = {**files, "maxItems": MAX_CONTEXTS, "description": "record files (text, PDF, ...)"}
        del props["contexts"]
    for prop in props.values():  # a form cannot send null: an absent field is the default
        if any(option == {"type": "null"} for option in prop.get("anyOf", ())):
            rest = [o for o in prop.pop("anyOf") if o != {"type": "null"}]
            prop.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
    for key in ("where", "metadata"):
        if key in props:
            props[key] = {"type": "string", "description": f"a JSON object as text; {props[key].get('description')}"}
    return schema


def describe_routes(router: APIRouter) -> None:
    """Adds the request bodies of :data:`BODIES` and the error answers to the OpenAPI document of ``router``'s
    /v1 routes (read when ``/openapi.json`` is first built)."""
    errors = {
        code: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
        for code, text in ERROR_STATUSES.items()
    }
    for route in router.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/v1/") or not getattr(route, "include_in_schema", False):
            continue
        route.responses = {**errors, **OTHER_ANSWERS.get(path, {}), **route.responses}
        model = BODIES.get(path) if "POST" in route.methods else None
        if model is not None:
            content = {"application/json": {"schema": json_schema(model)}}
            content["multipart/form-data"] = {"schema": form_schema(model)}
            route.openapi_extra = {"requestBody": {"required": False, "content": content}}
