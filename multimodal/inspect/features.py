"""Patch features: pure pre-processing (resize, normalise), the forward pass, pure post-processing (local
pooling, upsampling to the first layer's grid, concatenation).

Pre- and post-processing are plain functions of arrays; only :func:`extract` touches the backbone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image

from multimodal.errors import EmptyInputError
from multimodal.inspect.backbone_base import TF_MEAN, TF_STD, PatchBackbone
from multimodal.inspect.config import FitConfig

GRID = 16  # input sides are rounded to this (the deepest stride used)


def input_shape(sizes: Sequence[tuple[int, int]], long_side: int) -> tuple[int, int]:
    """``(width, height)`` every image is resized to: the longest side ``long_side``, the other from the median
    aspect ratio of ``sizes`` (``(w, h)`` pairs), both rounded to a multiple of :data:`GRID` (at least one)."""
    aspect = float(np.median([w / h for w, h in sizes])) if sizes else 1.0
    w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
    return max(GRID, int(w / GRID + 0.5) * GRID), max(GRID, int(h / GRID + 0.5) * GRID)


def prepare(
    img: Image.Image, shape: tuple[int, int], mean: Sequence[float] = TF_MEAN, std: Sequence[float] = TF_STD
) -> np.ndarray:
    """An RGB image resized to ``shape`` ``(w, h)``: float32 ``(h, w, 3)``, ``(x - mean) / std`` per channel
    (``x``, ``mean``, ``std`` in 0..255 pixel units; the default is lite's ``(x - 127) / 128``)."""
    if img.size != shape:
        img = img.resize(shape, Image.BICUBIC)
    m, s = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    return (np.asarray(img.convert("RGB"), dtype=np.float32) - m) / s


def join_maps(maps: Sequence, pool: int):
    """Per-patch features from per-layer maps (torch ``(n, c_i, h_i, w_i)``): each map average-pooled over a
    ``pool`` x ``pool`` neighbourhood (edges averaged over what exists), bilinearly resized to the first map's
    grid, concatenated. Returns a float32 torch tensor ``(n, h, w, sum c_i)``."""
    import torch
    import torch.nn.functional as F

    grid = maps[0].shape[-2:]
    out = []
    for m in maps:
        if pool > 1:
            m = F.avg_pool2d(m, pool, stride=1, padding=pool // 2, count_include_pad=False)
        if m.shape[-2:] != grid:
            m = F.interpolate(m, size=grid, mode="bilinear", align_corners=False)
        out.append(m)
    return torch.cat(out, dim=1).permute(0, 2, 3, 1).contiguous()


def describe(descriptor_map):
    """Whole-image descriptors from a feature map ``(n, c, h, w)``: the spatial mean, L2-normalised; float32
    numpy ``(n, c)``."""
    import torch

    return torch.nn.functional.normalize(descriptor_map.mean(dim=(2, 3)), dim=1).numpy()


def extract(
    backbone: PatchBackbone,
    images: Iterable[Image.Image],
    shape: tuple[int, int],
    config: FitConfig,
    batch_size: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """Patch features of ``images`` resized to ``shape``, float32 ``(n, h, w, d)`` (``h, w`` the grid of the
    first layer: input / its stride), and whole-image descriptors, float32 ``(n, c)``, unit rows."""
    import torch

    patches: list[np.ndarray] = []
    descriptors: list[np.ndarray] = []
    batch: list[np.ndarray] = []

    def flush() -> None:
        x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
        maps = backbone.feature_maps(x, config.blocks)
        patches.append(join_maps(maps[:-1], config.pool).numpy())
        descriptors.append(describe(maps[-1]))
        batch.clear()

    for img in images:
        batch.append(prepare(img, shape, backbone.info.mean, backbone.info.std))
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if not patches:
        raise EmptyInputError("no images to extract features from")
    return np.concatenate(patches), np.concatenate(descriptors)
