"""Classification metrics as pure functions of arrays. Hand-checked in tests/test_eval_metrics.py."""

from __future__ import annotations

import numpy as np


def topk_accuracy(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Fraction of rows whose true class is among the ``k`` highest scores. ``scores`` is ``(n, C)``.

    Ties are resolved by a stable sort on descending score (lower class index first).
    """
    if len(truth) == 0:
        return float("nan")
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean([t in row for t, row in zip(truth, order)]))


def per_class_accuracy(pred: np.ndarray, truth: np.ndarray, n_classes: int) -> np.ndarray:
    """Recall of each class; NaN for classes with no true example."""
    out = np.full(n_classes, np.nan)
    for c in range(n_classes):
        mask = truth == c
        if mask.any():
            out[c] = float(np.mean(pred[mask] == c))
    return out


def macro_f1(pred: np.ndarray, truth: np.ndarray, n_classes: int) -> float:
    """Mean F1 over classes that occur in ``truth`` or ``pred`` (F1 = 0 when precision+recall = 0)."""
    f1s = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (truth == c))
        fp = np.sum((pred == c) & (truth != c))
        fn = np.sum((pred != c) & (truth == c))
        if tp + fp + fn == 0:
            continue
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else float("nan")


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Equal-width confidence bins in [0, 1]: count, mean confidence and accuracy of each (NaN if empty)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    count, conf, acc = [], [], []
    for b in range(bins):
        m = idx == b
        count.append(int(m.sum()))
        conf.append(float(confidence[m].mean()) if m.any() else float("nan"))
        acc.append(float(correct[m].mean()) if m.any() else float("nan"))
    return {"edges": edges.tolist(), "count": count, "confidence": conf, "accuracy": acc}


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Sum over bins of (bin share) * |accuracy - mean confidence|."""
    if len(confidence) == 0:
        return float("nan")
    rel = reliability(confidence, correct, bins)
    n = len(confidence)
    return float(sum(c / n * abs(a - f) for c, a, f in zip(rel["count"], rel["accuracy"], rel["confidence"]) if c))


def coverage_curve(
    confidence: np.ndarray, correct: np.ndarray, thresholds: np.ndarray | None = None
) -> dict[str, list[float]]:
    """Answering only when ``confidence >= t``: the share answered (coverage) and accuracy on it."""
    ts = np.linspace(0.0, 1.0, 21) if thresholds is None else thresholds
    cov, acc = [], []
    for t in ts:
        m = confidence >= t
        cov.append(float(m.mean()) if len(m) else float("nan"))
        acc.append(float(correct[m].mean()) if m.any() else float("nan"))
    return {"threshold": [float(t) for t in ts], "coverage": cov, "accuracy": acc}


def risk_coverage(confidence: np.ndarray, correct: np.ndarray, answered: np.ndarray) -> dict[str, list[float]]:
    """The risk-coverage curve of a system that may abstain: for each distinct confidence ``t`` of the answered
    items, highest first, answering only the answered items with ``confidence >= t`` gives ``coverage`` (their
    share of *all* items, abstentions included) and ``accuracy`` (mean ``correct`` over them). The last point is
    the system as run. ``correct`` may be fractional (VQA accuracy). Empty lists when nothing was answered."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, np.float64)
    answered = np.asarray(answered, bool)
    conf, corr = confidence[answered], correct[answered]
    if not len(conf):
        return {"threshold": [], "coverage": [], "accuracy": []}
    order = np.argsort(-conf, kind="stable")
    conf, hits = conf[order], np.cumsum(corr[order])
    last = np.r_[np.flatnonzero(np.diff(conf) != 0), len(conf) - 1]  # the last item of each distinct confidence
    counts = last + 1
    return {
        "threshold": conf[last].tolist(),
        "coverage": (counts / len(confidence)).tolist(),
        "accuracy": (hits[last] / counts).tolist(),
    }


def fit_temperature(logits: np.ndarray, truth: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The scale ``s`` minimising the NLL of ``softmax(s * logits)`` (temperature scaling), by grid search."""
    grid = np.geomspace(1.0, 1000.0, 121) if grid is None else grid
    best, best_nll = float(grid[0]), np.inf
    for s in grid:
        z = logits * s
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(truth)), truth].mean()
        if nll < best_nll:
            best, best_nll = float(s), nll
    return best


def fit_logistic_1d(x: np.ndarray, y: np.ndarray, iters: int = 100, ridge: float = 1e-3) -> tuple[float, float]:
    """Fit ``P(y=1) = sigmoid(slope * (x - center))`` (Newton's method on standardised ``x`` with a small
    ridge, so separable data gives a steep but finite slope). Returns ``(center, slope)``."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mu, sd = float(x.mean()), float(x.std()) or 1.0
    xs = (x - mu) / sd
    w, b = 0.0, 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(w * xs + b, -60, 60)))
        s = p * (1 - p)
        g = np.array([np.sum((p - y) * xs) + ridge * w, np.sum(p - y)])
        h = np.array([[np.sum(s * xs * xs) + ridge, np.sum(s * xs)], [np.sum(s * xs), np.sum(s) + 1e-9]])
        step = np.linalg.solve(h, g)
        w, b = w - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    slope = w / sd
    return float(mu - b * sd / w) if w else float("nan"), float(slope)


_NUMBERS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = {"a", "an", "the"}


def normalize_answer(text: str) -> str:
    """VQA-style normalisation: lowercase, punctuation dropped, number words to digits, articles removed."""
    import re

    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    return " ".join(_NUMBERS.get(w, w) for w in words if w not in _ARTICLES)


def vqa_accuracy(prediction: str, answers: list[str] | tuple[str, ...]) -> float:
    """VQA accuracy: ``min(1, matching human answers / 3)``; with a single reference answer, exact match."""
    pred = normalize_answer(prediction)
    refs = [normalize_answer(a) for a in answers]
    if len(refs) == 1:
        return float(pred == refs[0])
    return min(1.0, sum(pred == r for r in refs) / 3.0)


def first_relevant_ranks(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """For each query row, the 1-based rank of its best-ranked relevant item (``inf`` if none).
    ``scores`` and the boolean ``relevant`` are ``(queries, items)``; ties rank by item index."""
    order = np.argsort(-scores, axis=1, kind="stable")
    hit = np.take_along_axis(relevant, order, axis=1)
    ranks = np.full(len(scores), np.inf)
    has = hit.any(axis=1)
    ranks[has] = hit[has].argmax(axis=1) + 1
    return ranks


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Share of queries with a relevant item in the top ``k`` (from :func:`first_relevant_ranks`)."""
    return float(np.mean(ranks <= k)) if len(ranks) else float("nan")


def mean_average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Mean over queries (with at least one relevant item) of average precision over the full ranking."""
    order = np.argsort(-scores, axis=1, kind="stable")
    hit = np.take_along_axis(relevant, order, axis=1).astype(float)
    aps = []
    for row in hit:
        n_rel = row.sum()
        if n_rel == 0:
            continue
        precision = np.cumsum(row) / np.arange(1, len(row) + 1)
        aps.append(float((precision * row).sum() / n_rel))
    return float(np.mean(aps)) if aps else float("nan")
