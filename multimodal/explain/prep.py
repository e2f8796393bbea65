"""Pre-processing for explainers, pure: resize with the aspect kept and pad, so the heatmap covers the whole
image (a centre crop would hide the sides) and can be cropped back to it."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.errors import ConfigError
from multimodal.explain.base import PreparedImage
from multimodal.images.modes import to_rgb


def letterbox(
    image: Image.Image,
    *,
    long_side: int,
    min_side: int,
    mean: Sequence[float],
    std: Sequence[float],
    square: bool = False,
) -> PreparedImage:
    """``image`` resized so its long side is ``long_side`` (aspect kept; the short side at least 1 px), then
    padded, centred, to at least ``min_side`` on each side (``square``: to ``long_side`` x ``long_side``, as a ViT
    with fixed positions needs). Pixels are ``(x / 255 - mean) / std`` per channel; padding is 0 (the mean
    colour), so it adds as little evidence as possible. Alpha is composited on white first.
    """
    if long_side < 1 or min_side < 1 or min_side > long_side:
        raise ConfigError(f"letterbox needs 1 <= min_side <= long_side, got {min_side}, {long_side}")
    rgb = to_rgb(image)
    w, h = rgb.size
    scale = long_side / max(w, h)
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = rgb.resize((rw, rh), Image.BICUBIC) if (rw, rh) != (w, h) else rgb
    pw = long_side if square else max(rw, min_side)
    ph = long_side if square else max(rh, min_side)
    x0, y0 = (pw - rw) // 2, (ph - rh) // 2
    mean_a = np.asarray(mean, np.float32).reshape(1, 1, 3)
    std_a = np.asarray(std, np.float32).reshape(1, 1, 3)
    pixels = np.zeros((ph, pw, 3), np.float32)
    pixels[y0 : y0 + rh, x0 : x0 + rw] = (np.asarray(resized, np.float32) / 255.0 - mean_a) / std_a
    return PreparedImage(pixels=pixels, content=(x0, y0, x0 + rw, y0 + rh), size=(w, h))


def thin_note(size: tuple[int, int], min_side: int) -> str | None:
    """A note for images whose short side is under ``min_side`` px or whose sides differ more than 8x: the map
    then has little detail across the short side."""
    w, h = size
    if min(w, h) < min_side or max(w, h) > 8 * min(w, h):
        return (
            f"the image is {w}x{h}, a thin strip: the heatmap has little detail across its short side; "
            "explain a wider crop for a useful map"
        )
    return None
