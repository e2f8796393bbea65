"""Ranking metrics of anomaly scores: image AUROC and ROC points, and a streaming pixel AUROC."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def auroc(scores: np.ndarray, defective: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half); NaN when a class is empty."""
    s, y = np.asarray(scores, np.float64), np.asarray(defective, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_points(scores: np.ndarray, defective: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold (descending), from (0, 0) to (1, 1)."""
    s, y = np.asarray(scores, np.float64), np.asarray(defective, bool)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last = np.r_[np.diff(s) != 0, True]  # the last index of each distinct score
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    tpr = np.r_[0.0, tp / max(1, y.sum())]
    fpr = np.r_[0.0, fp / max(1, (~y).sum())]
    return fpr, tpr


class PixelAuroc:
    """Pixel AUROC accumulated image by image in a fixed histogram (``bins`` equal bins on ``[0, top]``,
    higher values in the last one): exact up to ties inside one bin, memory independent of the pixel count."""

    def __init__(self, top: float, bins: int = 1 << 16) -> None:
        self.top, self.bins = float(top), bins
        self.pos = np.zeros(bins, np.int64)
        self.neg = np.zeros(bins, np.int64)

    def add(self, heat: np.ndarray, mask: np.ndarray | None) -> None:
        """``heat`` ``(H, W)``; ``mask`` bool of the same shape (``None``: no defective pixel)."""
        idx = np.clip((heat.ravel() / self.top * self.bins).astype(np.int64), 0, self.bins - 1)
        if mask is None:
            self.neg += np.bincount(idx, minlength=self.bins)
            return
        m = mask.ravel()
        self.pos += np.bincount(idx[m], minlength=self.bins)
        self.neg += np.bincount(idx[~m], minlength=self.bins)

    def merge_negatives(self, other: PixelAuroc) -> None:
        self.neg += other.neg

    def value(self) -> float:
        n_pos, n_neg = self.pos.sum(), self.neg.sum()
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        below = np.cumsum(self.neg) - self.neg  # negatives in lower bins
        wins = (self.pos * below).sum() + 0.5 * (self.pos * self.neg).sum()
        return float(wins / (n_pos * n_neg))
