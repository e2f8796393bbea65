"""Where-questions for answerers that do not route them themselves (the VLMs of ``full`` and ``tiny``): "where
is the cat?" gets the same located, cited answer as in ``lite`` (:mod:`multimodal.ask.lite_where`: the
detector's best box of a COCO category, or the phrase's heatmap as weak evidence), cited ``image:N#box:...``
with its boxes, when it is confident enough; otherwise the answerer answers in its own words, as before.
The lite answerer routes where-questions itself, so this never runs for it."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from multimodal.ask.answers import ABSTAIN_TEXT, Answer
from multimodal.ask.questions import parse_question


def answer(services, question: str, images: Sequence[Image.Image], threshold: float) -> Answer | None:
    """The located answer to a where-question about ``images``, or None (not a where-question, no image, the
    answerer is lite, or the box is not supported at ``threshold``)."""
    if not images:
        return None
    q = parse_question(question)
    if q.kind != "where" or not q.subject or _routes_where_itself(services.answerer()):
        return None
    from multimodal.ask import lite_where
    from multimodal.ask.scene_facts import SceneFacts

    tools = services.fact_tools()
    facts = [SceneFacts(img, i + 1, tools) for i, img in enumerate(images)]
    draft = lite_where.where_answer(facts, q.subject)
    if draft is None or draft.text in ("", ABSTAIN_TEXT) or draft.confidence < threshold:
        return None
    derived = tuple(dict.fromkeys(e for e in draft.citations if e.locator.startswith("image:") and "#" in e.locator))
    return Answer(
        draft.text,
        round(float(draft.confidence), 4),
        False,
        draft.citations,
        detail=draft.detail,
        derived=derived,
        route=draft.route,
        signals=dict(draft.signals or {}),
    )


def _routes_where_itself(answerer) -> bool:
    from multimodal.ask.answer_lite import LiteAnswerer

    return isinstance(answerer, LiteAnswerer)
