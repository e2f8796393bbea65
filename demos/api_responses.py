"""The HTTP API's answers as pydantic models, for the OpenAPI document (``/docs``): the JSON a route answers
on success (listed per route in :data:`demos.api_models.ANSWERS`; the routes that fit things are described in
:mod:`demos.api_fit_responses`), the ``{"error": ...}`` shape of every error (:class:`ErrorAnswer`), the events
of a streamed answer, and ``/metrics``.

The routes build their answers as plain dicts (the CLI's ``--json``); these models only describe them, they
never filter or re-validate what a route returns. Objects are closed (``additionalProperties: false``): a key a
route adds must be added here, which ``tests/test_contracts_answers.py`` (every route's real answers) and the
live schema fuzz (``tests/test_contracts_live.py``) check. A field declared with :func:`maybe` is present only
sometimes (e.g. ``explanation`` with ``explain=true``); ``X | None`` fields are always present, maybe null."""

from __future__ import annotations

import copy
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from multimodal.ask.answers import EVIDENCE_KINDS

FlatValue = str | int | float | bool | None


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def maybe(description: str | None = None):
    """A key that is present only sometimes (absent otherwise, never null unless its type says so)."""
    return Field(None, description=description, json_schema_extra=_no_default)


class Closed(BaseModel):
    """An object with exactly the keys declared (``additionalProperties: false``)."""

    model_config = ConfigDict(extra="forbid")


class ErrorAnswer(Closed):
    """Every 4xx and 5xx of the server (the API, ``/metrics`` and the guards in front)."""

    error: str = Field(description="what was wrong and, where there is one, the fix; never a server path")


# ---- /healthz, /v1/index -----------------------------------------------------------------------------------


class WorkerStats(Closed):
    busy: int = Field(description="batches running now")
    waiting: int = Field(description="jobs queued")
    queue: int = Field(description="the queue's size (a full queue answers 503)")


class ModelStats(Closed):
    busy: int
    waiting: int
    slots: int
    max_batch: int
    workers: dict[str, WorkerStats] = Field(description="per model worker (image, text, answerer, generic)")


class Health(Closed):
    status: Literal["ok"]
    tier: str
    encoder: str
    answerer: str
    index: bool = Field(description="whether the catalog exists")
    models: ModelStats


class EmptyIndex(Closed):
    count: Literal[0]
    folder: str = Field(description="the index folder's name (never its path)")
    encoder: str


class IndexInfo(Closed):
    folder: str = Field(description="the index folder's name (never its path)")
    count: int
    encoder: str
    dim: int
    metric: str
    index_type: str
    index_params: dict[str, int]
    recommended_type: str
    tombstones: int
    bytes_per_vector: float
    size_on_disk_bytes: int
    schema_: dict[str, str] = Field(alias="schema", description="metadata column -> integer, real, date or text")
    updated_at: str


# ---- explanations (explain=true), /v1/locate ---------------------------------------------------------------


class Overlay(Closed):
    png: str = Field(description="a base64 PNG: the heatmap and boxes over the image")
    size: list[int] = Field(description="[width, height] of the PNG")


class HeatBox(Closed):
    box: list[int] = Field(description="[left, top, right, bottom] in the image's pixels")
    score: float
    mass: float


class LabelOverlay(Closed):
    label: str
    method: str
    flat: bool
    reason: str | None
    peak: list[int] | None
    boxes: list[HeatBox]
    notes: list[str]
    overlay: Overlay


class Explanation(Closed):
    overlays: list[LabelOverlay]
    note: str | None = Field(description="why fewer overlays than asked were made")


class LocatedBox(HeatBox):
    where: str = Field(description="where the box lies, in words")


class Located(Closed):
    image: str
    target: str = Field(description="where the phrase's target came from: text, or concepts:LEMMA")
    phrase: str
    method: Literal["detector", "heatmap"]
    source: str = Field(description="the detector's category, or the heatmap's method")
    boxes: list[LocatedBox]
    description: str
    flat: bool
    reason: str | None
    score: float | None
    notes: list[str]
    overlay: Overlay = maybe("with overlay=true (the default)")


# ---- /v1/classify --------------------------------------------------------------------------------------------


class LabelScore(Closed):
    label: str
    score: float
    match: float


class Classified(Closed):
    image: str
    labels: list[LabelScore] = Field(description="best first, at most top_k")
    abstained: bool
    supported: list[str]
    multi_label: bool
    encoder: str
    tier: str
    labelset: str = maybe("the taught label set that classified it")
    explanation: Explanation = maybe("with explain=true")


class Unclassified(Closed):
    image: str
    error: str = Field(description="why this image could not be classified (the others were)")
    labelset: str = maybe()
    explanation: Explanation = maybe()


class ClassifyResults(Closed):
    results: list[Classified | Unclassified] = Field(description="one per image, in upload order")


# ---- /v1/search, /v1/items -------------------------------------------------------------------------------------


