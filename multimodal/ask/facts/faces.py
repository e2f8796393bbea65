"""Counting frontal faces with the LBP cascade that ships in scikit-image (no download, no learned
weights of ours). Overlapping raw detections are merged into one face."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

MAX_SIDE = 640
PERSON_WORDS = frozenset(
    {
        "person",
        "people",
        "persons",
        "face",
        "faces",
        "man",
        "men",
        "woman",
        "women",
        "human",
        "humans",
        "child",
        "children",
        "kid",
        "kids",
        "boy",
        "boys",
        "girl",
        "girls",
        "worker",
        "workers",
        "astronaut",
        "astronauts",
        "someone",
        "anyone",
        "somebody",
    }
)


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    def iou(self, other: Box) -> float:
        w = max(0, min(self.right, other.right) - max(self.left, other.left))
        h = max(0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = w * h
        union = (
            (self.right - self.left) * (self.bottom - self.top)
            + (other.right - other.left) * (other.bottom - other.top)
            - inter
        )
        return inter / union if union else 0.0


class FaceDetector(Protocol):
    name: str

    def detect(self, img: Image.Image) -> list[Box]: ...


class CascadeFaceDetector:
    """scikit-image's LBP frontal-face cascade over an image pyramid; clusters of >= ``min_hits`` raw
    detections count as one face."""

    name = "skimage LBP frontal-face cascade"

    def __init__(self, min_hits: int = 1) -> None:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        self._cascade = Cascade(lbp_frontal_face_cascade_filename())
        self._min_hits = min_hits

    def detect(self, img: Image.Image) -> list[Box]:
        scale = min(1.0, MAX_SIDE / max(img.size))
        small = img.resize((round(img.width * scale), round(img.height * scale))) if scale < 1 else img
        arr = np.asarray(small.convert("RGB"))
        side = min(arr.shape[:2])
        raw = self._cascade.detect_multi_scale(
            img=arr, scale_factor=1.2, step_ratio=1, min_size=(max(24, side // 16),) * 2, max_size=(side, side)
        )
        boxes = [
            Box(
                int(d["c"] / scale),
                int(d["r"] / scale),
                int((d["c"] + d["width"]) / scale),
                int((d["r"] + d["height"]) / scale),
            )
            for d in raw
        ]
        return merge_boxes(boxes, self._min_hits)


def merge_boxes(boxes: list[Box], min_hits: int = 1, iou: float = 0.2) -> list[Box]:
    """Greedy clustering of overlapping boxes (IoU above ``iou`` or one inside the other); each cluster with
    at least ``min_hits`` members becomes its average box."""
    clusters: list[list[Box]] = []
    for b in sorted(boxes, key=lambda b: -(b.right - b.left)):
        for c in clusters:
            if any(b.iou(o) > iou or _inside(b, o) or _inside(o, b) for o in c):
                c.append(b)
                break
        else:
            clusters.append([b])
    out = []
    for c in clusters:
        if len(c) >= min_hits:
            out.append(Box(*(int(np.mean([getattr(b, f) for b in c])) for f in ("left", "top", "right", "bottom"))))
    return out


def _inside(a: Box, b: Box) -> bool:
    cx, cy = (a.left + a.right) / 2, (a.top + a.bottom) / 2
    return b.left <= cx <= b.right and b.top <= cy <= b.bottom


class NoFaceDetector:
    """The tiny twin: detects nothing (tests of the answering mechanics)."""

    name = "none (tiny)"

    def detect(self, img: Image.Image) -> list[Box]:
        return []
