"""Fitting an inspector from good images: patch features, a memory bank, a threshold.

With at least :data:`MIN_HELD_BACK` images held back (``holdout`` share), the held-back images are scored
against a bank of the others. With fewer good images (few-shot), every image is scored by cross-fitting
instead: ``k`` folds, each scored against a bank of the others. These scores of images outside the bank set
the calibration (:mod:`multimodal.inspect.calibrate`). The final bank then holds every good image: a bank
with more good patches scores good images a little lower, so the threshold errs towards fewer false alarms
(``eval anomaly`` measures the rate on unseen good images).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from multimodal.inspect.backbone import PatchBackbone
from multimodal.inspect.bank import BankSearch, build_bank
from multimodal.inspect.calibrate import fit_calibration
from multimodal.inspect.config import FitConfig
from multimodal.inspect.errors import InspectorError
from multimodal.inspect.features import extract, input_shape
from multimodal.inspect.inspector import FitReport, InspectorState, image_scores

MIN_HELD_BACK = 8
MAX_FOLDS = 5

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def fit_inspector(
    name: str,
    backbone: PatchBackbone,
    images: Sequence[Image.Image],
    config: FitConfig = FitConfig(),
    *,
    skipped: Sequence[str] = (),
    progress: Progress | None = None,
    batch_size: int = 8,
) -> InspectorState:
    """An inspector fitted on RGB ``images`` of good parts (at least 2; sizes may differ: all are resized to
    one input shape from ``config.image_size`` and their median aspect ratio). ``skipped`` lists inputs the
    caller could not read (``where: reason``), kept in the report."""
    n = len(images)
    if n < 2:
        raise InspectorError(
            f"inspector {name!r} needs at least 2 good images (a bank and a threshold), got {n}"
            + (f" ({len(skipped)} unreadable)" if skipped else "")
            + "; give a folder or catalog with more normal images (20 or more recommended)"
        )
    config = config.for_backbone(backbone.default_layers, backbone.default_descriptor)
    backbone.info.check_layers(config.blocks)
    t0 = time.perf_counter()
    shape = input_shape([im.size for im in images], config.image_size)
    feats, descs = _extract_all(backbone, images, shape, config, progress, batch_size)
    seconds = {"features": time.perf_counter() - t0}
    order = np.random.default_rng(config.seed).permutation(n)
    n_hold = int(round(config.holdout * n))
    t1 = time.perf_counter()
    if n_hold >= MIN_HELD_BACK and n - n_hold >= 1:
        scores = _fold_scores(feats, descs, np.sort(order[:n_hold]), config)
        method = f"{n_hold} held-back images scored against a bank of the other {n - n_hold}"
    else:
        folds = np.array_split(order, min(n, MAX_FOLDS))
        scores = np.concatenate([_fold_scores(feats, descs, f, config) for f in folds])
        method = f"{len(folds)}-fold cross-fitting over all {n} images (fewer than {MIN_HELD_BACK} to hold back)"
    seconds["threshold"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    bank = build_bank(feats, descs, config)
    seconds["bank"] = time.perf_counter() - t2
    report = FitReport(
        images_used=n,
        bank_images=n,
        held_back=len(scores),
        threshold_method=method,
        patches=int(n * feats.shape[1] * feats.shape[2]),
        bank_size=bank.size,
        skipped=tuple(skipped),
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )
    calibration = fit_calibration(scores, config.false_alarm, config.threshold)
    return InspectorState(name, backbone.info, config, shape, bank, calibration, report)


def _extract_all(backbone, images, shape, config: FitConfig, progress: Progress | None, batch_size: int):
    feats, descs = [], []
    for lo in range(0, len(images), batch_size):
        f, d = extract(backbone, images[lo : lo + batch_size], shape, config, batch_size)
        feats.append(f)
        descs.append(d)
        if progress is not None:
            progress("features", min(lo + batch_size, len(images)), len(images))
    return np.concatenate(feats), np.concatenate(descs)


def _fold_scores(feats: np.ndarray, descs: np.ndarray, fold: np.ndarray, config: FitConfig) -> np.ndarray:
    """Image scores of the ``fold`` images against a bank of all the others."""
    rest = np.setdiff1d(np.arange(len(feats)), fold)
    search = BankSearch(build_bank(feats[rest], descs[rest], config))
    return image_scores(
        search.patch_scores(feats[fold], descs[fold], config.nearest_images, config.neighbours), config.border
    )
