"""Where-questions for the lite answerer (issue 17, item 2): "where is the cat?" -> "left half, around
x=120..300, y=80..260", cited as ``image:N#box:cat`` with the boxes, so the Ask tab draws them.

- When the subject names one of the 80 COCO categories (:func:`multimodal.detect.coco_names.coco_category`;
  "the red car" -> car: the detector knows no colours, the detail says which category answered) and the packaged
  detector finds it at :data:`~multimodal.explain.where.MIN_DETECTOR_SCORE` or more, its best box answers (the
  image with the best one, when there are several). The confidence is the detector's P(real | score) for that
  box (:func:`multimodal.ask.lite_objects.score_maps`, fitted on coco128 train; the raw score where the file is
  absent): the probability that a detection at that score matches a true object, i.e. that the object is where
  the answer says. Route key ``where:detector`` (no map in the calibration table: the value is used as it is).
- Otherwise the phrase's heatmap (:mod:`multimodal.explain`) gives the hottest region as *weak evidence* and the
  answer abstains (route ``where:heatmap``): heatmap boxes follow the evidence, not the object's extent (their
  mean best IoU on coco128 val is 0.26, README "Explain"), and no measured confidence stands behind them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from multimodal.ask.answers import ABSTAIN_TEXT
from multimodal.ask.lite_draft import Draft
from multimodal.ask.lite_objects import PERSON, score_maps
from multimodal.detect.coco_names import COCO_NAMES, coco_category
from multimodal.errors import ConfigError

if TYPE_CHECKING:
    from multimodal.explain.boxes import Box

# multimodal.explain is imported inside the functions: only a where-question loads it, so ask without --explain
# and without a where-question imports none of it (tests/test_bench_explain_imports.py)

MAX_BOXES = 3  # boxes cited per answer (the best first)


def where_answer(facts, subject: str) -> Draft | None:
    """Where ``subject`` is in the images (``facts``: one :class:`~multimodal.ask.scene_facts.SceneFacts` per
    image); ``None`` without images or a subject, or when no heatmap can be made for it either."""
    from multimodal.explain.where import MIN_DETECTOR_SCORE

    if not facts or not subject:
        return None
    category = coco_category(subject)
    searched = category is not None and all(f.detections is not None for f in facts)
    if searched:
        draft = _by_detector(facts, category, subject)
        if draft is not None:
            return draft
    missed = (
        f"the object detector found no '{COCO_NAMES[category]}' at score >= {MIN_DETECTOR_SCORE}" if searched else ""
    )
    return _by_heatmap(facts, subject, missed)


def p_real(score: float, category: int) -> float:
    """The detector's P(real | score) for a detection of ``category`` (the raw score without the fitted map)."""
    real = score_maps().get("person" if category == PERSON else "object")
    return float(real(score)) if real is not None else float(score)


def _tuple(b: Box) -> tuple[int, int, int, int]:
    return (b.x0, b.y0, b.x1, b.y1)


def _place(f, box: Box, many: bool) -> str:
    from multimodal.explain.boxes import describe

    where = describe(box, f.img.size)
    return f"image {f.n}: {where}" if many else where


def _by_detector(facts, category: int, subject: str) -> Draft | None:
    from multimodal.explain.boxes import describe
    from multimodal.explain.where import MIN_DETECTOR_SCORE, detector_boxes

    label = COCO_NAMES[category]
    found = [
        (f, detector_boxes(f.detections, category, f.img.size, min_score=MIN_DETECTOR_SCORE, max_boxes=MAX_BOXES))
        for f in facts
    ]
    found = [(f, boxes) for f, boxes in found if boxes]
    if not found:
        return None
    f, boxes = max(found, key=lambda fb: fb[1][0].score)
    best = boxes[0]
    p = p_real(best.score, category)
    many = len(facts) > 1
    text = _place(f, best, many)
    others = [f"{describe(b, f.img.size)} (score {b.score:.2f})" for b in boxes[1:]]
    evidence = (
        f"object detector (CenterNet, COCO): '{label}' at {describe(best, f.img.size)}, score {best.score:.2f}, "
        f"P(real | score) {p:.2f}" + (f"; also {'; '.join(others)}" if others else "")
    )
    cites = (f.cite(f"box:{label}", evidence, p, boxes=[_tuple(b) for b in boxes]),)
    named = "" if subject.strip().lower() in (label, label + "s") else f" (the detector names '{label}', not more)"
    detail = f"the detector's best '{label}'{named}: score {best.score:.2f}, P(real | score) {p:.2f}"
    if others:
        detail += f"; {len(others)} more: " + "; ".join(others)
    signals = {"det_max": best.score, "p_real": p, "boxes": float(sum(len(b) for _, b in found))}
    return Draft(text, p, cites, detail, "where:detector", signals)


def _by_heatmap(facts, subject: str, missed: str) -> Draft | None:
    """The hottest region of the subject's heatmap as weak evidence; the draft abstains (no confidence)."""
    from multimodal.explain.api import boxes_of
    from multimodal.explain.base import InvalidPhraseError, check_phrase
    from multimodal.explain.boxes import describe
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets

    tools = facts[0].tools
    try:
        phrase = check_phrase(subject)
        explainer = create_explainer(tools.zeroshot.encoder)
    except (InvalidPhraseError, ConfigError):
        return None  # no heatmap method for this encoder (or no usable phrase): nothing to say
    target = phrase_targets(tools.zeroshot.encoder, tools.zeroshot, [phrase])[0][0]
    made = [(f, explainer.explain(explainer.prepare(f.img), target)) for f in facts]
    shown = [(f, e, boxes_of(e)) for f, e in made if not e.flat]
    prefix = f"{missed}; " if missed else ""
    shown = [(f, e, boxes) for f, e, boxes in shown if boxes]
    if not shown:
        reasons = "; ".join(sorted({e.reason or "flat" for _, e in made}))
        return Draft(ABSTAIN_TEXT, 0.0, (), f"{prefix}the heatmap of '{phrase}' is flat: {reasons}", "where:heatmap")
    f, e, boxes = max(shown, key=lambda feb: feb[1].score)
    best = boxes[0]
    place = _place(f, best, len(facts) > 1)
    evidence = (
        f"heatmap ({e.method}) of '{phrase}': hottest at {describe(best, f.img.size)} (share {best.mass:.2f} of "
        "the evidence); a heatmap points at evidence, not at the object's extent"
    )
    cite = f.cite(f"box:{phrase}", evidence, best.mass, boxes=[_tuple(best)])
    detail = (
        f"{prefix}weak evidence: the heatmap of '{phrase}' is hottest at {place}; heatmap boxes are not measured "
        "to locate objects, so no confidence is given"
    )
    return Draft(ABSTAIN_TEXT, 0.0, (cite,), detail, "where:heatmap", {"heat_score": e.score, "mass": best.mass})
