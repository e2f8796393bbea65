"""The explain use cases over plain inputs: heatmaps for several targets (capped), boxes for a phrase, and the
overlay files ``classify --explain DIR`` writes. Callers pass a built explainer and the label embeddings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.errors import ConfigError
from multimodal.explain.base import ExplainConfig, Explainer, Explanation
from multimodal.explain.boxes import Box, boxes_from_heatmap, describe
from multimodal.explain.linear import LinearTarget
from multimodal.explain.render import overlay
from multimodal.explain.where import WhereConfig, detector_boxes, phrase_category


@dataclass(frozen=True)
class Located:
    """``boxes`` (best first, image pixels) for ``phrase`` in an image of ``size`` ``(width, height)``,
    ``description`` of the first box in words (or why there is none), and which ``method`` found them:
    ``"detector"`` (the COCO object detector; ``source`` names its category) or ``"heatmap"`` (boxes around the
    hot regions of ``explanation``; ``source`` is the heatmap method). ``explanation`` is ``None`` when the
    detector answered (no heatmap is made then)."""

    phrase: str
    boxes: tuple[Box, ...]
    description: str
    method: str
    source: str
    size: tuple[int, int]
    explanation: Explanation | None = None

    def as_dict(self) -> dict[str, object]:
        e = self.explanation
        return {
            "phrase": self.phrase,
            "method": self.method,
            "source": self.source,
            "boxes": [b.as_dict() | {"where": describe(b, self.size)} for b in self.boxes],
            "description": self.description,
            "flat": bool(e and e.flat),
            "reason": e.reason if e else None,
            "score": round(e.score, 6) if e else None,
            "notes": list(e.notes) if e else [],
        }


def capped(n: int, config: ExplainConfig, what: str) -> tuple[int, str | None]:
    """How many of ``n`` requested explanations to make, and a note when the cap cuts the request."""
    keep = min(n, config.max_explanations)
    if keep < n:
        return (
            keep,
            f"explained {keep} of {n} {what}: at most {config.max_explanations} per request "
            "(each costs a backward pass)",
        )
    return keep, None


def explain_targets(
    explainer: Explainer,
    image: Image.Image,
    targets: np.ndarray | Sequence[LinearTarget],
    config: ExplainConfig = ExplainConfig(),
) -> tuple[list[Explanation], str | None]:
    """Heatmaps of ``image`` for the first ``config.max_explanations`` targets: rows of ``(n, dim)`` (labels'
    or queries' embeddings) or a label set's :class:`~multimodal.explain.linear.LinearTarget` s; and the cap
    note (``None`` when all were made). The image is prepared once."""
    if isinstance(targets, (list, tuple)) and targets and isinstance(targets[0], LinearTarget):
        rows: Sequence = list(targets)
    else:
        rows = list(np.atleast_2d(np.asarray(targets, np.float32)))
    keep, note = capped(len(rows), config, "targets")
    prepared = explainer.prepare(image)
    return [explainer.explain(prepared, rows[i]) for i in range(keep)], note


def locate(
    explainer: Explainer,
    image: Image.Image,
    phrase: str,
    target: np.ndarray,
    config: ExplainConfig = ExplainConfig(),
    detector=None,
    where: WhereConfig = WhereConfig(),
) -> Located:
    """Boxes where ``image`` shows what ``phrase`` names: the ``detector``'s (an
    :class:`~multimodal.detect.base.ObjectDetector`, or ``None``) when the phrase names a COCO category and it finds
    one at ``where.min_detector_score`` or more, else from the heatmap of ``target`` (the phrase's embedding)."""
    category = phrase_category(phrase) if detector is not None and where.use_detector else None
    if category is not None:
        found = detector_boxes(
            detector.detect(image),
            category,
            image.size,
            min_score=where.min_detector_score,
            max_boxes=config.max_boxes,
        )
        if found:
            from multimodal.detect.coco_names import COCO_NAMES

            source = f"object detector (CenterNet, COCO): {COCO_NAMES[category]}"
            return Located(phrase, tuple(found), describe(found[0], image.size), "detector", source, image.size)
    return heatmap_locate(explainer.explain(explainer.prepare(image), target), phrase, config)


def boxes_of(exp: Explanation, config: ExplainConfig = ExplainConfig()) -> list[Box]:
    """The boxes of an explanation's heatmap at ``config.box_threshold`` (``None``: the method's own)."""
    threshold = config.box_threshold if config.box_threshold is not None else exp.box_threshold
    return boxes_from_heatmap(
        exp.heatmap, threshold=threshold, min_area=config.min_box_area, max_boxes=config.max_boxes
    )


def heatmap_locate(exp: Explanation, phrase: str, config: ExplainConfig = ExplainConfig()) -> Located:
    """Boxes around the hot regions of an explanation of ``phrase``; none for a flat map (the reason said)."""
    size = (exp.heatmap.shape[1], exp.heatmap.shape[0])
    if exp.flat:
        return Located(phrase, (), f"not found: {exp.reason}", "heatmap", exp.method, size, exp)
    boxes = boxes_of(exp, config)
    description = describe(boxes[0], size) if boxes else "not found"
    return Located(phrase, tuple(boxes), description, "heatmap", exp.method, size, exp)


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe form of a label: ``"a cup of coffee"`` -> ``"a-cup-of-coffee"``."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")
    return s or "label"


def write_overlays(
    image: Image.Image,
    name: str,
    labels: Sequence[str],
    explanations: Sequence[Explanation],
    out_dir: Path,
    config: ExplainConfig = ExplainConfig(),
) -> list[Path]:
    """One PNG overlay per explained label, ``OUT/<image stem>__<label>.png``, boxes drawn; returns the paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--explain {out_dir}: cannot create the folder ({exc}); pass a writable folder") from exc
    stem = slug(Path(name).stem, 60)
    paths: list[Path] = []
    for label, exp in zip(labels, explanations):
        boxes = boxes_of(exp, config)
        path = out_dir / f"{stem}__{slug(label)}.png"
        n = 1
        while path in paths:  # two labels with one file name ("a cat", "a-cat"): neither overwrites the other
            n += 1
            path = out_dir / f"{stem}__{slug(label)}-{n}.png"
        overlay(image, exp.heatmap, boxes).save(path, format="PNG")
        paths.append(path)
    return paths


def captioned(
    image: Image.Image, label: str, exp: Explanation, config: ExplainConfig = ExplainConfig(), max_side: int = 768
) -> tuple[Image.Image, str]:
    """``(overlay, caption)`` for a gallery: the heatmap and its boxes on ``image``, shrunk to ``max_side`` pixels
    a side (drawn at full size, so boxes stay where they were found), and where the map is hottest in image
    pixels, or why it is flat."""
    boxes = boxes_of(exp, config)
    picture = overlay(image, exp.heatmap, boxes)
    picture.thumbnail((max_side, max_side))
    if exp.flat:
        return picture, f"{label}: flat heatmap ({exp.reason})"
    return picture, f"{label}: {describe(boxes[0], image.size)}" if boxes else f"{label}: no region stands out"
