"""``sceneqa eval anomaly``: fit an inspector on ``train/good`` only, inspect every test image, and report image
AUROC, pixel AUROC (when masks exist), F1 and false alarms at the threshold, per defect type and per defect
size, the few-shot figure (an inspector fitted on ``few_shot`` good images), fit and inspect times.

The fit split is ``train/good`` (bank and held-back threshold images); the report split is ``test/*``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from eval.anomaly_data import AnomalyData, TestImage
from eval.anomaly_metrics import PixelAuroc
from multimodal.images import DEFAULT_LIMITS, ImageLimits, load_image
from multimodal.inspect.backbone import PatchBackbone
from multimodal.inspect.config import FitConfig, VerdictConfig
from multimodal.inspect.fit import fit_inspector
from multimodal.inspect.inspector import Inspector

PIXEL_TOP = 4.0  # pixel histograms span [0, 4 x threshold]


@dataclass(frozen=True)
class EvalOptions:
    """``few_shot``: good images of the few-shot inspector (0: none); ``examples``: heatmap PNGs written;
    ``size_split``: defect area in mask pixels that separates small from large defects."""

    few_shot: int = 8
    examples: int = 6
    batch_size: int = 8
    size_split: int = 400
    limits: ImageLimits = DEFAULT_LIMITS


@dataclass
class Scored:
    """Per test image: score, verdict, probability, mask area (px, 0 without mask); pixel accumulators per
    group (``all``, a defect kind, ``small``/``large``); the few-shot scores; inspect seconds per batch."""

    items: list[TestImage]
    scores: list[float] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    mask_px: list[int] = field(default_factory=list)
    few_scores: list[float] = field(default_factory=list)
    pixels: dict[str, PixelAuroc] = field(default_factory=dict)
    few_pixels: dict[str, PixelAuroc] = field(default_factory=dict)
    seconds_per_image: list[float] = field(default_factory=list)


def fit_split(
    data: AnomalyData, backbone: PatchBackbone, config: FitConfig, options: EvalOptions
) -> tuple[Inspector, Inspector | None, float]:
    """The inspector fitted on all of ``train/good``, the few-shot one (seeded pick), and the fit seconds."""
    train = [load_image(p, limits=options.limits) for p in data.train]
    t0 = time.perf_counter()
    state = fit_inspector("eval", backbone, train, config)
    seconds = time.perf_counter() - t0
    few = None
    if options.few_shot:
        pick = np.random.default_rng(config.seed).choice(len(train), min(options.few_shot, len(train)), replace=False)
        few_state = fit_inspector("eval-few-shot", backbone, [train[i] for i in sorted(pick)], config)
        few = Inspector(few_state, backbone)
    return Inspector(state, backbone), few, seconds


def score_test(
    data: AnomalyData, inspector: Inspector, few: Inspector | None, verdict: VerdictConfig, options: EvalOptions
) -> Scored:
    """Inspect every test image in batches (the few-shot inspector reuses the forward pass when it can)."""
    out = Scored(items=list(data.test))
    for lo in range(0, len(data.test), options.batch_size):
        batch = data.test[lo : lo + options.batch_size]
        imgs = [load_image(t.path, limits=options.limits) for t in batch]
        t0 = time.perf_counter()
        feats, descs = inspector.features(imgs)
        results = [
            inspector.judge(im.size, str(t.path), g, verdict)
            for im, t, g in zip(imgs, batch, inspector.grids(feats, descs))
        ]
        out.seconds_per_image.append((time.perf_counter() - t0) / len(batch))
        masks = [_mask(t, im.size) for t, im in zip(batch, imgs)]
        for t, r, m in zip(batch, results, masks):
            out.scores.append(r.score)
            out.verdicts.append(r.verdict)
            out.probabilities.append(r.probability)
            out.mask_px.append(int(m.sum()) if m is not None else 0)
            _accumulate(out.pixels, t, r.heatmap, m, r.threshold, options.size_split)
        if few is not None:
            if few.state.shape != inspector.state.shape:
                feats, descs = few.features(imgs)
            for im, t, g, m in zip(imgs, batch, few.grids(feats, descs), masks):
                r = few.judge(im.size, str(t.path), g, verdict)
                out.few_scores.append(r.score)
                _accumulate(out.few_pixels, t, r.heatmap, m, r.threshold, options.size_split)
    return out


def _mask(item: TestImage, size: tuple[int, int]) -> np.ndarray | None:
    if item.mask is None:
        return None
    with Image.open(item.mask) as m:
        m = m.convert("L")
        if m.size != size:
            m = m.resize(size, Image.NEAREST)
        return np.asarray(m) > 0


def _accumulate(groups: dict[str, PixelAuroc], item: TestImage, heat, mask, threshold: float, split: int) -> None:
    if mask is None and item.defective:
        return  # a defective image without a mask says nothing about its pixels
    keys = ["all", "good"] if not item.defective else ["all", item.kind, "small" if mask.sum() < split else "large"]
    for key in keys:
        if key not in groups:
            groups[key] = PixelAuroc(PIXEL_TOP * threshold)
        groups[key].add(heat, mask)


def pixel_aurocs(groups: dict[str, PixelAuroc]) -> dict[str, float]:
    """Pixel AUROC per group; every group but ``all`` also counts the good images' pixels as negatives."""
    good = groups.get("good")
    out = {}
    for key, acc in groups.items():
        if key == "good":
            continue
        if key != "all" and good is not None:
            acc.merge_negatives(good)
        out[key] = acc.value()
    return out


def write_examples(
    out: Path, inspector: Inspector, scored: Scored, verdict: VerdictConfig, limits: ImageLimits, n: int
) -> list[str]:
    """Heatmap overlays of the highest-scoring good images, and the lowest- and highest-scoring defective
    ones (mask outlines in green); returns the written file names."""
    from skimage.segmentation import find_boundaries

    from multimodal.inspect.render import overlay

    s = np.array(scored.scores)
    bad = np.array([t.defective for t in scored.items])
    good_ids, bad_ids = np.where(~bad)[0], np.where(bad)[0]
    k = max(1, n // 3)
    picks = [*good_ids[np.argsort(-s[good_ids])][:k], *bad_ids[np.argsort(s[bad_ids])][:k]]
    picks += list(bad_ids[np.argsort(-s[bad_ids])][: max(0, n - len(picks))])
    names: list[str] = []
    (out / "examples").mkdir(parents=True, exist_ok=True)
    for i in picks:
        item = scored.items[i]
        img = load_image(item.path, limits=limits)
        r = inspector.inspect([img], [str(item.path)], verdict)[0]
        pic = np.asarray(overlay(img, r.heatmap, r.threshold, r.boxes)).copy()
        mask = _mask(item, img.size)
        if mask is not None:
            pic[find_boundaries(mask, mode="outer")] = (0, 255, 0)
        name = f"examples/{item.kind}-{item.path.stem}.png"
        Image.fromarray(pic).save(out / name)
        names.append(name)
    return names


def summarize_times(seconds: Sequence[float], batch_size: int) -> dict[str, float]:
    """Per-image inspect time (features, search, post-processing; decoding excluded) over batches."""
    ms = np.array(seconds) * 1e3
    if not len(ms):
        return {}
    return {"mean_ms": round(float(ms.mean()), 1), "p50_ms": round(float(np.median(ms)), 1), "batch": batch_size}
