"""A taught label set chosen for a question (``sceneqa ask --labelset NAME``, the API's ``labelset`` field, the
Ask tab's label-set picker) as evidence, and the answer to "which of my labels is this?" that rests on it
(issue 15, item 4).

- :func:`gather`: one evidence item per image, ``image:N#labelset:NAME``: "label set 'parts': top label 'bolt'
  at P = 0.91; next 'nut' 0.06, 'washer' 0.02", scored by the top label's probability (the head's calibrated
  probability, as ``classify --labelset`` reports it).
- :func:`answer`: for a question that asks which label, type, kind or class the image is ("which of my labels is
  this?", "what type of part is this?", "classify this"), the top label answers it at that probability, or it
  abstains ("cannot tell") under ``threshold`` naming the two best labels; several images are answered per image
  at the lowest of their probabilities. Other questions go to the answerer, with the label-set evidence among
  the rest.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from multimodal.ask.answers import ABSTAIN_TEXT, Answer, Evidence

ROUTE = "labelset"
_ASKS = re.compile(
    r"\b(which|what)\b.{0,40}\b(labels?|type|kind|class|category|sort|variety)\b|\bclassify\b|\bmy labels?\b", re.I
)
_TOP = re.compile(r"top label ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") at P = ([0-9.]+)")


@dataclass(frozen=True)
class LabelSetSelection:
    """A loaded label set (:class:`multimodal.teach.store.LabelSet`) and the services whose encoder embeds the
    images (checked against the label set's encoder when it was loaded)."""

    labelset: object
    services: object

    @property
    def name(self) -> str:
        return self.labelset.name  # type: ignore[attr-defined]


def _text(name: str, labels) -> str:
    (top, *rest) = labels
    nxt = ", ".join(f"{s.label!r} {s.score:.2f}" for s in rest[:2])
    return f"label set {name!r}: top label {top.label!r} at P = {top.score:.4f}" + (f"; next {nxt}" if nxt else "")


def gather(selection: LabelSetSelection | None, images: Sequence[Image.Image]) -> list[Evidence]:
    """One evidence item per image that could be classified (none without a selection or images)."""
    if selection is None or not images:
        return []
    from multimodal.teach.teach import classify_with_labelset
    from multimodal.zeroshot import ZeroShotOptions

    options = ZeroShotOptions(top_k=3, threshold=0.0)
    names = [f"image {i + 1}" for i in range(len(images))]
    results = classify_with_labelset(selection.services, selection.labelset, images, options, names=names)
    out = []
    for i, r in enumerate(results):
        if r.result is None or not r.result.labels:
            continue
        labels = sorted(r.result.labels, key=lambda s: -s.score)
        locator = f"image:{i + 1}#labelset:{selection.name}"
        out.append(Evidence("image", locator, _text(selection.name, labels), float(labels[0].score)))
    return out


def _top(e: Evidence) -> tuple[str, float] | None:
    m = _TOP.search(e.text)
    return (ast.literal_eval(m.group(1)), float(m.group(2))) if m else None


def answer(question: str, evidence: Sequence[Evidence], threshold: float = 0.5) -> Answer | None:
    """The label set's answer to a which-label question; ``None`` for other questions or without its evidence."""
    items = [e for e in evidence if "#labelset:" in e.locator]
    if not items or not _ASKS.search(question):
        return None
    tops = [(e, t) for e in items if (t := _top(e)) is not None]
    if not tops:
        return None
    conf = min(p for _, (_, p) in tops)
    if len(tops) == 1:
        text = tops[0][1][0]
    else:
        text = "; ".join(f"image {e.locator.split('#')[0].split(':')[1]}: {label}" for e, (label, _) in tops)
    cites = tuple(e for e, _ in tops)
    detail = " | ".join(e.text for e in cites)
    if conf < threshold:
        detail = f"the label set is not sure enough (P = {conf:.2f} < {threshold:.2f}): {detail}"
        return Answer(ABSTAIN_TEXT, round(conf, 4), True, cites, detail=detail, route=ROUTE)
    return Answer(text, round(conf, 4), False, cites, detail=detail, route=ROUTE)
