"""What a question asks, as a pure function of its text (no models): the lite answerer's router.

Kinds (``Question.kind``) and what ``subject`` holds for each:

- ``presence``: yes/no "is there ...", with or without an article ("are there skis", "is there snow",
  "is anyone in the picture"); ``subject`` the thing (``"person"`` for anyone/anybody/someone), ``negated``
  for "is there not / no ...", "isn't there ...", "is nobody ...".
- ``colour``, ``shape``, ``count``: "what colour is the car" (``"car"``), "what shape ...", "how many ...".
- ``text``: questions about written text; ``subject`` names the text that fits: ``"plate"`` (licence plates),
  ``"number"`` ("what number is on the bus"), ``""`` (any text: "what does the sign say").
- ``identify``: "what is this" (``""``) or a category: "what animal is this", "what kind of vehicle is shown"
  (``"animal"``, ``"vehicle"``).
- ``where``: "where is the cat", "where in the picture are the cups", "show me where the dog is", "locate the
  red car", "find the bus"; ``subject`` the thing to find. Questions about the photo itself ("where was this
  taken", "where are we") and about motion ("where is the man looking") are ``open``.
- ``describe``: open scene questions: "what is happening", "describe the image", "what is in the picture".
- ``open``: everything else, answered from attached records or not at all; also every question with letters
  of a script other than Latin or with emoji: the router reads English and does not guess a kind for those.

Bad input raises: empty, whitespace or only punctuation/symbols -> :class:`EmptyInputError`; longer than
:data:`MAX_QUESTION_CHARS` -> :class:`ConfigError`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from multimodal.errors import ConfigError, EmptyInputError

MAX_QUESTION_CHARS = 1000
KINDS = ("presence", "colour", "shape", "count", "text", "where", "identify", "describe", "open")

_ARTICLES = r"(?:a lot of|lots of|an?|the|any|some|many|much)\s+"
_PIC = r"(?:image|picture|photo|photograph|pic|scene|shot|frame|painting|drawing)"
_WHERE = r"(?:\s+(?:in|on) (?:the|this|that) " + _PIC + r"|\s+here|\s+there|\s+visible|\s+present|\s+shown)?"
_PEOPLE = r"(?:anyone|anybody|someone|somebody)"
_NOBODY = r"(?:no ?one|nobody)"
_THE_PIC = r"(?:the|this|that) " + _PIC
_CONTRACTIONS = {
    "what's": "what is",
    "what're": "what are",
    "there's": "there is",
    "isn't": "is not",
    "aren't": "are not",
    "doesn't": "does not",
    "don't": "do not",
    "can't": "can not",
    "cannot": "can not",
}


@dataclass(frozen=True)
class Question:
    """``kind``: one of :data:`KINDS`. ``subject``: the thing asked about (``"red shape"``), the category to
    identify (``"animal"``) or the text that fits (``"plate"``, ``"number"``); ``""`` when none.
    ``negated``: the question is phrased in the negative."""

    text: str
    kind: str
    subject: str = ""
    negated: bool = False


_Route = tuple[str, str, bool]

_PRESENCE = [
    (r"^(?:is|are) there not\s+(?:" + _ARTICLES + r")?(?P<s>.+?)" + _WHERE + "$", True),
    (r"^(?:is|are) not there\s+(?:" + _ARTICLES + r")?(?P<s>.+?)" + _WHERE + "$", True),
    (r"^(?:is|are) there no\s+(?P<s>.+?)" + _WHERE + "$", True),
    (r"^(?:is|are) there\s+(?:" + _ARTICLES + r")?(?P<s>.+?)" + _WHERE + "$", False),
    (r"^does " + _THE_PIC + r" not (?:contain|show|have|include)\s+(?:" + _ARTICLES + r")?(?P<s>.+)$", True),
    (r"^does " + _THE_PIC + r" (?:contain|show|have|include)\s+(?:" + _ARTICLES + r")?(?P<s>.+)$", False),
    (r"^is no\s+(?P<s>.+?)\s+(?:present|visible|shown)$", True),
    (r"^(?:is|are)\s+(?:" + _ARTICLES + r")?(?P<s>.+?)\s+(?:present|visible|shown)$", False),
    (r"^(?:can you see|do you see|do i see)\s+(?:" + _ARTICLES + r")?(?P<s>.+?)" + _WHERE + "$", False),
]
_PEOPLE_PRESENCE = [
    (r"^(?:is|are) (?:there )?" + _NOBODY + r"\b.*$", True),
    (r"^(?:is|are) (?:not (?:there )?|there not )" + _PEOPLE + r"\b.*$", True),
    (r"^(?:is|are) (?:there )?" + _PEOPLE + r"(?:\s+(?:in|on|at|here|there|visible|present|shown)\b.*)?$", False),
    (r"^(?:can|do) you see " + _PEOPLE + r"\b.*$", False),
]
_COLOUR = [
    r"^what color (?:is|are) (?:the |this |that |these |those )?(?P<s>.+)$",
    r"^what is the color of (?:the |this |that )?(?P<s>.+)$",
    r"^which color (?:is|are) (?:the )?(?P<s>.+)$",
]
_SHAPE = [
    r"^what shape (?:is|does|are)\b.*$",
    r"^what is the (?P<s>.+?) shape$",
    r"^what (?:is|are) the shapes?\b.*$",
    r"^which shape\b.*$",
]
_COUNT = r"^how many (?P<s>.+?)(?:\s+(?:are|is) (?:there|in|on|visible|shown).*|\s+(?:do|can) you see.*)?$"
_PLATE_NOUN = r"\b(?:(?:licen[cs]e|number|registration|car|vehicle) plates?|plate number|registration number)\b"
# "what state is the plate from" asks about the plate, not for its text
_PLATE_ASK = r"^(?:(?:what|which)(?! (?:state|country|kind|type|sort|size|brand|make)\b)|read|tell me|can you read)\b"
_PLATE_READ = r"^(?:what (?:does|do)|read) (?:the |this |that )?plates?\b"
_NUMBER = [
    r"^(?:what|which) (?:numbers?|digits?)\b(?! of\b).*$",
    r"^what (?:is|are) (?:the|this|that) (?:[\w']+ )?numbers?(?:\s+(?:on|in|at|written|shown|displayed|painted|"
    r"printed)\b.*)?$",
]
_TEXT = (
    r"\b(?:what (?:does|do) (?:the |this |that |these |those )?(?:[\w']+ )?(?:text|sign|signs|label|note|screen|"
    r"page|document|letters|words|writing|banner|poster|board|caption)\b.*say|read the (?:text|sign|label|writing)|"
    r"what (?:is|are) written|what (?:is|are) the (?:text|writing|words|caption)\b|what text|what does it say|"
    r"what (?:word|words|letters?) (?:is|are|does|do)\b|transcribe)"
)
_IDENTIFY_THIS = (
    r"^what (?:is|are) (?:it|(?:this|that|these|those)(?: (?P<s>[a-z]+))?)(?: (?:in|on) " + _THE_PIC + r"| here|"
    r" there| an? " + _PIC + r" of)?$"
)
_KIND_OF = r"(?:kind|type|sort|species|breed|variety)s? of"
_IDENTIFY_KIND = (
    r"^(?:what|which) " + _KIND_OF + r" (?P<s>.+?)(?:\s+(?:is|are|was|were|do|does|did|can|could|would|will|has|"
    r"have|in|on|at|near|from)\b.*)?$"
)
_IDENTIFY_CATEGORY = (
    r"^(?:what|which) (?P<s>[a-z]+) (?:is|are) (?:this|that|these|those|it|they|shown|visible|pictured|depicted|"
    r"present|here|there|in|on|at|near|being)\b.*$"
)
#: "what X is ..." words that are not a category of thing in view (time, size, ...): left ``open``.
_NOT_CATEGORIES = frozenset(
    "time day date month year hour age number numbers size temperature price score percentage way side "
    "direction letter letters word words language brand color shape".split()
)
_GENERIC = frozenset({"thing", "things", "object", "objects", "item", "items", "stuff"})
#: "what is this X" words that ask something other than what it is ("what is that doing"): left ``open``.
_NOT_THINGS = frozenset({"doing", "for", "about", "called", "made", "used", "from", "of", "like"})
_POSE = r"(?:\s+(?:located|placed|positioned|sitting|standing|lying|parked|kept|hiding|shown|visible))?"
_IN_PIC = r"(?:\s+(?:in|on) " + _THE_PIC + r")?"
_WHERE_Q = [
    r"^where(?:'s| is| are| was| were) (?:" + _ARTICLES + r")?(?P<s>.+?)" + _POSE + _IN_PIC + "$",
    r"^where (?:in|on) " + _THE_PIC + r" (?:is|are) (?:" + _ARTICLES + r")?(?P<s>.+?)" + _POSE + "$",
    r"^(?:(?:can|could) you )?(?:show me|tell me|point out) where (?:"
    + _ARTICLES
    + r")?(?P<s>.+?) (?:is|are)"
    + _POSE
    + _IN_PIC
    + "$",
    r"^(?:(?:can|could) you )?(?:locate|find|show me|point to|point at|point out)\s+(?:" + _ARTICLES + r")?"
    r"(?P<s>.+?)" + _IN_PIC + "$",
]
#: a where-subject starting with these asks about the photo or the viewer ("where was this taken"): ``open``
_NOT_WHERE_START = frozenset(
    "this that these those it we you i they he she here there photo picture image pic scene shot".split()
)
#: ... or ending with these asks where something goes or comes from ("where is the man looking"): ``open``
_NOT_WHERE_END = frozenset({"taken", "from", "to", "made", "shot", "bought", "sold", "headed"})
_DESCRIBE = [
    r"^what (?:is|are) (?:happening|going on)(?: (?:in|on) " + _THE_PIC + r"| here| there)?$",
    r"^what (?:is|are) (?:the people|they|people|everyone) doing(?: (?:in|on) " + _THE_PIC + r")?$",
    r"^(?:what (?:do|can) you see|what can be seen)(?: (?:in|on) " + _THE_PIC + r")?$",
    r"^what (?:is|are) (?:in|on) " + _THE_PIC + r"$",
    r"^what (?:is|are) (?:shown|depicted|pictured)(?: (?:in|on) " + _THE_PIC + r")?$",
    r"^what does " + _THE_PIC + r" (?:show|depict|contain)$",
    r"^what is " + _THE_PIC + r" (?:of|about|showing)$",
    r"^(?:describe|caption|summari[sz]e|tell me about)(?: (?:the|this|that) (?P<s>.+?))?"
    r"(?: in (?:detail|brief|short|one sentence|a sentence|a few words))?$",
]


def parse_question(text: str) -> Question:
    """Classify a question. Raises :class:`EmptyInputError` for empty input or input with no words (only
    punctuation or symbols) and :class:`ConfigError` for input over :data:`MAX_QUESTION_CHARS` characters."""
    q = _normalise(_checked(text))
    if _foreign(q):
        return Question(text, "open")
    routes: tuple[Callable[[str], _Route | None], ...] = (
        _colour,  # before text: "what colour is the licence plate" asks for a colour
        _shape,
        _count,
        _text,
        _where,
        _presence,
        _identify,
        _describe,
    )
    for route in routes:
        found = route(q)
        if found is not None:
            return Question(text, *found)
    return Question(text, "open")


def _checked(text: str) -> str:
    if not text or not text.strip():
        raise EmptyInputError("the question is empty; ask something, e.g. 'what colour is the car?'")
    if len(text) > MAX_QUESTION_CHARS:
        raise ConfigError(
            f"the question is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}; shorten the question"
        )
    if not any(unicodedata.category(ch)[0] in "LN" or unicodedata.category(ch) == "So" for ch in text):
        shown = text.strip()[:40]
        raise EmptyInputError(
            f"the question {shown!r} has no words, only punctuation or symbols; ask something in words, "
            "e.g. 'what colour is the car?'"
        )
    return text


def _normalise(text: str) -> str:
    q = text.lower().replace("\u2019", "'").replace("colour", "color")
    q = " ".join(_CONTRACTIONS.get(w, w) for w in q.split())
    return q.strip(" ?.!\u00bf\u00a1\u2026,;:")


def _foreign(q: str) -> bool:
    """Letters of a script other than Latin, or emoji/pictographs (category So): not routed by English rules."""
    for ch in q:
        cat = unicodedata.category(ch)
        if cat == "So" or (cat[0] == "L" and not unicodedata.name(ch, "").startswith("LATIN")):
            return True
    return False


def _text(q: str) -> _Route | None:
    if (re.search(_PLATE_NOUN, q) and re.match(_PLATE_ASK, q)) or re.match(_PLATE_READ, q):
        return ("text", "plate", False)
    if any(re.match(p, q) for p in _NUMBER):
        return ("text", "number", False)
    if re.search(_TEXT, q):
        return ("text", "", False)
    return None


def _colour(q: str) -> _Route | None:
    for pattern in _COLOUR:
        m = re.match(pattern, q)
        if m:
            return ("colour", _clean(m.group("s")), False)
    return None


def _shape(q: str) -> _Route | None:
    for pattern in _SHAPE:
        m = re.match(pattern, q)
        if m:
            return ("shape", _clean(m.groupdict().get("s") or ""), False)
    return None


def _count(q: str) -> _Route | None:
    m = re.match(_COUNT, q)
    return ("count", _clean(m.group("s")), False) if m else None


def _where(q: str) -> _Route | None:
    for pattern in _WHERE_Q:
        m = re.match(pattern, q)
        if m:
            subject = _clean(m.group("s"))
            words = subject.split()
            if not words or words[0] in _NOT_WHERE_START or words[-1] in _NOT_WHERE_END:
                return None
            if words[-1].endswith("ing") and len(words) > 1:  # "where is the man going / looking"
                return None
            return ("where", "person" if re.fullmatch(_PEOPLE + "|everyone|everybody", subject) else subject, False)
    return None


def _presence(q: str) -> _Route | None:
    for pattern, negated in _PEOPLE_PRESENCE:
        if re.match(pattern, q):
            return ("presence", "person", negated)
    for pattern, negated in _PRESENCE:
        m = re.match(pattern, q)
        if m:
            subject = _clean(m.group("s"))
            # "is there a?" names nothing: not a presence question we can answer
            return ("presence", subject, negated) if subject not in _EMPTY_SUBJECTS else None
    return None


def _identify(q: str) -> _Route | None:
    m = re.match(_IDENTIFY_THIS, q)
    if m:
        word = m.group("s") or ""
        if word not in _NOT_THINGS:
            return ("identify", "" if word in _GENERIC else word, False)
    for pattern in (_IDENTIFY_KIND, _IDENTIFY_CATEGORY):
        m = re.match(pattern, q)
        if m and m.group("s") not in _NOT_CATEGORIES:
            return ("identify", _clean(m.group("s")), False)
    return None


def _describe(q: str) -> _Route | None:
    for pattern in _DESCRIBE:
        m = re.match(pattern, q)
        if m:
            subject = _clean(m.groupdict().get("s") or "")
            return ("describe", "" if re.fullmatch(_PIC, subject) else subject, False)
    return None


_EMPTY_SUBJECTS = frozenset({"", "a", "an", "the", "any", "some"})


def _clean(subject: str) -> str:
    s = re.sub(r"\s+(?:in|on) (?:the|this|that) " + _PIC + r"$", "", subject.strip())
    s = re.sub(r"^(?:an?|the|any)\s+", "", s)
    return s.strip()