class Hit(Closed):
    id: str
    score: float
    image: str = Field(description="the item's image URL (/v1/items/{id}/image)")
    metadata: dict[str, FlatValue]
    explanation: Explanation = maybe("with explain=true, for the first hits")


class SearchQuery(Closed):
    text: str | None
    image: str | None
    like: str | None
    weight: float
    negative: str | None
    filters: list[str]
    k: int
    hybrid: bool
    tuned: bool
    item_text_weight: float
    encoder: str
    tier: str
    index: str = Field(description="the index folder's name")


class SearchAnswer(Closed):
    results: list[Hit] = Field(description="best first")
    query: SearchQuery
    explanation_note: str | None = maybe("with explain=true: why fewer hits than found were explained")


class Duplicate(Closed):
    id: str
    duplicate_of: str


class Failure(Closed):
    where: str
    reason: str


class ItemsAdded(Closed):
    added: int
    updated: int
    metadata_updated: int
    unchanged: int
    duplicates: list[Duplicate]
    failed: list[Failure]
    seconds: float
    images_per_s: float
    index_type: str
    count: int


class ItemsRemoved(Closed):
    removed: list[str]


# ---- /v1/ask ---------------------------------------------------------------------------------------------------


class Evidence(Closed):
    kind: Literal[EVIDENCE_KINDS]
    locator: str
    text: str
    score: float
    boxes: list[list[int]] = maybe("[left, top, right, bottom] pixel boxes of the image it cites")


class AnswerOverlay(Closed):
    image: int = Field(description="the image's number in the request, from 1")
    name: str
    subject: str | None
    boxes: list[HeatBox] = Field(description="the boxes of the evidence the answer cites")
    locators: list[str]
    method: str | None
    flat: bool
    reason: str | None
    peak: list[int] | None
    notes: list[str]
    summary: str
    overlay: Overlay


class AskExplanation(Closed):
    subject: str | None = Field(description="the question's subject, whose heatmap is drawn")
    overlays: list[AnswerOverlay]
    note: str | None


class AskAnswer(Closed):
    answer: str
    detail: str
    confidence: float
    abstained: bool
    citations: list[Evidence]
    models: dict[str, str]
    tier: str
    notices: list[str]
    evidence: list[Evidence]
    explanation: AskExplanation = maybe("with explain=true (not with stream=true): the regions behind the answer")


class Token(Closed):
    text: str = Field(description="the next piece of the answer")


# ---- OpenAPI answers -----------------------------------------------------------------------------------------

ERROR_STATUSES = {
    400: "a bad request (the message says which field and why), or a Host this server does not serve",
    401: "missing or wrong API token",
    403: "a cross-site write (an Origin that is not this server's)",
    404: "no such item, inspector, label set, or an empty catalog",
    405: "wrong method",
    409: "exists already, or made with another encoder",
    413: "over a size limit (bytes, images, pixels, characters)",
    415: "neither JSON nor a form",
    422: "a field of the wrong type or out of range, named with the expected type",
    500: "a bug: the server log has the details (the message never does)",
    503: "the model queue is full (see Retry-After)",
    504: "the request's deadline passed",
}
OUTSIDE_V1 = {"/healthz": (400,), "/metrics": (400, 401)}  # the Host guard; the API token
PROMETHEUS = "the Prometheus text exposition format"


def json_schema(model: object) -> dict:
    """The JSON schema of ``model`` (a pydantic model or a union of them) with its ``$defs`` inlined (OpenAPI
    would resolve ``$ref`` against the document)."""
    schema = TypeAdapter(model).json_schema()
    defs = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline({**copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]), **_but_ref(node)})
            return {k: inline(v) for k, v in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    return inline(schema)


def _but_ref(node: dict) -> dict:
    return {k: v for k, v in node.items() if k != "$ref"}


def error_answers(statuses) -> dict[int, dict]:
    """OpenAPI answers ``{"error": ...}`` for ``statuses`` (keys of :data:`ERROR_STATUSES`)."""
    schema = json_schema(ErrorAnswer)
    return {
        code: {"description": ERROR_STATUSES[code], "content": {"application/json": {"schema": schema}}}
        for code in statuses
    }


def metrics_answers() -> dict[int, dict]:
    """``GET /metrics``'s answers (its route has ``response_class=PlainTextResponse``)."""
    return {200: {"description": PROMETHEUS}, **error_answers(OUTSIDE_V1["/metrics"])}


def event_stream(answer: object) -> dict:
    """The ``text/event-stream`` content of a streamed answer, per event (OpenAPI 3.1: ``schema`` describes
    each event): ``token`` pieces, then one ``answer`` (``answer``'s JSON) or ``error``."""

    def event(name: str, data: object) -> dict:
        payload = {"type": "string", "contentMediaType": "application/json", "contentSchema": json_schema(data)}
        return {
            "type": "object",
            "required": ["event", "data"],
            "properties": {"event": {"const": name}, "data": payload},
        }

    events = [event("token", Token), event("answer", answer), event("error", ErrorAnswer)]
    return {"text/event-stream": {"schema": {"description": "one server-sent event", "oneOf": events}}}
