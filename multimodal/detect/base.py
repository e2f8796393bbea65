"""What an object detector gives: :class:`Detection` records, behind the :class:`ObjectDetector` Protocol
(implementations: :mod:`multimodal.detect.centernet` with packaged weights, its ``tiny`` twin in
:mod:`multimodal.detect.tiny`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class Detection:
    """One object: COCO ``category`` (index and ``label``), ``score`` (the detector's peak score, 0..1, not a
    calibrated probability), ``box`` (left, top, right, bottom) in pixels of the image given."""

    category: int
    label: str
    score: float
    box: tuple[float, float, float, float]


class ObjectDetector(Protocol):
    def detect(self, img: Image.Image) -> list[Detection]:
        """Objects in ``img``, best first, scores >= the detector's ``min_score``."""
        ...
