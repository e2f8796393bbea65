"""Which read text answers a text question: pure functions of OCR lines (no models).

A text question names the kind of text it wants (``Question.subject`` of a ``text`` question, see
:mod:`multimodal.ask.questions`): ``"plate"`` ("what is the licence plate number?"), ``"number"`` ("what number
is on the bus?") or ``""`` (any text: "what does the sign say?"). :func:`fit_text` keeps, from the lines an OCR
reader returned, the text of that kind, so the answer is the plate or the number rather than everything read.

What fits:

- ``"plate"``: a run of tokens of ASCII letters and digits joined by single spaces or hyphens, holding 2 to 10
  letters and digits in all, at least one of each (``"ABC 1234"``, ``"KA-01-AB-1234"``, ``"7ABC123"``). Plates are
  printed in capitals, and their letter-only groups are short, so a token with a lowercase letter, or of 4 or
  more letters and no digit, is never part of one: ordinary words ("Room 101", "Exit 12") do not fit.
- ``"number"``: digit groups, possibly joined by one of ``. , : ' / -`` (``"42"``, ``"1,250"``, ``"555-0199"``);
  the numeric part of a line is returned (``"Bus 42"`` -> ``"42"``).
- ``""``: every line, unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from multimodal.errors import UnknownNameError

TARGETS = ("", "plate", "number")
PLATE_MIN_CHARS, PLATE_MAX_CHARS = 2, 10

_RUN = re.compile(r"[A-Za-z0-9]+(?:(?: ?- ?| )[A-Za-z0-9]+)*")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_NUMBER = re.compile(r"\d+(?:[.,:'/-]\d+)*")


def fit_text(target: str, lines: Sequence[str]) -> list[tuple[int, str]]:
    """``(line index, fitting text)`` pairs, in line order and then left to right; a line may give several
    (two numbers) or none. ``target``: one of :data:`TARGETS`. ``[]`` when nothing fits; the caller then says
    no such text was read rather than answering with other text."""
    if target not in TARGETS:
        raise UnknownNameError(f"unknown text target {target!r}; known: {', '.join(repr(t) for t in TARGETS)}")
    if target == "":
        return list(enumerate(lines))
    find = plate_spans if target == "plate" else number_spans
    return [(i, span) for i, line in enumerate(lines) for span in find(line)]


def number_spans(line: str) -> list[str]:
    """The numbers in ``line``, as written (separators kept)."""
    return _NUMBER.findall(line)


def plate_spans(line: str) -> list[str]:
    """The plate-like substrings of ``line``, longest first from each left-most start, not overlapping."""
    out = []
    for run in _RUN.finditer(line):
        text = run.group()
        tokens = list(_TOKEN.finditer(text))
        i = 0
        while i < len(tokens):
            end = _longest_plate(tokens, i)
            if end is None:
                i += 1
                continue
            out.append(text[tokens[i].start() : tokens[end].end()])
            i = end + 1
    return out


def _longest_plate(tokens: list[re.Match[str]], start: int) -> int | None:
    """Index of the last token of the longest plate that begins at ``tokens[start]``; None when none does."""
    best, chars = None, ""
    for j in range(start, len(tokens)):
        tok = tokens[j].group()
        chars += tok
        if len(chars) > PLATE_MAX_CHARS or not _plate_token(tok):
            break
        if len(chars) >= PLATE_MIN_CHARS and any(c.isdigit() for c in chars) and any(c.isalpha() for c in chars):
            best = j
    return best


def _plate_token(tok: str) -> bool:
    if any(c.islower() for c in tok):
        return False
    return any(c.isdigit() for c in tok) or len(tok) <= 3
