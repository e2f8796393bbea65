"""Everyday nouns -> the ImageNet-1k concepts under them, through WordNet (issue 14, item 4).

``dog`` covers the 118 dog breeds, ``car`` the car classes, ``bottle`` the beer, wine, water, pop and pill bottles.
The table (``imagenet_concepts.json``, next to this file) is built once from WordNet 3.0 by
:mod:`eval.wordnet_concepts` and shipped: no NLTK, no download. A noun with no concept under it (``fork``,
``snow``) has no entry, and the answerer abstains for it instead of answering "no".

People are seen by the classifier mostly through what they wear: the people evidence is the concepts under
*person*, *clothing* and *headdress* (:data:`PEOPLE_NOUNS`), a fixed WordNet choice, not fitted to any data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from multimodal.errors import ConfigError

SHIPPED = Path(__file__).with_name("imagenet_concepts.json")
PEOPLE_NOUNS = ("person", "clothing", "headdress")
#: Words too general to say anything about an image ("is there an object?")
TOO_GENERAL = frozenset({"object", "thing", "entity", "physical_entity", "whole", "artifact", "item", "matter"})
_PLURAL_RULES = (("ies", "y"), ("ves", "f"), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"))
_PLURAL_RULES += (("shes", "sh"), ("men", "man"), ("es", "e"), ("es", ""), ("s", ""))


@dataclass(frozen=True)
class ConceptTable:
    """``words``: WordNet noun lemma (underscored, lower case) -> ImageNet class indices under it;
    ``plurals``: irregular plural -> lemma."""

    words: Mapping[str, tuple[int, ...]]
    plurals: Mapping[str, str] = field(default_factory=dict)
    provenance: Mapping[str, object] = field(default_factory=dict)

    def lookup(self, noun: str) -> tuple[str, tuple[int, ...]] | None:
        """(the lemma it matched, its class indices) for ``noun`` ("cell phone", "skis", "wine glass"), or
        ``None`` when no concept lies under it. Tries the phrase, then its head noun (the last word: a wine
        glass is a glass)."""
        for lemma in lemma_candidates(noun):
            if lemma in TOO_GENERAL:
                return None
            lemma = self.plurals.get(lemma, lemma)
            if lemma in self.words:
                return lemma, self.words[lemma]
        return None

    def people(self) -> tuple[int, ...]:
        """The classes that show people or what they wear (:data:`PEOPLE_NOUNS`)."""
        found: set[int] = set()
        for noun in PEOPLE_NOUNS:
            found.update(self.words.get(noun, ()))
        return tuple(sorted(found))


def lemma_candidates(noun: str) -> list[str]:
    """Pure: the WordNet lemma spellings to try for ``noun``, most specific first: the phrase with underscores,
    run together, its singular forms, then the same for its last word."""
    words = re.findall(r"[a-z0-9'-]+", noun.lower())
    if not words:
        return []
    out: list[str] = []
    for phrase in (words, words[-1:]) if len(words) > 1 else (words,):
        joined = "_".join(phrase)
        out += [joined, "".join(phrase)] if len(phrase) > 1 else [joined]
        out += [joined[: -len(end)] + new for end, new in _PLURAL_RULES if joined.endswith(end) and len(joined) > 3]
    return list(dict.fromkeys(out))


@cache
def load_concepts(path: str | None = None) -> ConceptTable:
    """The shipped table (or one at ``path``), read once per process."""
    source = Path(path) if path else SHIPPED
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
        words = {str(k): tuple(int(i) for i in v) for k, v in data["words"].items()}
        return ConceptTable(words, dict(data.get("plurals", {})), dict(data.get("provenance", {})))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"concept table {source}: cannot read it ({type(exc).__name__}: {exc}); rebuild it with "
            "python -m eval.wordnet_concepts --wordnet DIR, or reinstall sceneqa"
        ) from exc
