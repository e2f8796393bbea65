"""The HTTP API's request contracts as pydantic models, for the OpenAPI document (``/docs``): per POST route the
JSON body, the same fields as multipart/form-data (images and records as files, objects as JSON text); with
:mod:`demos.api_responses`, what every route answers and the ``{"error": ...}`` answers it may give.

The routes read their bodies with :class:`demos.api_payload.Payload`, whose typed accessors enforce these
types and ranges for JSON and forms alike (422 naming the field and the expected type); the limits here are
the same constants. ``tests/test_contracts.py`` checks the request contracts, ``tests/test_contracts_answers.py``
that every route's real answers match what is documented, ``tests/test_contracts_live.py`` fuzzes a real server."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from demos.api_fit_responses import (
    Inspection,
    Inspections,
    InspectorFitted,
    Inspectors,
    LabelSetRemoved,
    LabelSets,
    LabelSetTaught,
    Tuned,
)
from demos.api_payload import MAX_CONTEXTS, MAX_FILTERS, MAX_IMAGES
from demos.api_responses import (
    ERROR_STATUSES,
    OUTSIDE_V1,
    AskAnswer,
    Classified,
    ClassifyResults,
    EmptyIndex,
    FlatValue,
    Health,
    IndexInfo,
    ItemsAdded,
    ItemsRemoved,
    Located,
    SearchAnswer,
    Unclassified,
    error_answers,
    event_stream,
    json_schema,
)
from multimodal.ask.context_files import MAX_CONTEXT_BYTES
from multimodal.ask.questions import MAX_QUESTION_CHARS
from multimodal.explain.base import MAX_PHRASE_CHARS
from multimodal.zeroshot import MAX_LABELS

B64 = "the image file's bytes, base64 (a data: URL prefix is allowed)"
NAME = Field(None, max_length=200)


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
    explain: bool = Field(False, description="add an explanation: overlays of the image regions behind the answer")


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
#: (method, path) -> (status, what the route answers, description): every JSON route (demos/api_responses.py)
ANSWERS: dict[tuple[str, str], tuple[int, object, str]] = {
    ("GET", "/healthz"): (200, Health, "the server is up: its tier, models and queues"),
    ("GET", "/v1/index"): (200, IndexInfo | EmptyIndex, "the catalog (count 0 and no details before any add)"),
    ("POST", "/v1/classify"): (200, Classified | Unclassified | ClassifyResults, "one image: its row; more: results"),
    ("POST", "/v1/search"): (200, SearchAnswer, "hits, best first, and the query as understood"),
    ("POST", "/v1/ask"): (200, AskAnswer, "the answer with its evidence (stream=true: server-sent events)"),
    ("POST", "/v1/items"): (200, ItemsAdded, "what the add did"),
    ("DELETE", "/v1/items/{item_id}"): (200, ItemsRemoved, "the removed ids"),
    ("GET", "/v1/labelsets"): (200, LabelSets, "the taught label sets (a damaged one with its error)"),
    ("POST", "/v1/labelsets"): (201, LabelSetTaught, "the label set as taught"),
    ("DELETE", "/v1/labelsets/{name}"): (200, LabelSetRemoved, "the removed label set"),
    ("POST", "/v1/index/tune"): (200, Tuned, "the tuned query map's provenance"),
    ("GET", "/v1/inspectors"): (200, Inspectors, "the fitted inspectors (a damaged one with its error)"),
    ("POST", "/v1/inspectors"): (201, InspectorFitted, "the inspector as fitted"),
    ("POST", "/v1/inspect"): (200, Inspection | Inspections, "one image: its inspection; more: results"),
    ("POST", "/v1/locate"): (200, Located, "where the phrase is in the image"),
}
#: answers that are not JSON, by (method, path)
OTHER_ANSWERS: dict[tuple[str, str], dict] = {
    ("POST", "/v1/ask"): {200: {"content": event_stream(AskAnswer)}},  # stream=true
    ("GET", "/v1/items/{item_id}/image"): {
        200: {
            "description": "the item's image file",
            "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
}


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
    """Adds to the OpenAPI document of ``router``'s routes (read when ``/openapi.json`` is first built): the
    request bodies of :data:`BODIES`, what each route answers (:data:`ANSWERS`, :data:`OTHER_ANSWERS`) and its
    ``{"error": ...}`` answers (403, a cross-site write, only for writes)."""
    for route in router.routes:
        path = getattr(route, "path", "")
        if not getattr(route, "include_in_schema", False) or not (path.startswith("/v1/") or path in OUTSIDE_V1):
            continue
        for method in sorted(route.methods):
            codes = [c for c in ERROR_STATUSES if method != "GET" or c != 403] if path.startswith("/v1/") else None
            route.responses = {**_answers(method, path, codes or OUTSIDE_V1[path]), **route.responses}
            model = BODIES.get(path) if method == "POST" else None
            if model is not None:
                content = {"application/json": {"schema": json_schema(model)}}
                content["multipart/form-data"] = {"schema": form_schema(model)}
                route.openapi_extra = {"requestBody": {"required": False, "content": content}}


def _answers(method: str, path: str, error_codes) -> dict[int, dict]:
    answers = error_answers(error_codes)
    if (method, path) in ANSWERS:
        status, model, text = ANSWERS[method, path]
        answers[status] = {"description": text, "content": {"application/json": {"schema": json_schema(model)}}}
    for status, extra in OTHER_ANSWERS.get((method, path), {}).items():
        content = {**answers.get(status, {}).get("content", {}), **extra["content"]}
        answers[status] = {**answers.get(status, {}), **extra, "content": content}
    return answers
