"""Plain records exchanged with the catalog store: items, metadata values and their types."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from retrieval.errors import MetadataLimitError

MetaValue = str | int | float | None
COLUMN_TYPES = ("integer", "real", "date", "text")

# Documented metadata caps (README, security section). Per item, checked before anything is written:
#: metadata keys per item (an update counts the keys the item holds afterwards).
MAX_KEYS = 64
#: characters per metadata key.
MAX_KEY_CHARS = 64
#: characters per text metadata value.
MAX_TEXT_CHARS = 4096
#: declared metadata columns (typed, indexed, one filter widget each) per catalog, even for trusted writers;
#: any other key is kept in the item's ``extra`` JSON object, so clients cannot grow the SQLite schema.
MAX_COLUMNS = 64
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


@dataclass(frozen=True)
class ItemRecord:
    """One catalog item to store. ``vector`` is float32 ``(dim,)``, unit norm; ``None`` only when the
    item is already stored with the same content (``sha256``) and just its metadata is refreshed."""

    id: str
    image: str
    sha256: str
    vector: np.ndarray | None
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredItem:
    """An item as read back (no vector)."""

    vid: int
    id: str
    image: str
    metadata: Mapping[str, MetaValue]

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "image": self.image, "metadata": dict(self.metadata)}


def check_metadata(item_id: str, metadata: Mapping[str, MetaValue]) -> None:
    """Raise :class:`MetadataLimitError` naming the item, the rule and the fix when ``metadata`` breaks a cap."""
    who = f"item {_short(item_id)}"
    if len(metadata) > MAX_KEYS:
        raise MetadataLimitError(
            f"{who}: {len(metadata)} metadata keys, at most {MAX_KEYS} keys per item; drop or merge keys"
        )
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise MetadataLimitError(f"{who}: metadata key {key!r} is not text; use string keys")
        if len(key) > MAX_KEY_CHARS:
            raise MetadataLimitError(
                f"{who}: metadata key {_short(key)} has {len(key)} characters, at most {MAX_KEY_CHARS} "
                "characters per key; shorten it"
            )
        if any(unicodedata.category(ch) == "Cc" for ch in key):
            raise MetadataLimitError(
                f"{who}: metadata key {_short(key)} contains a control character (NUL, newline, tab...); "
                "no control characters in keys; remove them"
            )
        if not _utf8(key):
            raise MetadataLimitError(f"{who}: metadata key {_short(key)} is not valid Unicode text (a lone surrogate)")
        if value is not None and not isinstance(value, str | int | float):
            raise MetadataLimitError(
                f"{who}: metadata value of {_short(key)} is a {type(value).__name__}; values are text, numbers, "
                "booleans or null (flatten nested objects into their own keys)"
            )
        if isinstance(value, float) and not math.isfinite(value) and not math.isnan(value):
            raise MetadataLimitError(f"{who}: metadata value of {_short(key)} is infinite; send a finite number")
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
            raise MetadataLimitError(
                f"{who}: metadata value of {_short(key)} is outside the 64-bit integer range; send it as text"
            )
        if isinstance(value, str) and not _utf8(value):
            raise MetadataLimitError(f"{who}: metadata value of {_short(key)} is not valid Unicode text")
        if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
            raise MetadataLimitError(
                f"{who}: metadata value of {_short(key)} has {len(value)} characters, at most "
                f"{MAX_TEXT_CHARS} characters per text value; shorten it or keep long text outside the catalog"
            )


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (JSON "\\ud800") cannot be stored or sent back
        return False
    return True


def _short(text: object, limit: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def value_type(value: MetaValue) -> str | None:
    """The column type a value needs: ``integer``, ``real``, ``date`` (ISO 8601 text) or ``text``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "integer"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    return "date" if _DATE.match(value) else "text"


def widen(current: str | None, new: str | None) -> str | None:
    """The narrowest type holding both: integer < real; date and numbers fall back to text."""
    if current is None or current == new:
        return new or current
    if new is None:
        return current
    if {current, new} == {"integer", "real"}:
        return "real"
    return "text"


def parse_scalar(text: str) -> MetaValue:
    """A catalog cell (CSV text) as a typed value: ``"2012"`` -> 2012, ``"4.5"`` -> 4.5, ``""`` -> None."""
    s = text.strip()
    if s == "":
        return None
    if re.fullmatch(r"[+-]?\d{1,18}", s):
        return int(s)
    if re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?", s):
        try:
            value = float(s)
        except ValueError:
            return s
        return value if np.isfinite(value) else s
    return s
