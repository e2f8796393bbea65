"""Presence and counts of the 80 COCO categories from the packaged object detector (issue 14, items 3-4): the
lite answerer's evidence for "Is there a dog?", "How many people are there?", "How many cups?".

- **Presence** of a noun the detector names (:func:`multimodal.detect.coco_names.coco_category`: "dogs",
  "a wine glass", "sofa"): the strongest detection of that category and how many pass the count threshold,
  fused with the ImageNet-concept evidence for the same noun where WordNet has concepts under it (the detector
  alone calls scikit-image's cat a dog), give the signals of the fitted ``presence:object`` model; "no"
  follows the calibration's rule for negative answers.
- **Counts**: the detections of the category scoring at least :data:`COUNT_THRESHOLD` (people) or
  :data:`OBJECT_COUNT_THRESHOLD` (other categories). The raw confidence is the probability that the count is
  exact if each detection were real independently with probability P(real | score)
  (``prod(p for kept) * prod(1 - p for dropped)``). P(real | score) is the detector's score calibration
  (``multimodal/detect/score_calibration.json``: the share of detections at that score that match a true box,
  fitted on coco128 train by ``python -m eval.detect_eval --split train --fit-scores``). The isotonic maps of
  ``count:people:detector`` and ``count:object`` (and their ``:zero`` keys) turn it into the share of counts
  that were right on the fit split.

Thresholds were chosen by the coco128 **train** split's exact-count accuracy (``python -m eval.detect_eval
--split train`` prints it per threshold). Development note: the scratch sweep that chose them also printed val,
where the best would have been 0.25 (people) and 0.2 (others); the train choice was kept. The detector was
trained on COCO 2017 train, which holds the coco128 train images (fitted maps may be slightly optimistic);
coco128 val (COCO 2017 val) was not part of its training.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

from multimodal.ask.calibration import Calibration, PiecewiseMap
from multimodal.ask.facts.concepts import load_concepts
from multimodal.ask.lite_draft import Draft
from multimodal.detect.base import Detection
from multimodal.detect.centernet import SCORES
from multimodal.detect.coco_names import COCO_NAMES, coco_category
from multimodal.errors import ConfigError

PERSON = COCO_NAMES.index("person")
COUNT_THRESHOLD = 0.35  # people (train: exact 0.826 of 115 questions)
OBJECT_COUNT_THRESHOLD = 0.15  # other categories (train: exact 0.284 of 74 questions, all counts >= 2)
MIN_CONSIDERED = 0.05  # weaker peaks are ignored by the exactness estimate
GROUPS = ("person", "object")
#: the presence:object model's inputs (its drafts carry more: the concept route's signals, for its model)
OBJECT_FEATURES = ("det_max", "det_n", "has_concept", "concept_log_mass")


def _of(dets: list[Detection], category: int) -> list[Detection]:
    return [d for d in dets if d.category == category]


def signals(dets: list[Detection], category: int, threshold: float) -> dict[str, float]:
    """``det_max``: the best score of ``category``; ``det_n``: detections at or above ``threshold``."""
    mine = _of(dets, category)
    best = max((d.score for d in mine), default=0.0)
    return {"det_max": best, "det_n": float(sum(d.score >= threshold for d in mine))}


@functools.cache
def score_maps(path: Path = SCORES) -> dict[str, PiecewiseMap]:
    """The detector's P(real | score) maps (``person``, ``object``); empty when the file is absent (then
    P = score)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: PiecewiseMap(tuple(data[k]["xs"]), tuple(data[k]["ys"]), int(data[k]["n"])) for k in GROUPS}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: cannot read the detector's score calibration ({exc}); reinstall sceneqa") from exc


def exact_count_probability(scores: list[float], threshold: float, group: str = "person") -> float:
    """P(the count of scores >= ``threshold`` is exact) if each detection is real, independently, with
    P(real | score) (``group``: ``person`` or ``object``)."""
    real = score_maps().get(group)
    logp = 0.0
    for s in scores:
        if s < MIN_CONSIDERED:
            continue
        p = min(max(real(s) if real is not None else s, 1e-4), 1 - 1e-4)
        logp += math.log(p if s >= threshold else 1.0 - p)
    return math.exp(logp)


def _box(d: Detection) -> tuple[int, int, int, int]:
    return tuple(int(round(v)) for v in d.box)  # type: ignore[return-value]


