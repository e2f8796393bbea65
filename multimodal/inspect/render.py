"""The heatmap overlay PNG: the image, the heatmap in a blue-to-red colour ramp where it is high, and the
boxes. A pure function of arrays (no plotting library: the core install has none)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from multimodal.inspect.regions import Region

# blue -> cyan -> yellow -> red, 4 stops
_RAMP = np.array([[0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0]], np.float32)


def colour_ramp(v: np.ndarray) -> np.ndarray:
    """Values in ``[0, 1]`` ``(H, W)`` to RGB uint8 ``(H, W, 3)``."""
    x = np.clip(v, 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.minimum(x.astype(np.int64), len(_RAMP) - 2)
    t = (x - lo)[..., None]
    return np.rint(_RAMP[lo] * (1 - t) + _RAMP[lo + 1] * t).astype(np.uint8)


def overlay(img: Image.Image, heat: np.ndarray, threshold: float, boxes: Sequence[Region] = ()) -> Image.Image:
    """``img`` with ``heat`` (same size, ``(H, W)``) drawn over it: colour by ``heat / (1.5 * threshold)``,
    opacity rising from 0 at half the threshold to 0.6 at the threshold; boxes in red."""
    rgb = np.asarray(img.convert("RGB"), np.float32)
    v = heat / (1.5 * threshold) if threshold > 0 else np.zeros_like(heat)
    alpha = (np.clip((heat / threshold - 0.5) / 0.5, 0.0, 1.0) * 0.6)[..., None] if threshold > 0 else 0.0
    out = rgb * (1 - alpha) + colour_ramp(v).astype(np.float32) * alpha
    result = Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(result)
    width = max(1, round(min(result.size) / 200))
    for r in boxes:
        draw.rectangle([r.x0, r.y0, max(r.x0, r.x1 - 1), max(r.y0, r.y1 - 1)], outline=(255, 0, 0), width=width)
    return result


def overlay_png(
    img: Image.Image, heat: np.ndarray, threshold: float, boxes: Sequence[Region] = (), max_side: int = 1024
):
    """The :func:`overlay` as PNG bytes, shrunk to at most ``max_side`` pixels a side (boxes are drawn at full
    size first, so they stay where they are): ``(png bytes, (width, height) of the PNG)``."""
    import io

    shown = overlay(img, heat, threshold, boxes)
    shown.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    shown.save(buf, "PNG")
    return buf.getvalue(), shown.size
