"""Metadata filters: ``articleType=Tshirts``, ``year>=2012``, ``baseColour in (Red, Blue)``, ``price!=0``.

Parsing is pure; compiling checks each filter against the store's schema (unknown column, wrong value
type) and yields a parameterised SQL WHERE clause over generated column names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.errors import FilterError
from retrieval.records import parse_scalar, value_type

OPERATORS = ("<=", ">=", "!=", "=", "<", ">", "in")
_COMPARE = re.compile(r"^\s*(?P<col>[^<>=!]+?)\s*(?P<op><=|>=|!=|==|=|<|>)\s*(?P<val>.*?)\s*$")
_IN = re.compile(r"^\s*(?P<col>.+?)\s+(?P<neg>not\s+)?in\s*\((?P<vals>.*)\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        if self.op in ("in", "not in"):
            return f"{self.column} {self.op} ({', '.join(self.values)})"
        return f"{self.column}{self.op}{self.values[0]}"


def parse_filter(text: str) -> Filter:
    """Parse one filter expression. Raises :class:`FilterError` showing the accepted forms."""
    m = _IN.match(text)
    if m:
        values = tuple(v.strip().strip("'\"") for v in m.group("vals").split(",") if v.strip())
        if not values:
            raise FilterError(f"filter {text!r}: 'in' needs at least one value, e.g. baseColour in (Red, Blue)")
        return Filter(m.group("col").strip(), "not in" if m.group("neg") else "in", values)
    m = _COMPARE.match(text)
    if not m or not m.group("val"):
        raise FilterError(
            f"filter {text!r} is not understood; use COLUMN=VALUE, COLUMN!=VALUE, COLUMN<VALUE, "
            "<=, >, >= or COLUMN in (A, B)"
        )
    op = "=" if m.group("op") == "==" else m.group("op")
    return Filter(m.group("col").strip(), op, (m.group("val").strip().strip("'\""),))


def compile_filters(filters: Sequence[Filter], schema: Mapping[str, tuple[str, str]]) -> tuple[str, list[object]]:
    """``(where_sql, params)`` for ``filters`` (ANDed) against ``schema``: name -> (physical column, type)."""
    clauses, params = [], []
    for f in filters:
        if f.column not in schema:
            known = ", ".join(schema) or "none yet"
            raise FilterError(f"filter {str(f)!r}: no column {f.column!r} in this catalog (columns: {known})")
        phys, typ = schema[f.column]
        values = [_typed(f, v, typ) for v in f.values]
        if f.op in ("in", "not in"):
            marks = ", ".join("?" * len(values))
            neg = "NOT " if f.op == "not in" else ""
            clauses.append(f"({phys} IS NOT NULL AND {phys} {neg}IN ({marks}))")
        elif f.op in ("<", "<=", ">", ">=") and typ == "text":
            raise FilterError(f"filter {str(f)!r}: column {f.column!r} holds text; use = , != or in")
        else:
            clauses.append(f"({phys} IS NOT NULL AND {phys} {f.op} ?)")
        params.extend(values)
    return (" AND ".join(clauses) or "1"), params


def _typed(f: Filter, raw: str, typ: str) -> object:
    if typ == "text":
        return raw
    value = parse_scalar(raw)
    got = value_type(value)
    if typ in ("integer", "real") and got in ("integer", "real"):
        return value
    if typ == "date" and got == "date":
        return value
    want = {"integer": "a number", "real": "a number", "date": "a date like 2012-06-30"}[typ]
    raise FilterError(f"filter {str(f)!r}: {raw!r} is not {want} (column {f.column!r} holds {typ} values)")
