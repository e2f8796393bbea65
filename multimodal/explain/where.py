"""Where is the X? Boxes from the packaged COCO object detector when the phrase names one of its 80 categories
and it finds one, else boxes from the phrase's heatmap. Which one answered is said (``method``).

The detector (:mod:`multimodal.detect`, CenterNet MobileNetV3 trained on COCO 2017 train) boxes objects; a
Grad-CAM heatmap only points at evidence, and its boxes follow the hot region, not the object's extent. So a
detector box is preferred wherever there is one: on coco128 ``val`` (COCO 2017 val images, not in the
detector's training) see README "Explain" for both IoUs, reported apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from multimodal.errors import ConfigError
from multimodal.explain.boxes import Box

#: Detections of the phrase's category at or above this score answer a where-question (the detector reports
#: peaks from 0.1; 0.15 drops most of the weakest false ones).
MIN_DETECTOR_SCORE = 0.15


@dataclass(frozen=True)
class WhereConfig:
    """min_detector_score: detections below it are ignored (then the heatmap answers). use_detector: ``False``
    always answers from the heatmap (the heatmap-only figures of ``eval explain``)."""

    min_detector_score: float = MIN_DETECTOR_SCORE
    use_detector: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_detector_score <= 1.0:
            raise ConfigError(f"min_detector_score must be in [0, 1], got {self.min_detector_score}")


def phrase_category(phrase: str) -> int | None:
    """The COCO category index a phrase names (``"the dogs"`` -> 16), ``None`` when the detector has none."""
    from multimodal.detect.coco_names import coco_category

    return coco_category(phrase)


def detector_boxes(
    detections: Sequence, category: int, size: tuple[int, int], *, min_score: float, max_boxes: int
) -> list[Box]:
    """The detections of ``category`` scoring at least ``min_score`` as :class:`Box` es in pixels of an image of
    ``size`` ``(width, height)`` (clipped, at least 1 px), best first, at most ``max_boxes``. ``score`` is the
    detector's; ``mass`` is the box's share of the kept detections' scores (the heatmap boxes' "share of the
    evidence", here the detector's)."""
    w, h = size
    kept = sorted((d for d in detections if d.category == category and d.score >= min_score), key=lambda d: -d.score)[
        :max_boxes
    ]
    total = sum(d.score for d in kept) or 1.0
    out = []
    for d in kept:
        x0 = min(max(0, int(d.box[0])), w - 1)
        y0 = min(max(0, int(d.box[1])), h - 1)
        x1 = max(x0 + 1, min(w, int(round(d.box[2]))))
        y1 = max(y0 + 1, min(h, int(round(d.box[3]))))
        out.append(Box(x0, y0, x1, y1, float(d.score), float(d.score) / total))
    return out


def detector_for(services):
    """The tier plan's object detector (``None`` in the tiny tier, which has none): loads on first use."""
    from multimodal.plan import OBJECT_DETECTORS

    return OBJECT_DETECTORS[services.plan.detector].build()
