"""Boxes from a heatmap ("where is the X?"), pure: threshold at a share of the maximum, connected components
(scikit-image), one box per component, scored; and a description a person can read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multimodal.errors import ConfigError


@dataclass(frozen=True)
class Box:
    """A region in image pixels: ``x0, y0`` inclusive, ``x1, y1`` exclusive.

    score: the heatmap's maximum inside the component (1.0 for the component holding the global peak).
    mass: the component's share of all heat above the threshold (0..1); boxes come ordered by it.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    score: float
    mass: float

    @property
    def area(self) -> int:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def as_dict(self) -> dict[str, object]:
        return {"box": [self.x0, self.y0, self.x1, self.y1], "score": round(self.score, 4), "mass": round(self.mass, 4)}


def boxes_from_heatmap(
    heat: np.ndarray, *, threshold: float = 0.5, min_area: float = 0.005, max_boxes: int = 3
) -> list[Box]:
    """Boxes around the connected regions (8-connectivity) where ``heat >= threshold * heat.max()``.

    ``heat``: ``(H, W)`` in ``0..1``. Components under ``min_area`` of the image are dropped unless none would be
    left. Returns at most ``max_boxes``, largest ``mass`` first; ``[]`` for an all-zero map.
    """
    from skimage.measure import label, regionprops

    h = np.asarray(heat, np.float32)
    if h.ndim != 2:
        raise ConfigError(f"a heatmap must be 2-D (H, W), got shape {h.shape}")
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"box threshold must be in (0, 1), got {threshold}")
    peak = float(h.max()) if h.size else 0.0
    if peak <= 0.0:
        return []
    mask = h >= threshold * peak
    labels = label(mask, connectivity=2)
    total = float(h[mask].sum())
    found = []
    for region in regionprops(labels, intensity_image=h):
        y0, x0, y1, x1 = region.bbox
        values = h[labels == region.label]
        found.append(Box(int(x0), int(y0), int(x1), int(y1), float(values.max()), float(values.sum()) / total))
    big = [b for b in found if b.area >= min_area * h.size] or found
    return sorted(big, key=lambda b: (-b.mass, b.y0, b.x0))[:max_boxes]


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes; 0 when either is empty."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def describe(box: Box, size: tuple[int, int]) -> str:
    """Where ``box`` lies in an image of ``size`` ``(width, height)``, in words and pixels:
    ``"left half, around x=120..300, y=80..260"``."""
    w, h = size
    if box.area >= 0.8 * w * h:
        where = "most of the image"
    else:
        cx, cy = (box.x0 + box.x1) / 2 / w, (box.y0 + box.y1) / 2 / h
        horiz = "left" if cx < 0.4 else "right" if cx > 0.6 else ""
        vert = "top" if cy < 0.4 else "bottom" if cy > 0.6 else ""
        if horiz and vert:
            where = f"{vert} {horiz}"
        elif horiz or vert:
            where = f"{horiz or vert} half"
        else:
            where = "centre"
    return f"{where}, around x={box.x0}..{box.x1 - 1}, y={box.y0}..{box.y1 - 1}"
