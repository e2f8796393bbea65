"""What a question asks, as a pure function of its text (no models): the lite answerer's router.

Recognised: yes/no presence questions (with negation: "is there not a ...", "is no ... present"),
"what colour", "what shape", "how many", "what does the text say", "what is this", and everything else
(``open``), which is answered from attached records or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from multimodal.errors import ConfigError, EmptyInputError

MAX_QUESTION_CHARS = 1000

_ARTICLES = r"(?:an?|the|any|some)\s+"


@dataclass(frozen=True)
class Question:
    """``kind``: presence, colour, shape, count, text, identify or open. ``subject``: the thing asked about
    (``"red shape"``), ``negated``: the question is phrased in the negative."""

    text: str
    kind: str
    subject: str = ""
    negated: bool = False


_PRESENCE = [
    (r"^is there not\s+" + _ARTICLES + r"?(?P<s>.+?)(?:\s+in the (?:image|picture|photo))?$", True),
    (r"^is there no\s+(?P<s>.+?)(?:\s+in the (?:image|picture|photo))?$", True),
    (r"^are there no\s+(?P<s>.+?)(?:\s+in the (?:image|picture|photo))?$", True),
    (r"^(?:is|are) there\s+" + _ARTICLES + r"?(?P<s>.+?)(?:\s+in the (?:image|picture|photo))?$", False),
    (r"^does (?:the|this) (?:image|picture|photo) not (?:contain|show|have)\s+" + _ARTICLES + r"?(?P<s>.+)$", True),
    (r"^does (?:the|this) (?:image|picture|photo) (?:contain|show|have)\s+" + _ARTICLES + r"?(?P<s>.+)$", False),
    (r"^is no\s+(?P<s>.+?)\s+(?:present|visible|shown)$", True),
    (r"^(?:is|are)\s+" + _ARTICLES + r"?(?P<s>.+?)\s+(?:present|visible|shown)$", False),
    (r"^(?:can you see|do you see|do i see)\s+" + _ARTICLES + r"?(?P<s>.+)$", False),
]
_COLOUR = [
    r"^what (?:colou?r) (?:is|are) (?:the |this |that )?(?P<s>.+)$",
    r"^what is the colou?r of (?:the |this |that )?(?P<s>.+)$",
    r"^which colou?r (?:is|are) (?:the )?(?P<s>.+)$",
]
_SHAPE = [
    r"^what shape (?:is|does|are)\b.*$",
    r"^what is the (?P<s>.+?) shape$",
    r"^what (?:is|are) the shapes?\b.*$",
    r"^which shape\b.*$",
]
_COUNT = r"^how many (?P<s>.+?)(?:\s+(?:are|is) (?:there|in|on|visible|shown).*|\s+(?:do|can) you see.*)?$"
_TEXT = (
    r"\b(what does (?:the |this |that )?(?:text|sign|label|note|screen|page|document)\b.*say|read the text|"
    r"what (?:is|are) written|what text|what does it say|transcribe)"
)
_IDENTIFY = (
    r"^(?:what is (?:this|that|it|in the (?:image|picture|photo))|what (?:is|are) shown|"
    r"what do you see|describe (?:the |this )?(?:image|picture|photo|scene))\b"
)


def parse_question(text: str) -> Question:
    """Classify a question. Raises :class:`EmptyInputError` / :class:`ConfigError` for empty or huge input."""
    if not text or not text.strip():
        raise EmptyInputError("the question is empty; ask something, e.g. 'what colour is the car?'")
    if len(text) > MAX_QUESTION_CHARS:
        raise ConfigError(f"the question is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}")
    q = " ".join(text.strip().lower().replace("colour", "color").split()).rstrip("?.! ")
    if re.search(_TEXT, q):
        return Question(text, "text")
    for pattern in _COLOUR:
        m = re.match(pattern.replace("colou?r", "color"), q)
        if m:
            return Question(text, "colour", _clean(m.group("s")))
    for pattern in _SHAPE:
        m = re.match(pattern, q)
        if m:
            return Question(text, "shape", _clean(m.groupdict().get("s") or ""))
    m = re.match(_COUNT, q)
    if m:
        return Question(text, "count", _clean(m.group("s")))
    for pattern, negated in _PRESENCE:
        m = re.match(pattern, q)
        if m:
            return Question(text, "presence", _clean(m.group("s")), negated)
    if re.match(_IDENTIFY, q):
        return Question(text, "identify")
    return Question(text, "open")


def _clean(subject: str) -> str:
    s = re.sub(r"\s+(?:in|on) the (?:image|picture|photo)$", "", subject.strip())
    s = re.sub(r"^(?:an?|the|any)\s+", "", s)
    return s.strip()
