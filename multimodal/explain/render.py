"""The overlay PNG of an explanation, pure: the image dimmed where the heatmap is low, a blue-to-red ramp where it
is high, boxes in white with a dark edge so they show on any photo. No plotting library."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from multimodal.errors import ConfigError
from multimodal.explain.boxes import Box
from multimodal.images.modes import to_rgb

# dark blue -> blue -> cyan -> yellow -> red (a "jet"-like ramp; low heat stays cool)
_RAMP = np.array([[0, 0, 128], [0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0]], np.float32)


def colour_ramp(v: np.ndarray) -> np.ndarray:
    """Values ``(H, W)`` in ``0..1`` to RGB uint8 ``(H, W, 3)``."""
    x = np.clip(np.asarray(v, np.float32), 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.minimum(x.astype(np.int64), len(_RAMP) - 2)
    t = (x - lo)[..., None]
    return np.rint(_RAMP[lo] * (1 - t) + _RAMP[lo + 1] * t).astype(np.uint8)


def overlay(image: Image.Image, heat: np.ndarray, boxes: Sequence[Box] = (), *, opacity: float = 0.5) -> Image.Image:
    """``image`` (any mode; alpha on white) with ``heat`` ``(height, width)`` in ``0..1`` blended over it: the ramp's
    opacity grows with the heat up to ``opacity``; an RGB image of the same size."""
    rgb = np.asarray(to_rgb(image), np.float32)
    h = np.asarray(heat, np.float32)
    if h.shape != rgb.shape[:2]:
        raise ConfigError(f"heatmap shape {h.shape} does not match the image's (height, width) {rgb.shape[:2]}")
    alpha = (np.clip(h, 0.0, 1.0) * opacity)[..., None]
    out = rgb * (1 - alpha) + colour_ramp(h).astype(np.float32) * alpha
    result = Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode="RGB")
    if boxes:
        draw = ImageDraw.Draw(result)
        width = max(1, round(min(result.size) / 160))
        for b in boxes:
            rect = [b.x0, b.y0, max(b.x0, b.x1 - 1), max(b.y0, b.y1 - 1)]
            draw.rectangle(rect, outline=(0, 0, 0), width=width + 2)
            draw.rectangle(rect, outline=(255, 255, 255), width=width)
    return result


def png_bytes(image: Image.Image) -> bytes:
    """``image`` encoded as PNG (for the API's base64 field and for files)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def located_overlay(image: Image.Image, found) -> Image.Image:
    """The overlay of a :class:`~multimodal.explain.api.Located`: its heatmap and boxes, or the boxes alone on
    the image when the detector answered (no heatmap was made)."""
    if found.explanation is not None:
        return overlay(image, found.explanation.heatmap, found.boxes)
    w, h = found.size
    return overlay(image, np.zeros((h, w), np.float32), found.boxes)
