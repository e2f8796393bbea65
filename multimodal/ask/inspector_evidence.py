"""An inspector chosen for a question (``sceneqa ask --inspector NAME``, the Inspect tab's question box, the
API's ``inspector`` field) as evidence, and the answer to "is this part defective?" that rests on it.

- :func:`gather`: one evidence item per image, ``image:N#inspector:NAME``, e.g. "inspector 'tiles': anomaly
  score 0.93 above threshold 0.61 (defect; probability 0.998 that a good part scores lower), region at
  120,40-160,80", with the regions' boxes (drawn by the Ask tab like other boxes).
- :func:`answer`: for a yes/no question about defects or about the part being fine ("is this part
  defective?", "is there a defect?", "is it ok?"), the inspector's verdict answers it: any image with verdict
  ``defect`` -> "yes" (a defect), all ``ok`` -> "no", else it abstains ("cannot tell" near the threshold).
  Other questions go to the answerer as usual, with the inspector evidence listed among the rest.

Confidence is not a posterior (the inspector saw no defects): it grows with the score's distance beyond the
"cannot tell" band, in units of the good scores' spread ``s``: ``1 - 0.5 * exp(-margin / s)``, 0.5 at the
band's edge, 0.82 one spread beyond, 0.98 three beyond.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from multimodal.ask.answers import ABSTAIN_TEXT, Answer, Evidence

ROUTE = "inspector:defect"
_YES_NO = re.compile(r"^\s*(is|are|was|were|does|do|did|has|have|had|can|could|should|would|will|any)(n't)?\b", re.I)
_DEFECT = re.compile(
    r"\b(defect\w*|anomal\w*|faulty|faults?|flaw\w*|damage\w*|broken|crack\w*|scratch\w*|dent\w*|"
    r"pitt?ing|pits?|bad|reject\w*|fails?|failed|wrong)\b",
    re.I,
)
_FINE = re.compile(r"\b(ok|okay|good|fine|normal|intact|pass(es|ed)?|acceptable|flawless)\b", re.I)
_VERDICT = re.compile(r" threshold \S+ \((ok|defect|cannot tell); ")
# "is it not defective?" asks whether it is fine; "isn't it defective?" (a leading contraction) still asks
# whether it is defective, as English answers it ("yes, it is"), so only words after the verb flip it
_NEGATION = re.compile(r"\b(not|no|without)\b", re.I)


@dataclass(frozen=True)
class InspectorSelection:
    """What the ask pipeline needs of a chosen inspector: its ``name``, ``band`` (the "cannot tell"
    half-width, in good-score spreads) and ``inspector`` (a :class:`multimodal.inspect.Inspector`)."""

    inspector: object
    band: float = 0.5

    @property
    def name(self) -> str:
        return self.inspector.name  # type: ignore[attr-defined]


def gather(selection: InspectorSelection | None, images: Sequence[Image.Image]) -> list[Evidence]:
    """One evidence item per image (none without a selection or images)."""
    if selection is None or not images:
        return []
    from multimodal.inspect.config import VerdictConfig

    found = selection.inspector.inspect(list(images), verdict=VerdictConfig(band=selection.band))  # type: ignore
    return [evidence_of(selection.name, i + 1, ins, _spread(selection)) for i, ins in enumerate(found)]


def _spread(selection: InspectorSelection) -> float:
    return float(selection.inspector.state.calibration.scale) * selection.band  # type: ignore[attr-defined]


def evidence_of(name: str, n: int, ins, band_width: float = 0.0) -> Evidence:
    """The evidence of one :class:`~multimodal.inspect.Inspection` of image ``n`` (pure). Its score is the
    verdict's confidence (see the module docstring); ``band_width``: the band's half-width in score units."""
    side = "above" if ins.score >= ins.threshold else "below"
    text = (
        f"inspector {name!r}: anomaly score {ins.score:.3g} {side} threshold {ins.threshold:.3g} "
        f"({ins.verdict}; probability {ins.probability:.3f} that a good part scores lower)"
    )
    if ins.boxes:
        where = "; ".join(f"{b.x0},{b.y0}-{b.x1},{b.y1}" for b in ins.boxes[:3])
        text += f", region{'s' if len(ins.boxes) > 1 else ''} at {where}"
    boxes = tuple((b.x0, b.y0, b.x1, b.y1) for b in ins.boxes)
    scale = band_width if band_width > 0 else max(abs(ins.threshold) * 0.05, 1e-6)
    return Evidence("image", f"image:{n}#inspector:{name}", text, confidence(ins, band_width, scale), boxes)


def confidence(ins, band_width: float, scale: float) -> float:
    """``1 - 0.5 * exp(-margin / scale)`` with ``margin`` the score's distance beyond the band (0 inside)."""
    margin = max(0.0, abs(ins.score - ins.threshold) - band_width)
    return round(1.0 - 0.5 * math.exp(-margin / scale), 4) if ins.verdict != "cannot tell" else 0.0


def asks_about_defects(question: str) -> bool | None:
    """True for a yes/no question whose "yes" means a defect ("is this part defective?"), False for one
    whose "yes" means fine ("is the part ok?", "is it not defective?"), None for any other question."""
    if not _YES_NO.search(question):
        return None
    defect, fine = bool(_DEFECT.search(question)), bool(_FINE.search(question))
    if defect == fine:  # neither, or both ("is it good or defective?"): not a yes/no about defects
        return None
    return defect != bool(_NEGATION.search(question))


def answer(question: str, evidence: Sequence[Evidence]) -> Answer | None:
    """The answer from inspector evidence to a yes/no defect question, or None (not such a question, or no
    inspector evidence): the answerer then answers as usual."""
    polarity = asks_about_defects(question)
    facts = [e for e in evidence if "#inspector:" in e.locator]
    if polarity is None or not facts:
        return None
    verdicts = [_verdict_of(e) for e in facts]
    defects = [e for e, v in zip(facts, verdicts) if v == "defect"]
    detail = "; ".join(e.text for e in facts)
    if defects:
        found, cites = True, tuple(defects)
    elif all(v == "ok" for v in verdicts):
        found, cites = False, tuple(facts)
    else:
        unsure = tuple(e for e, v in zip(facts, verdicts) if v != "ok")
        return Answer(ABSTAIN_TEXT, 0.0, True, unsure, detail=f"near the threshold: {detail}", route=ROUTE)
    text = "yes" if found == polarity else "no"
    conf = min(e.score for e in cites)
    return Answer(text, conf, False, cites, detail=detail, route=ROUTE, signals={"images": float(len(facts))})


def _verdict_of(ev: Evidence) -> str:
    """The verdict :func:`evidence_of` wrote into the text ("... threshold T (VERDICT; ...")."""
    found = _VERDICT.search(ev.text)
    return found.group(1) if found else "cannot tell"
