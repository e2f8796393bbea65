"""Fitting the lite answerer's confidence calibration (:mod:`multimodal.ask.calibration`) from the predictions of
``sceneqa eval vqa --fit-calibration OUT.json`` on a fit split, answered without abstention (raw confidences).

One isotonic regression per route key (``IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)``) of the
answer's VQA accuracy on its raw confidence; keys with fewer than :data:`MIN_SAMPLES` questions get no map (they
keep their raw value, and negative keys abstain: see the calibration module). Pure functions of plain data.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

from eval.requires import require
from eval.vqa_report import Prediction
from multimodal.ask.calibration import Calibration, PiecewiseMap

MIN_SAMPLES = 20


def fit_map(raw: Iterable[float], correct: Iterable[float]) -> PiecewiseMap:
    """The isotonic (non-decreasing) fit of ``correct`` (in [0, 1]) on ``raw``, as breakpoints."""
    isotonic = require("sklearn.isotonic", purpose="--fit-calibration").IsotonicRegression
    x = np.asarray(list(raw), np.float64)
    y = np.asarray(list(correct), np.float64)
    iso = isotonic(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(x, y)
    xs, ys = iso.X_thresholds_, np.clip(iso.y_thresholds_, 0.0, 1.0)
    return PiecewiseMap(tuple(round(float(v), 6) for v in xs), tuple(round(float(v), 6) for v in ys), len(x))


def fit_calibration(
    samples: Iterable[tuple[str, float, float]],
    provenance: Mapping[str, object],
    min_samples: int = MIN_SAMPLES,
) -> Calibration:
    """A :class:`Calibration` from ``(route key, raw confidence, correct in [0, 1])`` triples: one map per key with
    at least ``min_samples`` of them. The provenance gets the counts per key and the keys left without a map."""
    by_key: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key, raw, correct in samples:
        by_key[key].append((float(raw), float(correct)))
    maps = {k: fit_map(*zip(*v)) for k, v in sorted(by_key.items()) if len(v) >= min_samples}
    prov = {
        **provenance,
        "method": f"sklearn IsotonicRegression(out_of_bounds='clip', y_min=0, y_max=1) per route key, "
        f">= {min_samples} samples",
        "counts": {k: len(v) for k, v in sorted(by_key.items())},
        "accuracy": {k: round(float(np.mean([c for _, c in v])), 4) for k, v in sorted(by_key.items())},
        "unfitted": sorted(k for k, v in by_key.items() if len(v) < min_samples),
    }
    return Calibration(maps, prov)


def fit_from_predictions(preds: list[Prediction], data: str, split: str, models: Mapping[str, str]) -> Calibration:
    """:func:`fit_calibration` of the drafted answers of a run without abstention (errors and questions no route
    drafted are left out)."""
    samples = [(p.route, p.confidence, p.score) for p in preds if p.route and not p.error]
    provenance = {
        "fitted_on": f"{data} split {split}",
        "data": data,
        "split": split,
        "date": dt.date.today().isoformat(),
        "models": dict(models),
        "questions": len(preds),
        "target": "VQA accuracy of the answer given without abstention",
    }
    return fit_calibration(samples, provenance)
