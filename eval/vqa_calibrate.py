"""Fitting the lite answerer's confidence calibration (:mod:`multimodal.ask.calibration`) from the predictions of
``sceneqa eval vqa --fit-calibration OUT.json`` on a fit split, answered without abstention (raw confidences).

Presence models first (:data:`PRESENCE_MODELS`): a logistic regression (scikit-learn, C=1) of whether the thing
asked about is in the image on the signals its route measured (WordNet concept mass over regions; for people also
the faces), from the yes/no presence questions (people: also the people count questions, one sample per image).
Then one isotonic regression per route key (``IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)``) of the
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
from multimodal.ask.calibration import Calibration, LogisticModel, PiecewiseMap
from multimodal.ask.facts.regions import SIGNALS
from multimodal.ask.lite_objects import OBJECT_FEATURES

MIN_SAMPLES = 20
#: presence model -> the route keys (prefixes) whose predictions carry its signals
PRESENCE_MODELS = {
    # nouns the detector names are answered by presence:object, whose drafts also carry the concept signals
    "presence:concept": ("presence:concept:", "presence:object:"),
    "presence:object": ("presence:object:",),
    "presence:people": ("presence:people:", "count:people"),
}


def _present(p: Prediction) -> bool | None:
    """Whether the thing asked about is in the image, from the reference (presence: yes; count: not 0)."""
    ref = p.reference[0].strip().lower() if p.reference else ""
    if p.kind in ("present", "presence"):
        return ref == "yes" if ref in ("yes", "no") else None
    if p.kind == "count":
        return ref != "0" if ref.isdigit() else None
    return None


FEATURES = {"presence:concept": SIGNALS, "presence:object": OBJECT_FEATURES}


def _features(name: str, preds, prefixes, samples) -> tuple[str, ...]:
    """The model's features: declared ones (:data:`FEATURES`; ``presence:object`` drafts also carry the concept
    signals where the noun has concepts), else the signals of the presence route's own drafts (other routes'
    drafts may carry more, or fewer: samples lacking one are left out)."""
    if name in FEATURES:
        return FEATURES[name]
    own = [p.signals for p in preds if p.signals and p.route.startswith(prefixes[0])]
    return tuple(own[0] if own else samples[0][0])


def fit_presence_models(preds: list[Prediction], min_samples: int = MIN_SAMPLES) -> dict[str, LogisticModel]:
    """One logistic model per :data:`PRESENCE_MODELS` entry with >= ``min_samples`` labelled samples of both
    classes; samples of one image and model count once (a person presence and a people count question)."""
    linear = require("sklearn.linear_model", purpose="--fit-calibration").LogisticRegression
    models = {}
    for name, prefixes in PRESENCE_MODELS.items():
        seen: dict[tuple[str, str], tuple[dict[str, float], bool]] = {}
        for p in preds:
            label = _present(p)
            if p.signals and label is not None and p.route.startswith(prefixes) and not p.error:
                per_category = name in ("presence:concept", "presence:object")
                seen.setdefault((p.path, p.category if per_category else ""), (p.signals, label))
        samples = list(seen.values())
        labels = [y for _, y in samples]
        if len(samples) < min_samples or all(labels) or not any(labels):
            continue
        features = _features(name, preds, prefixes, samples)
        samples = [(s, y) for s, y in samples if all(f in s for f in features)]
        labels = [y for _, y in samples]
        if len(samples) < min_samples or all(labels) or not any(labels):
            continue
        x = np.array([[s.get(f, 0.0) for f in features] for s, _ in samples], np.float64)
        fit = linear(C=1.0, max_iter=1000).fit(x, np.array(labels, bool))
        coef = tuple(round(float(c), 6) for c in fit.coef_[0])
        models[name] = LogisticModel(features, coef, round(float(fit.intercept_[0]), 6), len(samples))
    return models


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
    cal = fit_calibration(samples, provenance)
    models = fit_presence_models(preds)
    prov = {
        **cal.provenance,
        "models_method": "sklearn LogisticRegression(C=1) on the route's signals, label: the "
        "thing asked about is in the image (presence reference 'yes'; people count reference not '0')",
    }
    return Calibration(cal.maps, prov, models=models)
