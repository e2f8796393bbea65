"""What the routes that fit things answer, as pydantic models for the OpenAPI document: label sets
(``/v1/labelsets``), inspectors (``/v1/inspectors``, ``/v1/inspect``) and the tuned index (``/v1/index/tune``).
Closed objects, like the rest of :mod:`demos.api_responses` (which lists them per route)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from demos.api_responses import Closed, maybe
from multimodal.inspect.calibrate import VERDICTS

# ---- /v1/labelsets -------------------------------------------------------------------------------------------


class EncoderRef(Closed):
    spec: str
    dim: int
    family: str


class Features(Closed):
    kind: str
    flip: bool


class HeadParams(Closed):
    power: float
    C: float
    proto_weight: float
    text_weight: float
    temperature: float


class GridRow(Closed):
    power: float
    C: float
    proto: float
    text: float
    accuracy: float


class CrossValidation(Closed):
    accuracy: float | None
    held_out: int
    folds: int
    per_label: dict[str, float]
    grid: list[GridRow]
    confusion: list[list[int]]


class LabelSetTaught(Closed):
    name: str
    created: str
    encoder: EncoderRef
    features: Features
    labels: list[str]
    texts: list[str] | None
    counts: dict[str, int] = Field(description="label -> examples")
    examples: int
    head: HeadParams
    cv: CrossValidation
    problems: list[str]
    added: int


class LabelSetRow(Closed):
    name: str
    labels: list[str]
    counts: dict[str, int]
    encoder: EncoderRef
    usable: bool = Field(description="taught with the server's encoder")
    cv: CrossValidation
    created: str


class Damaged(Closed):
    name: str
    error: str


class LabelSets(Closed):
    labelsets: list[LabelSetRow | Damaged]


class LabelSetRemoved(Closed):
    removed: str


# ---- /v1/inspectors, /v1/inspect -----------------------------------------------------------------------------


class Normalisation(Closed):
    mean: list[float]
    std: list[float]


class InspectorSummary(Closed):
    name: str
    backbone: str
    backbone_description: str
    pretrained: bool
    normalisation: Normalisation
    input_size: list[int]
    layers: list[int]
    bank: str
    bank_size: int
    bank_images: int
    bank_dims: int
    patches_seen: int
    threshold: float
    false_alarm: float
    threshold_rule: str
    false_alarm_guaranteed: float
    threshold_how: str
    threshold_method: str
    images_used: int
    seconds: dict[str, float]
    skipped_count: int


class InspectorFitted(InspectorSummary):
    skipped: list[str] = Field(description="good images that could not be read: 'name: reason'")


class Inspectors(Closed):
    inspectors: list[InspectorSummary | Damaged]


class Region(Closed):
    box: list[int] = Field(description="[left, top, right, bottom) in the image's pixels")
    area: int
    peak: float


class DefectType(Closed):
    label: str
    probability: float = maybe()
    labelset: str = maybe()


class Inspection(Closed):
    inspector: str
    image: str
    score: float
    threshold: float
    verdict: Literal[VERDICTS]
    probability: float
    boxes: list[Region]
    defect_type: DefectType = maybe("with a labelset")
    heatmap_png: str = maybe("with heatmap=true (the default): a base64 PNG")
    heatmap_size: list[int] = maybe("[width, height] of heatmap_png")


class Uninspected(Closed):
    image: str
    error: str


class Inspections(Closed):
    inspector: str
    results: list[Inspection | Uninspected] = Field(description="one per image, in upload order")


# ---- /v1/index/tune -----------------------------------------------------------------------------------------


class RecallChange(Closed):
    before: float
    after: float


class Tuned(Closed):
    encoder: str
    dim: int
    features: str
    feature_dim: int
    columns: list[str]
    direction: str
    alpha: float
    items: int
    catalog_count: int
    fit_items: int
    held_out_items: int
    holdout: float
    seed: int
    held_out_recall: RecallChange = Field(alias="held_out_recall@10")
    validation_recall: dict[str, float] = Field(alias="validation_recall@10", description="direction/alpha -> recall")
    text_weight: float
    created: str
    index: str
