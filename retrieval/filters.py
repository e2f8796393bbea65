"""Metadata filters: ``articleType=Tshirts``, ``year>=2012``, ``baseColour in (Red, Blue)``, ``price!=0``.

Parsing is pure; compiling checks each filter against the store's schema (unknown column, wrong value
type) and yields a parameterised SQL WHERE clause over generated column names. Keys kept in an item's
``extra`` JSON object are matched through ``json_each`` with the key as a bound parameter: SQLite's JSON
paths cannot address a key holding ``"``, and nothing a client names is ever spliced into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from retrieval.errors import FilterError
from retrieval.records import parse_scalar, value_type

OPERATORS = ("<=", ">=", "!=", "=", "<", ">", "in")
MAX_IN_VALUES = 100  # per 'in (...)' clause: SQLite binds one parameter per value
MAX_FILTER_CHARS = 2000
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


def _shown(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def parse_filter(text: str) -> Filter:
    """Parse one filter expression. Raises :class:`FilterError` showing the accepted forms."""
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"filter {_shown(text)} is longer than {MAX_FILTER_CHARS} characters; shorten it")
    m = _IN.match(text)
    if m:
        values = tuple(v.strip().strip("'\"") for v in m.group("vals").split(",") if v.strip())
        if len(values) > MAX_IN_VALUES:
            raise FilterError(
                f"filter {_shown(text)}: {len(values)} values in one 'in'; at most {MAX_IN_VALUES}. Narrow the list"
            )
        if not values:
            raise FilterError(f"filter {_shown(text)}: 'in' needs at least one value, e.g. baseColour in (Red, Blue)")
        return Filter(m.group("col").strip(), "not in" if m.group("neg") else "in", values)
    m = _COMPARE.match(text)
    if not m or not m.group("val"):
        raise FilterError(
            f"filter {_shown(text)} is not understood; use COLUMN=VALUE, COLUMN!=VALUE, COLUMN<VALUE, "
            "<=, >, >= or COLUMN in (A, B)"
        )
    op = "=" if m.group("op") == "==" else m.group("op")
    return Filter(m.group("col").strip(), op, (m.group("val").strip().strip("'\""),))


def compile_filters(
    filters: Sequence[Filter], schema: Mapping[str, tuple[str, str]], extra_keys: Collection[str] = frozenset()
) -> tuple[str, list[object]]:
    """``(where_sql, params)`` for ``filters`` (ANDed) against ``schema``: name -> (physical column, type),
    over ``FROM items``. ``extra_keys``: names that are not columns but that items hold in ``extra`` (the
    store's ``extra_keys_among`` of the filtered names); any other name is a :class:`FilterError`."""
    clauses, params = [], []
    for f in filters:
        if f.column not in schema and f.column in extra_keys:
            clause, values = _extra_clause(f)
            clauses.append(clause)
            params.extend(values)
            continue
        if f.column not in schema:
            known = ", ".join(schema) or "none yet"
            raise FilterError(
                f"filter {str(f)!r}: no column {f.column!r} in this catalog (columns: {known}) "
                "and no item holds that key"
            )
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


_IN_EXTRA = "EXISTS (SELECT 1 FROM json_each(items.extra) AS j WHERE j.key = ? AND {test})"
_ISO_DATE = "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"


def _extra_clause(f: Filter) -> tuple[str, list[object]]:
    """A key held in ``extra``, whose values may differ in type from item to item: equality matches a value
    stored as typed (``42``) or as text (``"42"``); ``<``... compare numbers with numbers, ISO dates with
    dates, and skip items holding another type there."""
    if f.op in ("=", "!=", "in", "not in"):
        values: list[object] = []
        for raw in f.values:
            for v in (parse_scalar(raw), raw):
                if v is not None and v not in values:
                    values.append(v)
        neg = "NOT " if f.op in ("!=", "not in") else ""
        test = f"j.value {neg}IN ({', '.join('?' * len(values))})"
        return _IN_EXTRA.format(test=test), [f.column, *values]
    value = parse_scalar(f.values[0])
    kind = value_type(value)
    if kind in ("integer", "real"):
        test = f"j.type IN ('integer', 'real') AND j.value {f.op} ?"
    elif kind == "date":
        test = f"j.type = 'text' AND j.value GLOB {_ISO_DATE} AND j.value {f.op} ?"
    else:
        raise FilterError(
            f"filter {str(f)!r}: {f.op} compares key {f.column!r} only with a number or a date like 2012-06-30; "
            "use = , != or in for text"
        )
    return _IN_EXTRA.format(test=test), [f.column, value]


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
