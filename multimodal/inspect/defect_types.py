"""Defect types of flagged images: the top label of a taught label set (``sceneqa teach``), or "defect of
unknown type" when no label set is given.

An inspector only knows what *good* looks like; what kind of defect it found needs labelled defect examples.
A label set taught on them (e.g. ``neu_det``'s six steel-surface classes) classifies only the images the
inspector calls ``defect``; ok and "cannot tell" images get no type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from multimodal.inspect.inspector import Inspection

UNKNOWN = "defect of unknown type"


@dataclass(frozen=True)
class DefectType:
    """``label``: the label set's top label (or :data:`UNKNOWN`); ``probability``: its head's calibrated
    probability (None for unknown); ``labelset``: the label set's name (None for unknown)."""

    label: str
    probability: float | None = None
    labelset: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"label": self.label}
        if self.probability is not None:
            out["probability"] = round(self.probability, 4)
        if self.labelset is not None:
            out["labelset"] = self.labelset
        return out

    def describe(self) -> str:
        if self.probability is None:
            return self.label
        return f"{self.label} ({self.probability:.0%} by label set {self.labelset!r})"


def open_labelset(services, root: Path, name: str):
    """Label set ``name`` under ``root``, refused when taught with another encoder than ``services``'."""
    from multimodal.teach.store import load_labelset

    enc = services.encoder
    return load_labelset(root, name, encoder_spec=enc.spec, encoder_dim=enc.dim)


def defect_types(
    services, labelset, images: Sequence[Image.Image], inspections: Sequence[Inspection]
) -> list[DefectType | None]:
    """Per inspection: None unless its verdict is ``defect``; then the top label of ``labelset`` (None:
    :data:`UNKNOWN`) for the matching image. ``services``: what the label set's encoder runs in."""
    flagged = [i for i, ins in enumerate(inspections) if ins.verdict == "defect"]
    out: list[DefectType | None] = [None] * len(inspections)
    if not flagged:
        return out
    if labelset is None:
        for i in flagged:
            out[i] = DefectType(UNKNOWN)
        return out
    from multimodal.teach.teach import classify_with_labelset
    from multimodal.zeroshot import ZeroShotOptions

    options = ZeroShotOptions(multi_label=False, top_k=1, threshold=0.0)
    results = classify_with_labelset(services, labelset, [images[i] for i in flagged], options)
    for i, res in zip(flagged, results):
        top = res.result.labels[0] if res.result is not None and res.result.labels else None
        out[i] = DefectType(top.label, float(top.score), labelset.name) if top else DefectType(UNKNOWN)
    return out


def inspect_with_types(
    services, inspector, images: Sequence[Image.Image], names: Sequence[str], verdict, labelset=None
) -> list[tuple[Inspection, DefectType | None]]:
    """Inspect ``images`` and give each flagged one its defect type (see :func:`defect_types`)."""
    found = inspector.inspect(list(images), list(names), verdict)
    return list(zip(found, defect_types(services, labelset, images, found)))
