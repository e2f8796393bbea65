"""ImageNet concepts over regions of a photo, and the signals of a noun's presence they give (issue 14, item 4).

An ImageNet classifier names one main object per view; in an everyday scene the cup on the table is a small part
of the picture. So the image is classified whole (centre crop and padded) and over a fixed set of regions: a
3 x 3 grid of half-size windows and three vertical two-thirds strips (:func:`region_boxes`, 12 regions). A noun's
signals (:func:`concept_signals`) are the probability mass of the classes under it (:mod:`concepts`) over the
whole image, its best region and all regions on average, the best single class, and how many classes the noun
covers. The presence model that turns them into a probability is fitted on a fit split
(:mod:`multimodal.ask.calibration`); this module only measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from multimodal.images.recent import RecentImages

Box = tuple[int, int, int, int]  # left, top, right, bottom
SIGNALS = ("log_mass_whole", "log_mass_best_region", "log_mass_mean_region", "log_best_class", "log_classes")
_EPS = 1e-6


class RegionClassifier(Protocol):
    name: str

    def class_probabilities(self, images: Sequence[Image.Image], *, padded: bool = False) -> np.ndarray: ...


def region_boxes(width: int, height: int) -> list[Box]:
    """Pure: the 12 regions, in pixels: 3 x 3 half-size windows (stride a quarter), then 3 vertical strips of
    two thirds of the width."""
    boxes = []
    for fy in (0.0, 0.25, 0.5):
        for fx in (0.0, 0.25, 0.5):
            boxes.append((int(fx * width), int(fy * height), int((fx + 0.5) * width), int((fy + 0.5) * height)))
    for fx in (0.0, 1 / 6, 1 / 3):
        boxes.append((int(fx * width), 0, int((fx + 2 / 3) * width), height))
    return [(left, top, max(right, left + 1), max(bottom, top + 1)) for left, top, right, bottom in boxes]


@dataclass(frozen=True)
class RegionProbs:
    """Class probabilities: ``whole`` ``(2, C)`` (centre crop, padded), ``regions`` ``(R, C)`` with ``boxes``."""

    whole: np.ndarray
    regions: np.ndarray
    boxes: tuple[Box, ...]


def classify_regions(img: Image.Image, classifier: RegionClassifier) -> RegionProbs:
    """Classify ``img`` whole and over :func:`region_boxes` (one batch of 13 views plus the padded view)."""
    rgb = img.convert("RGB")
    boxes = tuple(region_boxes(*rgb.size))
    crops = [rgb] + [rgb.crop(b) for b in boxes]
    probs = classifier.class_probabilities(crops)
    padded = classifier.class_probabilities([rgb], padded=True)
    return RegionProbs(np.stack([probs[0], padded[0]]), probs[1:], boxes)


@dataclass(frozen=True)
class ConceptSignals:
    """The measured signals of one noun (named in :data:`SIGNALS`), the region where it is strongest, and the
    classes that carried it there (best first, with their probability)."""

    values: dict[str, float]
    best_box: Box
    best_mass: float
    top_classes: tuple[tuple[int, float], ...]


def concept_signals(rp: RegionProbs, classes: Sequence[int]) -> ConceptSignals:
    """Pure: the signals of the classes ``classes`` (indices) in ``rp``."""
    idx = np.asarray(list(classes), np.int64)
    whole = rp.whole[:, idx].sum(axis=1)
    regions = rp.regions[:, idx].sum(axis=1)
    every = np.concatenate([whole, regions])
    best_class = max(float(rp.whole[:, idx].max()), float(rp.regions[:, idx].max()))
    values = {
        "log_mass_whole": float(np.log(whole.mean() + _EPS)),
        "log_mass_best_region": float(np.log(every.max() + _EPS)),
        "log_mass_mean_region": float(np.log(regions.mean() + _EPS)),
        "log_best_class": float(np.log(best_class + _EPS)),
        "log_classes": float(np.log(len(idx))),
    }
    best = int(np.argmax(regions))
    region = rp.regions[best, idx]
    order = np.argsort(-region)[:3]
    top = tuple((int(idx[i]), float(region[i])) for i in order if region[i] > 0.01)
    return ConceptSignals(values, rp.boxes[best], float(regions[best]), top)


class ImageNetRegions:
    """The lite encoder's EfficientNet-Lite0 ImageNet classifier as a :class:`RegionClassifier`, with the last
    ``cache_size`` images' region probabilities kept (by pixel content): several questions about one photo
    classify its regions once."""

    name = "EfficientNet-Lite0 ImageNet classes over 12 regions"

    def __init__(self, lite_encoder, cache_size: int = 32) -> None:
        self._enc = lite_encoder
        self._recent: RecentImages[RegionProbs] = RecentImages(cache_size)

    def regions(self, img: Image.Image) -> RegionProbs:
        """:func:`classify_regions` of ``img``, from the cache when the same pixels were seen lately."""
        return self._recent.get(img, lambda im: classify_regions(im, self))

    def class_probabilities(self, images: Sequence[Image.Image], *, padded: bool = False) -> np.ndarray:
        return self._enc.class_probabilities(images, padded=padded)
