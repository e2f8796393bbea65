"""What the lite answerer says about a whole scene: identification ("what animal is this?"), the scene summary
for open questions (issue 14, item 6), the text it read, fitted to the question, and answers from attached
records."""

from __future__ import annotations

from collections import Counter

import numpy as np

from multimodal.ask.calibration import Calibration
from multimodal.ask.facts.concepts import load_concepts
from multimodal.ask.lite_draft import Draft
from multimodal.ask.lite_presence import people_evidence
from multimodal.ask.text_fit import fit_text
from multimodal.encoders.imagenet import imagenet_names

MIN_OCR_CONFIDENCE = 0.75
SUMMARY_MIN_PROB = 0.15


def identify(q, facts, items) -> Draft | None:
    """ "What is this?" / "What animal is this?": the best concept (under the asked category when there is one,
    over the whole image and its regions), the object on a plain background, the nearest catalog item."""
    if not facts:
        return None
    f = facts[0]
    hit = load_concepts().lookup(q.subject) if q.subject else None
    if hit is not None and f.regions is not None:
        return _identify_in(f, q.subject, hit)
    tags = [(label, m) for label, m in f.tags if m >= 0.2]
    parts, cites, conf = [], [], 0.0
    if tags:
        cites.append(f.cite("concepts", ", ".join(f"{t} ({m:.2f})" for t, m in tags), tags[0][1]))
        parts.append(tags[0][0] + (f" (also: {', '.join(t for t, _ in tags[1:3])})" if len(tags) > 1 else ""))
        conf = tags[0][1]
    if f.objects:
        o = f.objects[0]
        cites.append(f.cite("object1", o.describe(), o.shape_confidence, boxes=(o.bbox,)))
        parts.append(o.describe())
        conf = max(conf, min(o.shape_confidence, o.colour_confidence))
    if items and items[0].score >= 0.6:
        cites.append(items[0])
        parts.append(f"most like catalog item {items[0].locator.split(':', 1)[1]}")
        conf = max(conf, items[0].score)
    if not parts:
        return None
    return Draft(parts[0], conf, tuple(cites), "; ".join(parts), "identify")


def _identify_in(f, subject: str, hit) -> Draft:
    lemma, classes = hit
    rp = f.regions
    idx = np.asarray(classes)
    views = np.concatenate([rp.whole[:, idx], rp.regions[:, idx]])  # (views, classes)
    best_view, best_class = np.unravel_index(int(np.argmax(views)), views.shape)
    prob = float(views[best_view, best_class])
    name = imagenet_names()[int(idx[best_class])]
    box = (0, 0, *f.img.size) if best_view < 2 else rp.boxes[best_view - 2]
    ev = f.cite(f"region:{lemma}", f"best '{subject}' concept: {name} ({prob:.2f})", prob, boxes=(box,))
    return Draft(name, prob, (ev,), f"the {subject} most like {name} (probability {prob:.2f})", "identify:category")


def detected_summary(f, min_score: float = 0.35) -> str:
    """ "2 person, 1 dog" from the detections at or above ``min_score`` (the people count threshold), most
    frequent first; empty without a detector or detections."""
    if not f.detections:
        return ""
    counts = Counter(d.label for d in f.detections if d.score >= min_score)
    return ", ".join(f"{n} {label}" for label, n in counts.most_common(8))


def describe(facts, calibration: Calibration) -> Draft | None:
    """A scene summary (concepts, people, colours, text), marked as such; never a confident answer."""
    if not facts:
        return None
    parts, cites = [], []
    for f in facts:
        bits = []
        if f.regions is not None:
            rp = f.regions
            best = np.maximum(rp.whole.max(axis=0), rp.regions.max(axis=0))
            top = [int(i) for i in np.argsort(-best)[:5] if best[i] >= SUMMARY_MIN_PROB]
            names = [f"{imagenet_names()[i]} {best[i]:.2f}" for i in top]
            if names:
                bits.append("concepts: " + ", ".join(names))
                cites.append(f.cite("concepts", "concepts: " + ", ".join(names), float(best[top[0]])))
        else:
            tags = [(t, m) for t, m in f.tags if m >= 0.2][:5]
            if tags:
                bits.append("concepts: " + ", ".join(f"{t} {m:.2f}" for t, m in tags))
        objects = detected_summary(f)
        if objects:
            bits.append("objects: " + objects)
            cites.append(f.cite("objects", f"object detector (CenterNet, COCO): {objects}", 0.5))
        p, people_cites, _, faces = people_evidence([f], calibration)
        if p is not None and p >= 0.5:
            bits.append(f"people likely (P = {p:.2f}; {faces} face(s))")
            cites.extend(people_cites)
        if f.colours:
            bits.append("colours: " + ", ".join(f"{n} {s:.0%}" for n, s in f.colours[:3]))
        lines = [t for t in f.text if t.confidence >= MIN_OCR_CONFIDENCE]
        if lines:
            bits.append("text: " + " / ".join(t.text for t in lines[:3]))
        parts.append(f"image {f.n}: " + "; ".join(bits) if bits else f"image {f.n}: nothing established")
    summary = "Scene summary (what the image shows, not a checked answer): " + " | ".join(parts)
    return Draft(summary, 0.0, tuple(cites), summary, "describe")


def read_text(q, facts) -> Draft | None:
    """The text read, or only the part that fits the question (a plate-like string, a number)."""
    lines = [
        (f, k, t)
        for f in facts
        for k, t in enumerate(f.text, start=1)
        if t.confidence >= MIN_OCR_CONFIDENCE and sum(ch.isalnum() for ch in t.text) >= 2
    ]
    if not lines:
        cites = tuple(f.cite("ocr", "no legible text found", 0.5, kind="ocr") for f in facts)
        return Draft("", 0.0, cites, "no legible text found", "text") if facts else None
    cites = tuple(f.cite(f"ocr:L{k}", t.text, t.confidence, kind="ocr", boxes=(t.box,)) for f, k, t in lines)
    target = q.subject if q.subject in ("plate", "number") else ""
    fitting = fit_text(target, [t.text for _, _, t in lines])
    if not fitting:
        read = " / ".join(t.text for _, _, t in lines)
        return Draft("", 0.0, cites, f"text read: {read}; none of it looks like a {target}", f"text:{target}")
    chosen = {i for i, _ in fitting}
    conf = float(np.mean([lines[i][2].confidence for i in chosen]))
    kept = tuple(cites[i] for i in sorted(chosen))
    return Draft(" / ".join(s for _, s in fitting), conf, kept, "", f"text:{target}" if target else "text")


def from_records(context) -> Draft | None:
    """The attached record most relevant to the question, when it is relevant enough."""
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
