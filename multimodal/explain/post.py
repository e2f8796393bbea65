"""Post-processing of raw maps, pure: normalise to ``0..1`` (or say the map is flat) and bring a feature-grid
map back to the original image's pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image

from multimodal.errors import ConfigError

#: A map whose spread is below this share of its largest magnitude is flat (float noise, not evidence).
FLAT_TOLERANCE = 1e-6


def normalise(raw: np.ndarray, *, tolerance: float = FLAT_TOLERANCE) -> tuple[np.ndarray, str | None]:
    """``raw`` ``(h, w)`` scaled to float32 ``0..1``, and ``None``; or an all-zero map and why it is flat.

    Non-negative maps (Grad-CAM after its ReLU) are divided by their maximum, so 0 keeps meaning "no evidence";
    maps with negative values (similarities) are min-max scaled.
    """
    a = np.asarray(raw, np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ConfigError(f"a raw heatmap must be a non-empty 2-D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        return np.zeros(a.shape, np.float32), "the map has NaN or infinite values (the model overflowed)"
    hi, lo = float(a.max()), float(a.min())
    scale = max(abs(hi), abs(lo))
    if scale == 0.0 or (lo >= 0.0 and hi <= tolerance * max(scale, 1.0)):
        return np.zeros(a.shape, np.float32), "no region raises this target's score: the map is zero everywhere"
    if hi - lo <= tolerance * scale:
        return np.zeros(a.shape, np.float32), "every region raises this target's score alike: the map is uniform"
    out = a / hi if lo >= 0.0 else (a - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0).astype(np.float32), None


def fuse_geometric(coarse: np.ndarray, fine: np.ndarray, *, floor: float = 1e-6) -> np.ndarray:
    """Two non-negative raw maps over the same input (any grid sizes) fused on the finer grid:
    ``sqrt(a * b)`` of the maps each scaled to ``0..1`` (``floor`` keeps one map's zeros from erasing the other's
    order). A flat ``fine`` map leaves ``coarse`` alone (resized); a flat ``coarse`` map stays flat."""
    a, a_flat = normalise(coarse)
    b, b_flat = normalise(fine)
    if a_flat is not None:
        return np.zeros(np.shape(fine), np.float32)
    size = (b.shape[1], b.shape[0])
    a_fine = _resize(a, size) if a.shape[0] * a.shape[1] <= b.shape[0] * b.shape[1] else a
    if b_flat is not None:
        return a_fine
    if a_fine.shape != b.shape:
        b = _resize(b, (a_fine.shape[1], a_fine.shape[0]))
    return np.sqrt(np.maximum(a_fine, floor) * np.maximum(b, floor)).astype(np.float32)


def to_image(
    grid: np.ndarray, input_shape: tuple[int, int], content: tuple[int, int, int, int], size: tuple[int, int]
) -> np.ndarray:
    """A map over the network's whole input, ``(h, w)`` cells, as float32 ``(height, width)`` of the original image.

    ``input_shape`` is the input's ``(H, W)`` in pixels, ``content`` the image's ``(x0, y0, x1, y1)`` inside it
    and ``size`` the original ``(width, height)``. Bilinear throughout; cells are centred on their pixels.
    """
    ih, iw = input_shape
    x0, y0, x1, y1 = content
    if not (0 <= x0 < x1 <= iw and 0 <= y0 < y1 <= ih):
        raise ConfigError(f"content box {content} does not lie inside an input of {iw}x{ih}")
    full = _resize(np.asarray(grid, np.float32), (iw, ih))
    return _resize(full[y0:y1, x0:x1], size)


def finish(raw: np.ndarray, prepared) -> tuple[np.ndarray, str | None]:
    """A raw map over a :class:`~multimodal.explain.base.PreparedImage`'s input, as the ``0..1`` heatmap of the
    original image and ``None``, or an all-zero map of that size and why it is flat. Scaled after the padding is
    cropped, so the maximum lies on the image."""
    w, h = prepared.size
    if normalise(raw)[1] is None:
        heat, reason = normalise(to_image(raw, prepared.pixels.shape[:2], prepared.content, prepared.size))
    else:
        reason = normalise(raw)[1]
    return (heat if reason is None else np.zeros((h, w), np.float32)), reason


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (a.shape[1], a.shape[0]) == tuple(size):
        return a.astype(np.float32, copy=False)
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(size, Image.BILINEAR), np.float32)
