"""Deletion and insertion curves (Petsiuk et al., 2018, "RISE", section 4.1) for a heatmap, against random maps.

- Deletion: the pixels are removed most relevant first (set to grey 127: the zero of EfficientNet-Lite's
  ``(x - 127) / 128`` input, RISE's zero substrate) and the label's *probability* is tracked; lower AUC is better.
- Insertion: the pixels are revealed most relevant first on a blurred copy; higher AUC is better.
- AUC: the trapezoid over ``steps`` equal steps from none to all pixels (as RISE's code computes it).

The tracked score (:func:`label_scorer`) is, for ``lite``, the classifier's probability of the label's ImageNet
concepts (softmax at temperature 1, mean of lite's two views), as RISE tracks the class probability. It is not the
lite cosine: lite's concept block is the L2-*normalised* class distribution, so for a label spread over k concepts
a flat (uncertain) distribution scores a higher cosine than a confident correct one (``sqrt(k/1000)`` against
``1/sqrt(k)`` for k > 31), and deleting the evidence could raise the cosine. Other encoders have no class
probability without a label set; their curves track the cosine ``classify`` ranks by, and the report says so.

Baselines, same curves with a random order: ``blobs``, a random map as smooth as the heatmap (uniform noise on a
coarse grid, upsampled bilinearly: contiguous regions, placed at random) -- the like-for-like baseline; ``cells``,
a random order of 16-px cells, scattered over the whole image, kept for comparison with the earlier figures
(scattered grey cells wreck the image for a CNN faster than one removed region, which favours it on deletion).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageFilter

STEPS = 9
BLOB_GRID = 20  # cells of the random smooth map along the long side (the fused lite heatmap's grid is 40)

ScoreFn = Callable[[Sequence[Image.Image]], np.ndarray]


def order_masks(order: np.ndarray, shape: tuple[int, int], steps: int = STEPS) -> list[np.ndarray]:
    """Boolean masks ``(H, W)`` covering the first 0, 1/(steps-1), ..., all of the pixels in ``order`` (flat
    indices, most important first)."""
    n = order.size
    masks = []
    for k in range(steps):
        m = np.zeros(n, bool)
        m[order[: round(n * k / (steps - 1))]] = True
        masks.append(m.reshape(shape))
    return masks


def heat_order(heatmap: np.ndarray) -> np.ndarray:
    """Flat pixel indices, hottest first (ties in raster order)."""
    return np.argsort(-heatmap, axis=None, kind="stable")


def random_order(shape: tuple[int, int], cell: int, rng: np.random.Generator) -> np.ndarray:
    """Pixels ordered by a random ranking of ``cell`` x ``cell`` blocks (the ``cells`` baseline)."""
    h, w = shape
    ranks = rng.permutation(((h + cell - 1) // cell) * ((w + cell - 1) // cell)).reshape((h + cell - 1) // cell, -1)
    per_pixel = np.kron(ranks, np.ones((cell, cell)))[:h, :w] + rng.random((h, w)) * 0.5
    return np.argsort(per_pixel, axis=None, kind="stable")


def blob_order(shape: tuple[int, int], rng: np.random.Generator, grid: int = BLOB_GRID) -> np.ndarray:
    """Pixels ordered by a random smooth map: uniform noise on a grid of ``grid`` cells along the long side,
    bilinearly upsampled (the ``blobs`` baseline)."""
    h, w = shape
    gh, gw = (max(2, round(grid * h / w)), grid) if w >= h else (grid, max(2, round(grid * w / h)))
    noise = rng.random((gh, gw)).astype(np.float32)
    smooth = np.asarray(Image.fromarray(noise, mode="F").resize((w, h), Image.BILINEAR), np.float32)
    return heat_order(smooth)


def auc(curve: np.ndarray) -> float:
    """Trapezoid area under a curve sampled at equal steps over ``[0, 1]``."""
    c = np.asarray(curve, np.float64)
    return float((c.sum() - (c[0] + c[-1]) / 2) / (c.size - 1))


def curves(score: ScoreFn, image: Image.Image, order: np.ndarray, steps: int = STEPS) -> tuple[np.ndarray, np.ndarray]:
    """The deletion and the insertion curve (``steps`` scores each) for pixels removed/revealed in ``order``."""
    arr = np.asarray(image.convert("RGB"), np.float32)
    grey = np.full_like(arr, 127.0)
    blur = image.convert("RGB").filter(ImageFilter.GaussianBlur(max(2, min(image.size) // 20)))
    blurred = np.asarray(blur, np.float32)
    frames = []
    for m in order_masks(order, arr.shape[:2], steps):
        frames.append(np.where(m[..., None], grey, arr))
        frames.append(np.where(m[..., None], arr, blurred))
    s = np.asarray(score([Image.fromarray(np.clip(f, 0, 255).astype(np.uint8)) for f in frames]), np.float64)
    return s[0::2], s[1::2]


def label_scorer(encoder, target: np.ndarray) -> tuple[str, ScoreFn]:
    """What the curves track for ``target`` (a unit row of ``encoder``'s space) and a function of images to it.

    lite: ``sum_c w_c p_c`` with ``p`` the classifier's softmax (mean over its two views) and ``w = q / max q``
    for the target's concept block ``q``: the probability of the label's concepts when the target is a set of
    concepts (``w`` is then 0/1), a weighted share of it for a text target. Others: the cosine with ``target``."""
    t = np.asarray(target, np.float32)
    views = getattr(encoder, "classify_views", None)
    if encoder.info.family == "lite" and views is not None:
        q = t[: encoder.num_concepts].astype(np.float64)
        w = q / q.max() if q.max() > 0 else q

        def probability(images):
            logits = np.asarray(views(list(images))[0], np.float64)  # (views, n, concepts)
            z = np.exp(logits - logits.max(axis=-1, keepdims=True))
            p = z / z.sum(axis=-1, keepdims=True)
            return (p @ w).mean(axis=0)

        return "probability of the label's ImageNet concepts (classifier softmax, mean of 2 views)", probability
    return "cosine with the label's embedding", lambda images: encoder.embed_images(list(images)) @ t


def trial_auc(score: ScoreFn, image: Image.Image, heatmap: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    """Deletion and insertion AUC of the heatmap's order and of the two random baselines, for one trial."""
    orders = {
        "heat": heat_order(heatmap),
        "blobs": blob_order(heatmap.shape, rng),
        "cells": random_order(heatmap.shape, 16, rng),
    }
    out = {}
    for name, order in orders.items():
        deletion, insertion = curves(score, image, order)
        out[f"del_{name}"], out[f"ins_{name}"] = auc(deletion), auc(insertion)
    return out
