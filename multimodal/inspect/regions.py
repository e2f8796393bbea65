"""Score maps, heatmaps and regions: pure functions of patch-score grids.

- score map: the patch-score grid ``(h, w)`` with the ``border`` rows/columns at each edge set to the interior's
  minimum: zero padding makes edge patches noisy, so they are not scored (measured on bsdata: pixel AUROC
  0.982 -> 0.990). The image score is the score map's maximum (PatchCore's max patch score).
- heatmap: the score map upsampled (bilinear) to the inspector's input size and smoothed with a Gaussian
  (PatchCore's sigma 4), then resized to the image; for display and pixel metrics.
- regions: connected patches (8-connectivity) of the score map at or above a level, as boxes in the image's
  own pixels (patch-aligned: a box is a union of patch cells).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Region:
    """An anomalous region: box ``[x0, x1) x [y0, y1)`` in image pixels, its area in image pixels (the patches'
    cells) and its peak patch score."""

    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    peak: float

    def to_dict(self) -> dict[str, float | int | list[int]]:
        return {"box": [self.x0, self.y0, self.x1, self.y1], "area": self.area, "peak": round(self.peak, 4)}


def score_map(grid: np.ndarray, border: int) -> np.ndarray:
    """``grid`` ``(h, w)`` with ``border`` cells at each edge set to the interior minimum (unchanged when that
    would leave no interior); float32."""
    g = np.array(grid, np.float32)
    if border <= 0 or min(g.shape) <= 2 * border:
        return g
    low = g[border:-border, border:-border].min()
    g[:border], g[-border:], g[:, :border], g[:, -border:] = low, low, low, low
    return g


def heatmap(scores: np.ndarray, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """A score map ``(h, w)`` upsampled to ``shape`` ``(width, height)`` and blurred (sigma in those pixels):
    float32 ``(height, width)``."""
    from scipy.ndimage import gaussian_filter

    up = np.asarray(Image.fromarray(np.asarray(scores, np.float32)).resize(shape, Image.BILINEAR))
    return gaussian_filter(up, sigma, mode="nearest") if sigma > 0 else up


def resize_map(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float map resized (bilinear) to ``size`` ``(width, height)``: float32 ``(height, width)``."""
    if heat.shape[::-1] == tuple(size):
        return heat
    return np.asarray(Image.fromarray(np.asarray(heat, np.float32)).resize(size, Image.BILINEAR))


def regions(scores: np.ndarray, level: float, size: tuple[int, int], limit: int = 10) -> list[Region]:
    """Connected cells of a score map ``(h, w)`` at or above ``level`` as boxes in an image of ``size``
    ``(width, height)``, the ``limit`` highest peaks first."""
    from skimage.measure import label, regionprops

    mask = scores >= level
    if not mask.any():
        return []
    h, w = scores.shape
    sx, sy = size[0] / w, size[1] / h
    found = []
    for prop in regionprops(label(mask, connectivity=2), intensity_image=scores):
        r0, c0, r1, c1 = prop.bbox
        box = (int(np.floor(c0 * sx)), int(np.floor(r0 * sy)), int(np.ceil(c1 * sx)), int(np.ceil(r1 * sy)))
        box = (box[0], box[1], min(size[0], box[2]), min(size[1], box[3]))
        found.append(Region(*box, area=int(round(prop.area * sx * sy)), peak=float(prop.intensity_max)))
    found.sort(key=lambda r: -r.peak)
    return found[:limit]
