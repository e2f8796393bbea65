"""Routes over simple objects on a plain background (diagrams, signs, stickers, synthetic shapes such as
easy-vqa's): their own room, apart from the everyday-photo routes (issue 14, item 5).

They act only when the question's subject is made of shape, colour and generic words ("the red shape", "a
circle") *and* :func:`multimodal.ask.facts.objects.find_objects` found objects, which it does only where the
image's background is plain. On a photo they find nothing and the everyday routes answer.
"""

from __future__ import annotations

from multimodal.ask.facts.colours import COLOUR_WORDS, canonical_colour
from multimodal.ask.facts.objects import ObjectFact
from multimodal.ask.lite_draft import Draft

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


def matches(o: ObjectFact, shape: str | None, colour: str | None) -> bool:
    return (shape is None or o.shape == shape) and (colour is None or o.colour == colour)


def strength(o: ObjectFact, shape: str | None, colour: str | None) -> float:
    parts = [o.shape_confidence if shape else 1.0, o.colour_confidence if colour else 1.0]
    return min(parts)


def _cite(f, i: int, o: ObjectFact, score: float):
    return f.cite(f"object{i + 1}", o.describe(), score, boxes=(o.bbox,))


def presence_of_object(facts, shape, colour) -> Draft | None:
    seen = [(f, o) for f in facts for o in f.objects]
    if not seen:
        return None
    cites = tuple(_cite(f, i, o, o.shape_confidence) for f in facts for i, o in enumerate(f.objects))
    found = [(f, o) for f, o in seen if matches(o, shape, colour)]
    if found:
        conf = max(strength(o, shape, colour) for _, o in found)
        return Draft("yes", conf, cites, "; ".join(o.describe() for _, o in found), "presence:shape:yes")
    certainty = min(strength(o, shape, colour) if strength(o, shape, colour) else 0.5 for _, o in seen)
    detail = "seen: " + "; ".join(o.describe() for _, o in seen)
    return Draft("no", 0.5 + 0.45 * certainty, cites, detail, "presence:shape:no")


def pick_object(facts, shape=None, colour=None):
    """(facts, index, object) of the first object that matches, or ``None``."""
    for f in facts:
        for i, o in enumerate(f.objects):
            if matches(o, shape, colour):
                return f, i, o
    return None


def colour_of_object(facts, shape) -> Draft | None:
    picked = pick_object(facts, shape)
    if not picked:
        return None
    f, i, o = picked
    conf = o.colour_confidence * (o.shape_confidence if shape else 1.0) ** 0.5
    return Draft(o.colour, conf, (_cite(f, i, o, o.colour_confidence),), o.describe(), "colour:object")


def shape_of_object(facts, colour) -> Draft | None:
    picked = pick_object(facts, None, colour)
    if not picked or picked[2].shape is None:
        return None
    f, i, o = picked
    conf = o.shape_confidence * (o.colour_confidence if colour else 1.0) ** 0.5
    return Draft(o.shape, conf, (_cite(f, i, o, o.shape_confidence),), o.describe(), "shape")


def count_objects(facts, shape, colour) -> Draft | None:
    found = [(f, i, o) for f in facts for i, o in enumerate(f.objects) if matches(o, shape, colour)]
    if not any(f.objects for f in facts):
        return None
    cites = tuple(_cite(f, i, o, o.shape_confidence) for f, i, o in found)
    conf = min([strength(o, shape, colour) for _, _, o in found], default=0.6)
    cites = cites or (facts[0].cite("objects", "no matching object", 0.6),)
    return Draft(str(len(found)), conf, cites, "", "count:objects" if found else "count:objects:zero")
