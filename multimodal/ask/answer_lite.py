"""The ``lite`` answerer: answers only what scene facts and the given evidence support, cites them, and
otherwise abstains, saying what it could establish. No generative model is involved.

Routes by question kind (:mod:`multimodal.ask.questions`): presence, colour, shape, count, text (OCR),
identify (concepts + catalog items) and open questions (extractive, from attached records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from PIL import Image

from multimodal.ask.answers import ABSTAIN_TEXT, Answer, Evidence
from multimodal.ask.calibration import Calibration
from multimodal.ask.facts.colours import COLOUR_WORDS, canonical_colour
from multimodal.ask.facts.faces import PERSON_WORDS
from multimodal.ask.facts.objects import ObjectFact
from multimodal.ask.questions import Question, parse_question
from multimodal.ask.scene_facts import FactTools, SceneFacts

SHAPE_WORDS = {
    "circle": "circle",
    "circles": "circle",
    "round": "circle",
    "disc": "circle",
    "dot": "circle",
    "rectangle": "rectangle",
    "rectangles": "rectangle",
    "square": "rectangle",
    "squares": "rectangle",
    "box": "rectangle",
    "triangle": "triangle",
    "triangles": "triangle",
}
GENERIC = {"shape", "shapes", "object", "objects", "thing", "things", "item", "items", "figure", "figures", ""}


@dataclass(frozen=True)
class Draft:
    text: str
    confidence: float
    citations: tuple[Evidence, ...]
    detail: str = ""
    route: str = ""  # the calibration key: route, source and polarity, e.g. presence:concept:no, count:people


def subject_terms(subject: str) -> tuple[str | None, str | None, bool]:
    """(shape, colour, only shape/colour/generic words) of a subject like ``"red circle shape"``."""
    shape = colour = None
    plain = True
    for w in subject.lower().split():
        if w in SHAPE_WORDS:
            shape = SHAPE_WORDS[w]
        elif w in COLOUR_WORDS:
            colour = canonical_colour(w)
        elif w not in GENERIC:
            plain = False
    return shape, colour, plain


def _matches(o: ObjectFact, shape: str | None, colour: str | None) -> bool:
    return (shape is None or o.shape == shape) and (colour is None or o.colour == colour)


def _conf(o: ObjectFact, shape: str | None, colour: str | None) -> float:
    parts = [o.shape_confidence if shape else 1.0, o.colour_confidence if colour else 1.0]
    return min(parts)


class LiteAnswerer:
    """Scene facts + evidence -> a cited answer, or an abstention below ``threshold`` calibrated confidence.

    Each route's raw confidence (the strength of its facts) goes through ``calibration`` by the draft's route
    key (default: raw values unchanged); the answer's ``route`` names that key."""

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
            "text": self._text,
            "identify": self._identify,
            "open": self._open,
        }[q.kind]
        draft = route(q, facts, context, items)
        if draft is None and q.kind != "open" and context:
            draft = self._open(q, facts, context, items)  # the records may answer what the image cannot
        derived = _image_facts(draft)
        if draft is not None:
            draft = replace(draft, confidence=self.calibration(draft.route, draft.confidence))
        if draft is None or draft.confidence < self.threshold:
            return replace(self._abstain(draft, derived, context), derived=derived, route=_route(draft))
        answer = Answer(draft.text, round(draft.confidence, 4), False, draft.citations, detail=draft.detail)
        return replace(answer, derived=derived, route=draft.route)

    # ---- routes --------------------------------------------------------------------------------------------

    def _presence(self, q: Question, facts, context, items) -> Draft | None:
        shape, colour, plain = subject_terms(q.subject)
        draft = None
        if (shape or colour) and plain:
            draft = self._presence_of_object(facts, shape, colour)
        elif q.subject.split() and q.subject.split()[-1] in PERSON_WORDS:
            draft = self._presence_of_people(facts)
        if draft is None and q.subject:
            draft = self._presence_of_concept(facts, q.subject)
        if draft is None:
            return None
        if q.negated:  # the key stays the fact's (found / not found): its strength is what was measured
            return replace(draft, text="no" if draft.text == "yes" else "yes")
        return draft

    def _presence_of_object(self, facts, shape, colour) -> Draft | None:
        seen = [(f, o) for f in facts for o in f.objects]
        if not seen:
            return None
        cites = tuple(
            f.cite(f"object{i + 1}", o.describe(), o.shape_confidence) for f in facts for i, o in enumerate(f.objects)
        )
        found = [(f, o) for f, o in seen if _matches(o, shape, colour)]
        if found:
            conf = max(_conf(o, shape, colour) for _, o in found)
            return Draft("yes", conf, cites, "; ".join(o.describe() for _, o in found), "presence:object:yes")
        certainty = min(_conf(o, shape, colour) if _conf(o, shape, colour) else 0.5 for _, o in seen)
        detail = "seen: " + "; ".join(o.describe() for _, o in seen)
        return Draft("no", 0.5 + 0.45 * certainty, cites, detail, "presence:object:no")

    def _presence_of_people(self, facts) -> Draft | None:
        counts = [(f, len(f.faces)) for f in facts]
        cites = tuple(f.cite("faces", f"{n} face(s) detected", 0.8 if n else 0.55) for f, n in counts)
        total = sum(n for _, n in counts)
        if total:
            return Draft("yes", 0.8, cites, f"{total} face(s) detected", "presence:people:yes")
        detail = "no face detected (people seen from behind or far away can be missed)"
        return Draft("no", 0.55, cites, detail, "presence:people:no")

    def _presence_of_concept(self, facts, subject: str) -> Draft | None:
        scored = [(f, f.match(subject)) for f in facts]
        f, m = max(scored, key=lambda fm: fm[1])
        cite = (f.cite("concepts", f"'{subject}' supported at {m:.2f} against 1,000 everyday concepts", m),)
        if m >= 0.5:
            return Draft(
                "yes", m, cite, f"'{subject}' is supported by the image (match {m:.2f})", "presence:concept:yes"
            )
        if m <= 0.05:
            detail = f"'{subject}' is not supported by the image (match {m:.2f})"
            return Draft("no", 0.55, cite, detail, "presence:concept:no")
        return Draft("no", 0.3, cite, f"'{subject}' is weakly supported (match {m:.2f})", "presence:concept:no")

    def _pick_object(self, facts, shape=None, colour=None) -> tuple[SceneFacts, int, ObjectFact] | None:
        for f in facts:
            for i, o in enumerate(f.objects):
                if _matches(o, shape, colour):
                    return f, i, o
        return None

    def _colour(self, q: Question, facts, context, items) -> Draft | None:
        shape, colour, plain = subject_terms(q.subject)
        picked = self._pick_object(facts, shape) if plain or shape else None
        if picked:
            f, i, o = picked
            ev = f.cite(f"object{i + 1}", o.describe(), o.colour_confidence)
            conf = o.colour_confidence * (o.shape_confidence if shape else 1.0) ** 0.5
            return Draft(o.colour, conf, (ev,), o.describe(), "colour:object")
        if not facts:
            return None
        f = facts[0]
        (name, share), *rest = f.colours or [("", 0.0)]
        if not name:
            return None
        text = ", ".join(f"{n} {s:.0%}" for n, s in f.colours)
        ev = f.cite("colours", f"colours: {text}", share)
        conf = min(0.9, share * 1.2) if plain or not q.subject else share * 0.6
        return Draft(name, conf, (ev,), f"colours: {text}", "colour:image")

    def _shape(self, q: Question, facts, context, items) -> Draft | None:
        shape, colour, _ = subject_terms(q.subject)
        picked = self._pick_object(facts, None, colour)
        if not picked or picked[2].shape is None:
            return None
        f, i, o = picked
        ev = f.cite(f"object{i + 1}", o.describe(), o.shape_confidence)
        conf = o.shape_confidence * (o.colour_confidence if colour else 1.0) ** 0.5
        return Draft(o.shape, conf, (ev,), o.describe(), "shape")

    def _count(self, q: Question, facts, context, items) -> Draft | None:
        words = q.subject.split()
        if words and words[0] in PERSON_WORDS:
            n = sum(len(f.faces) for f in facts)
            cites = tuple(f.cite("faces", f"{len(f.faces)} face(s) detected", 0.7) for f in facts)
            key = "count:people" if n else "count:people:zero"
            return Draft(str(n), 0.7 if n else 0.5, cites, f"{n} face(s) detected (frontal faces only)", key)
        shape, colour, plain = subject_terms(q.subject)
        if plain:
            found = [(f, i, o) for f in facts for i, o in enumerate(f.objects) if _matches(o, shape, colour)]
            if not any(f.objects for f in facts):
                return None
            cites = tuple(f.cite(f"object{i + 1}", o.describe(), o.shape_confidence) for f, i, o in found)
            conf = min([_conf(o, shape, colour) for _, _, o in found], default=0.6)
            cites = cites or (facts[0].cite("objects", "no matching object", 0.6),)
            return Draft(str(len(found)), conf, cites, "", "count:objects" if found else "count:objects:zero")
        return None

    def _text(self, q: Question, facts, context, items) -> Draft | None:
        lines = [
            (f, k, t)
            for f in facts
            for k, t in enumerate(f.text, start=1)
            if t.confidence >= 0.75 and sum(ch.isalnum() for ch in t.text) >= 2
        ]
        if not lines:
            for f in facts:
                f.cite("ocr", "no legible text found", 0.5, kind="ocr")
            return None
        cites = tuple(f.cite(f"ocr:L{k}", t.text, t.confidence, kind="ocr") for f, k, t in lines)
        conf = sum(t.confidence for _, _, t in lines) / len(lines)
        return Draft(" / ".join(t.text for _, _, t in lines), conf, cites, "", "text")

    def _identify(self, q: Question, facts, context, items) -> Draft | None:
        if not facts:
            return None
        f = facts[0]
        tags = [(label, m) for label, m in f.tags if m >= 0.2]
        parts, cites, conf = [], [], 0.0
        if tags:
            cites.append(f.cite("concepts", ", ".join(f"{t} ({m:.2f})" for t, m in tags), tags[0][1]))
            parts.append(tags[0][0] + (f" (also: {', '.join(t for t, _ in tags[1:3])})" if len(tags) > 1 else ""))
            conf = tags[0][1]
        if f.objects:
            o = f.objects[0]
            cites.append(f.cite("object1", o.describe(), o.shape_confidence))
            parts.append(o.describe())
            conf = max(conf, min(o.shape_confidence, o.colour_confidence))
        if items and items[0].score >= 0.6:
            cites.append(items[0])
            parts.append(f"most like catalog item {items[0].locator.split(':', 1)[1]}")
            conf = max(conf, items[0].score)
        if not parts:
            return None
        return Draft(parts[0], conf, tuple(cites), "; ".join(parts), "identify")

    def _open(self, q: Question, facts, context, items) -> Draft | None:
        if context and context[0].score >= 0.3:
            best = context[0]
            return Draft(
                best.text,
                min(0.95, 0.25 + best.score),
                (best,),
                f"from {best.locator}: the record most relevant to the question",
                "open",
            )
        return None

    def _abstain(self, draft: Draft | None, derived: tuple[Evidence, ...], context) -> Answer:
        established = [e.text for e in derived]
        if draft is not None and draft.detail:
            established.insert(0, f"weak evidence: {draft.text} ({draft.detail}, confidence {draft.confidence:.2f})")
        if context:
            established.append(f"{len(context)} record excerpt(s) considered, none answers it clearly")
        detail = "I could establish: " + "; ".join(established) if established else "no usable evidence"
        cites = draft.citations if draft is not None else ()
        return Answer(ABSTAIN_TEXT, round(draft.confidence if draft else 0.0, 4), True, cites, detail=detail)


def _route(draft: Draft | None) -> str:
    return draft.route if draft is not None else ""


def _image_facts(draft: Draft | None) -> tuple[Evidence, ...]:
    """The facts about the images a draft cites (the answer's derived evidence), in order, without repeats."""
    if draft is None:
        return ()
    return tuple(dict.fromkeys(e for e in draft.citations if e.locator.startswith("image:") and "#" in e.locator))
