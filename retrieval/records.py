"""Plain records exchanged with the catalog store: items, metadata values and their types."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

MetaValue = str | int | float | None
COLUMN_TYPES = ("integer", "real", "date", "text")
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
