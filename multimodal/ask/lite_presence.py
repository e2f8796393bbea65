"""Presence of everyday things and people, and how many people, for the lite answerer (issue 14, items 3-4).

- A noun ("dog", "skis", "wine glass") goes through WordNet to the ImageNet concepts under it
  (:mod:`multimodal.ask.facts.concepts`); their mass over the image's regions gives signals
  (:mod:`multimodal.ask.facts.regions`) that the fitted ``presence:concept`` model turns into P(present).
  "yes" is answered at that probability, "no" at one minus it (and only where "no" was measured precise enough:
  the calibration's rule for negative answers). A noun with no concept under it goes to zero-shot ``match``,
  whose "no" is never measured and so abstains.
- People: the mass of person, clothing and headdress concepts plus the faces found (MTCNN), through the fitted
  ``presence:people`` model. Words finer than "person" (woman, child, worker) are answered "no" only when there
  are no people at all; otherwise the answer says there are people and that it cannot tell the finer word.
- People found by the object detector (lite, full: :mod:`multimodal.ask.lite_objects`) add its person signals
  to the ``presence:people`` model, and "how many people" becomes the detector's count. Without a detector: the
  faces counted when people are likely, "0" when they are unlikely, otherwise it says there are people it
  cannot count. A finer word ("how many women?") is never answered with the count of all people.

Without a fitted model (a fitting run, or a tier without a table) the drafts carry raw strengths and their
signals, for :mod:`eval.vqa_calibrate` to fit.
"""

from __future__ import annotations

import math
from dataclasses import replace

from multimodal.ask import lite_objects
from multimodal.ask.answers import ABSTAIN_TEXT, Evidence
from multimodal.ask.calibration import Calibration
from multimodal.ask.facts.concepts import load_concepts
from multimodal.ask.facts.regions import ConceptSignals
from multimodal.ask.lite_draft import Draft
from multimodal.encoders.imagenet import imagenet_names

GENERAL_PEOPLE = frozenset({"person", "people", "persons", "human", "humans", "someone", "anyone", "somebody"})
FACE_WORDS = frozenset({"face", "faces"})


def _classes_text(sig: ConceptSignals) -> str:
    names = imagenet_names()
    return ", ".join(f"{names[i]} {p:.2f}" for i, p in sig.top_classes) or "none above 0.01"


def _decide(p: float, cites, detail_yes: str, detail_no: str, key: str, signals) -> Draft:
    if p >= 0.5:
        return Draft("yes", p, cites, detail_yes, f"{key}:yes", signals, calibrated=True)
    return Draft("no", 1.0 - p, cites, detail_no, f"{key}:no", signals, calibrated=True)


def concept_presence(facts, subject: str, calibration: Calibration) -> Draft | None:
    """Presence of ``subject`` through its WordNet concepts; ``None`` when it has none or no region classifier
    runs (the caller then uses zero-shot ``match``)."""
    hit = load_concepts().lookup(subject)
    if hit is None or not facts:
        return None
    lemma, classes = hit
    scored = [(f, f.concept(classes)) for f in facts]
    if any(sig is None for _, sig in scored):
        return None
    probs = [calibration.probability("presence:concept", sig.values) for _, sig in scored]
    cites = tuple(
        f.cite(
            f"region:{lemma}",
            f"'{subject}' -> {len(classes)} ImageNet concept(s) under WordNet '{lemma}'; strongest region: "
            f"{_classes_text(sig)}",
            math.exp(sig.values["log_mass_best_region"]),
            boxes=(sig.best_box,),
        )
        for f, sig in scored
    )
    best = max(range(len(scored)), key=lambda i: scored[i][1].values["log_mass_best_region"])
    signals = scored[best][1].values
    if any(p is None for p in probs):  # no fitted model: the raw mass of the best region
        mass = math.exp(signals["log_mass_best_region"])
        if mass >= 0.5:
            return Draft("yes", mass, cites, f"'{subject}' found (mass {mass:.2f})", "presence:concept:yes", signals)
        return Draft("no", 1.0 - mass, cites, f"'{subject}' weak (mass {mass:.2f})", "presence:concept:no", signals)
    p = max(probs)  # type: ignore[type-var]
    return _decide(
        p,
        cites,
        f"'{subject}' is likely in the image (P = {p:.2f}, concepts {lemma})",
        f"'{subject}' is unlikely in the image (P = {p:.2f}, concepts {lemma})",
        "presence:concept",
        signals,
    )


