"""The image regions behind an answer (``ask --explain DIR``): per image of the request, the boxes of the image
evidence the answer rests on (its citations, then its derived facts, a locator once: the detector's objects, the
people counted, the text lines read, a where-answer's box) drawn over the heatmap of the question's subject
("what colour is the car?" -> "car") when the question names one. An image with neither gets no overlay.
Pure except for the heatmap (one forward and backward pass per image, at most ``max_explanations`` images)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.ask.answers import Answer
from multimodal.errors import ConfigError
from multimodal.explain.api import capped, slug
from multimodal.explain.base import ExplainConfig, Explainer, Explanation
from multimodal.explain.boxes import Box
from multimodal.explain.render import overlay


@dataclass(frozen=True)
class AnswerWhy:
    """Image ``n`` (1-based, as cited: ``image:n#...``): its overlay ``picture``, the cited ``boxes`` drawn on it,
    the cited ``locators`` they come from, and the subject's ``explanation`` (``None`` without a subject)."""

    n: int
    picture: Image.Image
    boxes: tuple[Box, ...]
    locators: tuple[str, ...]
    explanation: Explanation | None

    def summary(self, subject: str | None) -> str:
        """One line: the cited boxes drawn, and the subject's heatmap (or why there is none, or why it is flat)."""
        e = self.explanation
        heat = f"heatmap of '{subject}'" if e is not None else "no heatmap (no subject)"
        if e is not None and e.flat:
            heat = f"flat heatmap of '{subject}': {e.reason}"
        cited = ", ".join(self.locators) or "none"
        return f"image {self.n}: {len(self.boxes)} cited boxes ({cited}); {heat}"

    def as_dict(self, subject: str | None) -> dict[str, object]:
        """The row as JSON (boxes in the image's pixels; the picture is the caller's to encode)."""
        e = self.explanation
        return {
            "image": self.n,
            "subject": subject if e is not None else None,
            "boxes": [b.as_dict() for b in self.boxes],
            "locators": list(self.locators),
            "method": e.method if e is not None else None,
            "flat": bool(e is not None and e.flat),
            "reason": e.reason if e is not None else None,
            "peak": list(e.peak) if e is not None and e.peak else None,
            "notes": list(e.notes) if e is not None else [],
            "summary": self.summary(subject),
        }


def cited_boxes(answer: Answer, n: int) -> tuple[list[Box], list[str]]:
    """The boxes of the evidence about image ``n`` that ``answer`` cites or derived (``score``: the evidence's),
    and the locators they come from, in evidence order, a locator once."""
    seen: set[str] = set()
    boxes, locators = [], []
    for e in (*answer.citations, *answer.derived):
        if e.locator in seen or not e.locator.startswith(f"image:{n}#") or not e.boxes:
            continue
        seen.add(e.locator)
        locators.append(e.locator)
        boxes.extend(Box(int(b[0]), int(b[1]), int(b[2]), int(b[3]), float(e.score), 0.0) for b in e.boxes)
    return boxes, locators


def answer_subject(question: str) -> str | None:
    """The thing the question asks about (its parsed ``subject``), ``None`` when it names none."""
    from multimodal.ask.questions import parse_question

    subject = parse_question(question).subject
    return subject or None


def answer_target(services, question: str) -> tuple[str | None, Explainer | None, np.ndarray | None, str | None]:
    """``(subject, explainer, target, problem)`` for the heatmap behind an answer: the question's subject (as
    ``locate`` aims a phrase) and the running encoder's explainer; all ``None`` but ``problem`` (why: an
    unusable subject) or all ``None`` when the question names no subject."""
    from multimodal.explain.base import InvalidPhraseError, check_phrase
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets

    subject = answer_subject(question)
    if not subject:
        return None, None, None, None
    try:
        subject = check_phrase(subject)
    except InvalidPhraseError as exc:
        return None, None, None, f"no heatmap for the question's subject: {exc}"
    target = phrase_targets(services.encoder, services.zeroshot, [subject])[0][0]
    return subject, create_explainer(services.encoder), target, None


def explain_answer(
    images: Sequence[Image.Image],
    answer: Answer,
    explainer: Explainer | None = None,
    target: np.ndarray | None = None,
    config: ExplainConfig = ExplainConfig(),
) -> tuple[list[AnswerWhy], str | None]:
    """An overlay per image (the first ``config.max_explanations``) that has cited boxes or, given ``explainer``
    and ``target`` (the subject's embedding), a heatmap; and the cap note (``None`` when none was skipped)."""
    keep, note = capped(len(images), config, "images")
    out = []
    for i, image in enumerate(images[:keep], start=1):
        boxes, locators = cited_boxes(answer, i)
        exp = None
        if explainer is not None and target is not None:
            exp = explainer.explain(explainer.prepare(image), target)
        if exp is None and not boxes:
            continue
        w, h = image.size
        heat = exp.heatmap if exp is not None else np.zeros((h, w), np.float32)
        out.append(AnswerWhy(i, overlay(image, heat, boxes), tuple(boxes), tuple(locators), exp))
    return out, note


def write_answer_overlays(rows: Sequence[AnswerWhy], names: Sequence[str], out_dir: Path) -> list[Path]:
    """``OUT/image<n>-<image stem>__why.png`` per row (``names[row.n - 1]`` the image's name); returns the paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--explain {out_dir}: cannot create the folder ({exc}); pass a writable folder") from exc
    paths = []
    for row in rows:
        path = out_dir / f"image{row.n}-{slug(Path(names[row.n - 1]).stem, 60)}__why.png"
        row.picture.save(path, format="PNG")
        paths.append(path)
    return paths
