"""Evidence given to an answerer and the Answer it returns, as plain frozen dataclasses.

Every citation of an answer must be one of the evidence items the answerer was given
(:func:`check_citations`); an answer citing anything else is a bug, not a style problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

EVIDENCE_KINDS = ("image", "item", "context", "ocr")
ABSTAIN_TEXT = "cannot tell from this image and these records"


@dataclass(frozen=True)
class Evidence:
    """One numbered piece of evidence. ``locator`` is stable and human-readable:
    ``image:1``, ``image:1#colour``, ``item:SKU123``, ``inspection.log:L12-L14``, ``records.csv:row 3``,
    ``image:1#ocr:L2``. ``score`` is its relevance or confidence in [0, 1]."""

    kind: str
    locator: str
    text: str
    score: float = 1.0
    #: where in the image the fact lies: (left, top, right, bottom) pixel boxes of the image it cites (people,
    #: regions, text lines); empty for facts about the whole image and for records and catalog items
    boxes: tuple[tuple[int, int, int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise ValueError(f"evidence kind {self.kind!r} is not one of {', '.join(EVIDENCE_KINDS)}")

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "locator": self.locator,
            "text": self.text,
            "score": round(float(self.score), 4),
        }
        if self.boxes:
            out["boxes"] = [list(b) for b in self.boxes]
        return out


@dataclass(frozen=True)
class Answer:
    text: str
    confidence: float
    abstained: bool
    citations: tuple[Evidence, ...] = ()
    detail: str = ""
    models: Mapping[str, str] = field(default_factory=dict)
    tier: str = ""
    notices: tuple[str, ...] = ()
    derived: tuple[Evidence, ...] = ()  # facts the answerer established from the images (listed as evidence)
    route: str = ""  # lite: the calibration key of the route that answered (or drafted), e.g. presence:concept:no
    signals: Mapping[str, float] = field(default_factory=dict)  # lite: what the route measured (fitting, analysis)

    def as_dict(self) -> dict[str, object]:
        return {
            "answer": self.text,
            "detail": self.detail,
            "confidence": round(float(self.confidence), 4),
            "abstained": self.abstained,
            "citations": [c.as_dict() for c in self.citations],
            "models": dict(self.models),
            "tier": self.tier,
            "notices": list(self.notices),
        }


class CitationError(AssertionError):
    """An answer cites evidence it was not given (a programming error in an answerer)."""


def check_citations(answer: Answer, evidence: Sequence[Evidence]) -> Answer:
    """Return ``answer`` if every citation is in ``evidence`` (by kind and locator), else raise."""
    given = {(e.kind, e.locator) for e in evidence}
    stray = [c.locator for c in answer.citations if (c.kind, c.locator) not in given]
    if stray:
        raise CitationError(f"answer cites evidence it was not given: {', '.join(stray)}")
    return answer