def _cite(f, label: str, mine: list[Detection], threshold: float):
    kept = [d for d in mine if d.score >= threshold]
    best = max((d.score for d in mine), default=0.0)
    text = (
        f"object detector (CenterNet, COCO): {len(kept)} '{label}' at score >= {threshold:.2f}"
        + (f", best {best:.2f}" if mine else ", none found")
        + (f"; scores {', '.join(f'{d.score:.2f}' for d in mine[:8])}" if mine else "")
    )
    return f.cite(f"objects:{label}", text, best, boxes=tuple(_box(d) for d in kept[:20]))


def person_cite(f):
    """The detector's people in one image, as evidence (boxes of those counted)."""
    return _cite(f, "person", _of(f.detections, PERSON), COUNT_THRESHOLD)


def _concept_signals(facts, subject: str) -> dict[str, float]:
    """The ImageNet-concept evidence for the same noun where WordNet has concepts under it (dog, car, cup):
    ``has_concept`` 1 and the best region's log mass (plus the concept route's signals); else both 0 (person,
    dining table, ...)."""
    hit = load_concepts().lookup(subject)
    found = [f.concept(hit[1]) for f in facts] if hit is not None else []
    found = [sig for sig in found if sig is not None]
    if not found:
        return {"has_concept": 0.0, "concept_log_mass": 0.0}
    best = max(found, key=lambda sig: sig.values["log_mass_best_region"])
    # the concept route's own signals ride along, so that its model is fitted on these questions too
    return {**best.values, "has_concept": 1.0, "concept_log_mass": best.values["log_mass_best_region"]}


def object_presence(facts, subject: str, calibration: Calibration) -> Draft | None:
    """Presence of a noun the detector names; ``None`` for other nouns or without a detector."""
    category = coco_category(subject)
    if category is None or not facts or any(f.detections is None for f in facts):
        return None
    label = COCO_NAMES[category]
    per_image = [(f, _of(f.detections, category)) for f in facts]
    cites = tuple(_cite(f, label, mine, OBJECT_COUNT_THRESHOLD) for f, mine in per_image)
    sig = max((signals(f.detections, category, OBJECT_COUNT_THRESHOLD) for f in facts), key=lambda s: s["det_max"])
    sig = {**sig, **_concept_signals(facts, subject)}
    p = calibration.probability("presence:object", sig)
    if p is None:  # no fitted model (a fitting run): the raw best score
        m = sig["det_max"]
        text, raw = ("yes", m) if m >= 0.3 else ("no", 1.0 - m)
        return Draft(text, raw, cites, f"'{label}' best detection {m:.2f}", f"presence:object:{text}", sig)
    if p >= 0.5:
        detail = f"'{subject}' is likely in the image (P = {p:.2f}; detector '{label}' best {sig['det_max']:.2f})"
        return Draft("yes", p, cites, detail, "presence:object:yes", sig, calibrated=True)
    detail = f"'{subject}' is unlikely in the image (P = {p:.2f}; detector '{label}' best {sig['det_max']:.2f})"
    return Draft("no", 1.0 - p, cites, detail, "presence:object:no", sig, calibrated=True)


def count_detected(facts, category: int, *, noun: str) -> Draft | None:
    """How many of ``category`` (people or any other COCO category) over the images; ``None`` without a
    detector."""
    if not facts or any(f.detections is None for f in facts):
        return None
    people = category == PERSON
    threshold = COUNT_THRESHOLD if people else OBJECT_COUNT_THRESHOLD
    label = COCO_NAMES[category]
    per_image = [(f, _of(f.detections, category)) for f in facts]
    n = sum(sum(d.score >= threshold for d in mine) for _, mine in per_image)
    scores = [d.score for _, mine in per_image for d in mine]
    raw = exact_count_probability(scores, threshold, "person" if people else "object")
    cites = tuple(_cite(f, label, mine, threshold) for f, mine in per_image)
    key = "count:people:detector" if people else "count:object"
    sig = {"det_n": float(n), "exact_p": raw}
    detail = f"{n} '{label}' detected at score >= {threshold:.2f} (P(count exact) estimate {raw:.2f})"
    if n == 0:
        return Draft("0", raw, cites, f"no '{noun}' detected: {detail}", f"{key}:zero", sig)
    return Draft(str(n), raw, cites, detail, key, sig)