def people_evidence(
    facts, calibration: Calibration
) -> tuple[float | None, tuple[Evidence, ...], dict[str, float], int]:
    """(P(people) or None without a model or regions, citations, the best image's signals, faces counted)."""
    people = load_concepts().people()
    cites: list[Evidence] = []
    best_p, best_signals, faces = None, {}, 0
    for f in facts:
        n = len(f.faces)
        faces += n
        boxes = tuple((b.left, b.top, b.right, b.bottom) for b in f.faces)
        cites.append(f.cite("faces", f"{n} face(s) detected", 0.8 if n else 0.5, boxes=boxes))
        det = {}
        if f.detections is not None:
            det = lite_objects.signals(f.detections, lite_objects.PERSON, lite_objects.COUNT_THRESHOLD)
            cites.append(lite_objects.person_cite(f))
        sig = f.concept(people)
        if sig is None:
            continue
        signals = {**sig.values, "faces": float(n), **det}
        p = calibration.probability("presence:people", signals)
        text = f"people and what they wear (person, clothing, headdress concepts): {_classes_text(sig)}"
        cites.append(f.cite("region:people", text, math.exp(sig.values["log_mass_best_region"]), boxes=(sig.best_box,)))
        if p is not None and (best_p is None or p > best_p):
            best_p, best_signals = p, signals
        elif not best_signals:
            best_signals = signals
    return best_p, tuple(cites), best_signals, faces


def people_presence(facts, calibration: Calibration, subject: str = "person") -> Draft | None:
    """Is there a person (or a finer word: a woman, a child, a face)?"""
    if not facts:
        return None
    p, cites, signals, faces = people_evidence(facts, calibration)
    word = subject.split()[-1] if subject.split() else "person"
    if word in FACE_WORDS and faces:
        return Draft("yes", 0.8, cites, f"{faces} face(s) detected", "presence:faces:yes", signals)
    if p is None:  # no model: faces are the only raw evidence
        if faces:
            return Draft("yes", 0.8, cites, f"{faces} face(s) detected", "presence:people:yes", signals)
        return Draft("no", 0.3, cites, "no face detected", "presence:people:no", signals)
    draft = _decide(
        p,
        cites,
        f"people are likely (P = {p:.2f}; {faces} face(s))",
        f"no people likely (P(people) = {p:.2f}; {faces} face(s))",
        "presence:people",
        signals,
    )
    if word in GENERAL_PEOPLE or draft.text == "no":
        return draft
    detail = f"there are people (P = {p:.2f}); I cannot tell whether any is a {word.rstrip('s')}"
    return Draft(ABSTAIN_TEXT, 0.0, cites, detail, "presence:person-type", signals)


def count_people(facts, calibration: Calibration, word: str = "people") -> Draft | None:
    """How many people: the detector's count where there is one, else faces when people are likely, 0 when
    unlikely, else abstain saying why. A finer ``word`` (women, children) only abstains or says 0."""
    if not facts:
        return None
    counted = lite_objects.count_detected(facts, lite_objects.PERSON, noun="people")
    p, cites, signals, faces = people_evidence(facts, calibration)
    if counted is not None and word in GENERAL_PEOPLE:
        return replace(counted, signals={**signals, **counted.signals})
    if word not in GENERAL_PEOPLE and (p is None or p >= 0.5):
        people = f"{counted.text} people detected" if counted is not None else "people may be present"
        detail = f"{people}; I cannot tell how many are {word}"
        return Draft(ABSTAIN_TEXT, 0.0, cites, detail, "count:person-type", signals)
    if p is not None and p < 0.5:
        detail = f"no people likely (P(people) = {p:.2f})"
        return Draft("0", 1.0 - p, cites, detail, "count:people:zero", signals, calibrated=True)
    if faces:
        raw = p if p is not None else 0.7
        return Draft(str(faces), raw, cites, f"{faces} face(s) counted", "count:people", signals)
    if p is None:
        return Draft("0", 0.5, cites, "no face detected (frontal faces only)", "count:people:zero", signals)
    detail = f"there are probably people (P = {p:.2f}) but none shows a face to count"
    return Draft(ABSTAIN_TEXT, 0.0, cites, detail, "count:people:uncounted", signals)
