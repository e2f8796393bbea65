"""The ``lite`` answerer: answers only what scene facts and the given evidence support, cites them, and
otherwise abstains, saying what it could establish. No generative model is involved.

Routes by question kind (:mod:`multimodal.ask.questions`): presence and people counts of everyday things
(:mod:`multimodal.ask.lite_presence`: WordNet concepts over image regions, people evidence, fitted presence
models), colour, shapes and objects on plain backgrounds (:mod:`multimodal.ask.lite_shapes`, their own room),
text (OCR fitted to the question), identification and the scene summary (:mod:`multimodal.ask.lite_scene`), and
open questions (extractive, from attached records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PIL import Image

from multimodal.ask import lite_objects, lite_presence, lite_scene, lite_shapes, lite_where
from multimodal.ask.answers import ABSTAIN_TEXT, Answer, Evidence
from multimodal.ask.calibration import Calibration
from multimodal.ask.facts.faces import PERSON_WORDS
from multimodal.ask.lite_draft import Draft
from multimodal.ask.questions import Question, parse_question
from multimodal.ask.scene_facts import FactTools, SceneFacts
from multimodal.detect.coco_names import coco_category

__all__ = ["Draft", "LiteAnswerer"]


class LiteAnswerer:
    """Scene facts + evidence -> a cited answer, or an abstention below ``threshold`` calibrated confidence.

    Each route's raw confidence (the strength of its facts) goes through ``calibration`` by the draft's route
    key (default: raw values unchanged); the presence routes' fitted models come from the same table. The
    answer's ``route`` names the key, its ``signals`` what the route measured."""

    name = "lite scene facts (no generative model)"
    can_stream = False  # the answer is composed at once; ask_stream yields it whole

    def __init__(self, tools: FactTools, threshold: float = 0.5, calibration: Calibration | None = None) -> None:
        self.tools = tools
        self.threshold = threshold
        self.calibration = calibration if calibration is not None else Calibration.identity()

    def answer(self, question: str, images: Sequence[Image.Image], evidence: Sequence[Evidence]) -> Answer:
        """The answer; its ``derived`` holds the image facts it rests on (citations come from ``evidence`` +
        those)."""
        q = parse_question(question)
        facts = [SceneFacts(img, i + 1, self.tools) for i, img in enumerate(images)]
        context = [e for e in evidence if e.kind == "context"]
        items = [e for e in evidence if e.kind == "item"]
        route = {
            "presence": self._presence,
            "colour": self._colour,
            "shape": self._shape,
            "count": self._count,
            "text": lambda q, facts, context, items: lite_scene.read_text(q, facts),
            "where": lambda q, facts, context, items: lite_where.where_answer(facts, q.subject),
            "identify": lambda q, facts, context, items: lite_scene.identify(q, facts, items),
            "describe": lambda q, facts, context, items: lite_scene.describe(facts, self.calibration),
            "open": lambda q, facts, context, items: lite_scene.from_records(context),
        }[q.kind]
        draft = route(q, facts, context, items)
        if (draft is None or draft.text in ("", ABSTAIN_TEXT)) and q.kind not in ("open", "describe") and context:
            draft = lite_scene.from_records(context) or draft  # the records may answer what the image cannot
        derived = _image_facts(draft)
        extra = {"derived": derived, "route": draft.route if draft else "", "signals": draft.signals if draft else {}}
        if draft is not None and draft.route == "describe":
            return replace(Answer(draft.text, 0.0, True, draft.citations, detail=draft.detail), **extra)
        if draft is not None:
            conf = self.calibration(draft.route, draft.confidence, fitted=draft.calibrated)
            draft = replace(draft, confidence=conf)
        if draft is None or draft.confidence < self.threshold or draft.text == ABSTAIN_TEXT:
            return replace(self._abstain(draft, derived, context), **extra)
        answer = Answer(draft.text, round(draft.confidence, 4), False, draft.citations, detail=draft.detail)
        return replace(answer, **extra)

    # ---- routes --------------------------------------------------------------------------------------------

    def _presence(self, q: Question, facts, context, items) -> Draft | None:
        shape, colour, plain = lite_shapes.subject_terms(q.subject)
        draft = None
        words = q.subject.split()
        fruit_or_colour = colour and not shape and coco_category(q.subject) is not None  # "an orange"
        if (shape or colour) and plain and not fruit_or_colour:
            draft = lite_shapes.presence_of_object(facts, shape, colour)
        elif words and words[-1] in PERSON_WORDS:
            draft = lite_presence.people_presence(facts, self.calibration, q.subject)
        if draft is None and q.subject:
            draft = lite_objects.object_presence(facts, q.subject, self.calibration)
        if draft is None and q.subject:
            draft = lite_presence.concept_presence(facts, q.subject, self.calibration)
        if draft is None and q.subject:
            draft = self._presence_by_match(facts, q.subject)
        if draft is None:
            return None
        if q.negated and draft.text in ("yes", "no"):  # the key stays the fact's: its strength is what was measured
            return replace(draft, text="no" if draft.text == "yes" else "yes")
        return draft

    def _presence_by_match(self, facts, subject: str) -> Draft | None:
        """Zero-shot ``match`` for nouns with no WordNet concept (or tiers without regions); its "no" has no
        measured recall behind it, so it abstains (negative key without a map)."""
        if not facts:
            return None
        scored = [(f, f.match(subject)) for f in facts]
        f, m = max(scored, key=lambda fm: fm[1])
        cite = (f.cite("concepts", f"'{subject}' supported at {m:.2f} against 1,000 everyday concepts", m),)
        if m >= 0.5:
            detail = f"'{subject}' is supported by the image (match {m:.2f})"
            return Draft("yes", m, cite, detail, "presence:zeroshot:yes")
        detail = f"'{subject}' is not clearly supported (match {m:.2f}); no concept for it whose absence was measured"
        return Draft("no", 1.0 - m, cite, detail, "presence:zeroshot:no")

    def _colour(self, q: Question, facts, context, items) -> Draft | None:
        shape, colour, plain = lite_shapes.subject_terms(q.subject)
        draft = lite_shapes.colour_of_object(facts, shape) if plain or shape else None
        if draft is not None or not facts:
            return draft
        f = facts[0]
        (name, share), *rest = f.colours or [("", 0.0)]
        if not name:
            return None
        text = ", ".join(f"{n} {s:.0%}" for n, s in f.colours)
        ev = f.cite("colours", f"colours: {text}", share)
        conf = min(0.9, share * 1.2) if plain or not q.subject else share * 0.6
        return Draft(name, conf, (ev,), f"colours: {text}", "colour:image")

    def _shape(self, q: Question, facts, context, items) -> Draft | None:
        _, colour, _ = lite_shapes.subject_terms(q.subject)
        return lite_shapes.shape_of_object(facts, colour)

    def _count(self, q: Question, facts, context, items) -> Draft | None:
        words = q.subject.split()
        if words and words[0] in PERSON_WORDS:
            return lite_presence.count_people(facts, self.calibration, words[0])
        category = coco_category(q.subject)
        if category is not None:
            return lite_objects.count_detected(facts, category, noun=q.subject)
        shape, colour, plain = lite_shapes.subject_terms(q.subject)
        return lite_shapes.count_objects(facts, shape, colour) if plain else None

    def _abstain(self, draft: Draft | None, derived: tuple[Evidence, ...], context) -> Answer:
        established = [e.text for e in derived]
        if draft is not None and draft.detail and (draft.text in ("", ABSTAIN_TEXT) or not draft.confidence):
            established.insert(0, draft.detail)
        elif draft is not None and draft.detail:
            established.insert(0, f"weak evidence: {draft.text} ({draft.detail}, confidence {draft.confidence:.2f})")
        if context:
            established.append(f"{len(context)} record excerpt(s) considered, none answers it clearly")
        detail = "I could establish: " + "; ".join(established) if established else "no usable evidence"
        cites = draft.citations if draft is not None else ()
        return Answer(ABSTAIN_TEXT, round(draft.confidence if draft else 0.0, 4), True, cites, detail=detail)


def _image_facts(draft: Draft | None) -> tuple[Evidence, ...]:
    """The facts about the images a draft cites (the answer's derived evidence), in order, without repeats."""
    if draft is None:
        return ()
    return tuple(dict.fromkeys(e for e in draft.citations if e.locator.startswith("image:") and "#" in e.locator))
