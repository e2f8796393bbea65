"""The ``extra`` JSON column of the catalog store: metadata keys that are not declared columns (client keys, keys
past the column cap), kept in one JSON object per item so clients can never grow the schema."""

from __future__ import annotations

import json
import math

from retrieval.records import MetaValue


def merge_extra(old: dict[str, MetaValue], new: dict[str, MetaValue]) -> dict[str, MetaValue]:
    """``old`` updated with ``new``; ``None`` (or NaN, which SQLite stores as NULL too) clears a key."""
    out = dict(old)
    for name, value in new.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.pop(name, None)
        else:
            out[name] = int(value) if isinstance(value, bool) else value
    return out


def dump_extra(extra: dict[str, MetaValue]) -> str | None:
    """A JSON object SQLite's JSON functions read (``9e999`` for infinity, which SQLite reads as Inf)."""
    if not extra:
        return None
    parts = []
    for name, value in extra.items():
        if isinstance(value, float) and math.isinf(value):
            encoded = "9e999" if value > 0 else "-9e999"
        else:
            encoded = json.dumps(value)
        parts.append(f"{json.dumps(name)}: {encoded}")
    return "{" + ", ".join(parts) + "}"


def load_extra(raw: str | None) -> dict[str, MetaValue]:
    return json.loads(raw) if raw else {}
