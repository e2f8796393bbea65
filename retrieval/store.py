"""The catalog store: one SQLite file holding items, their typed metadata, text for keyword search (FTS5)
and their embeddings (float16), the source of truth from which the FAISS index can always be rebuilt.

Every write is one transaction (WAL, synchronous=FULL): a crash leaves the store as of the last
committed batch. Declared metadata columns are created as values arrive (when the writer allows it, and
at most ``MAX_COLUMNS`` of them), under generated physical names (``c1``, ``c2``...) so no user text is ever
spliced into SQL. Every other key is kept in the item's ``extra`` column, one JSON object, so clients can
add keys without growing the schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from retrieval.errors import CatalogError, MetadataLimitError
from retrieval.extra_json import dump_extra, load_extra, merge_extra
from retrieval.records import (
    MAX_COLUMNS,
    MAX_KEYS,
    ItemRecord,
    MetaValue,
    StoredItem,
    check_metadata,
    value_type,
    widen,
)

STORE = "store.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    vid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    image TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    extra TEXT
);
CREATE TABLE IF NOT EXISTS vectors (vid INTEGER PRIMARY KEY, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS items_sha ON items(sha256);
CREATE TABLE IF NOT EXISTS columns (name TEXT PRIMARY KEY, phys TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
                                    pos INTEGER NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS items_fts USING fts5(text);
"""


@dataclass(frozen=True)
class Outcome:
    """What an upsert did with one record. ``kind``: added, updated (new embedding), metadata (same image,
    new metadata), unchanged, duplicate (same image content as ``duplicate_of``)."""

    id: str
    kind: str
    vid: int | None = None
    old_vid: int | None = None
    duplicate_of: str | None = None


class CatalogStore:
    """SQLite-backed items + metadata + FTS5 + vectors. One writer (see ``retrieval.lock``), many readers."""

    def __init__(self, path: Path, dim: int, *, readonly: bool = False) -> None:
        self.path = path
        self.dim = dim
        if readonly and not path.exists():
            raise CatalogError(f"{path.parent}: no catalog store here; build one with `sceneqa index add`")
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.executescript(_SCHEMA)
                if not self._has_extra_column():  # a store from before the ``extra`` column
                    self._db.execute("ALTER TABLE items ADD COLUMN extra TEXT")
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"{path}: not a readable catalog store ({exc})") from exc
        self._columns = self._load_columns()
        self._has_extra = self._has_extra_column()

    def close(self) -> None:
        self._db.close()

    # ---- schema -------------------------------------------------------------------------------------------

    def _has_extra_column(self) -> bool:
        return any(row[1] == "extra" for row in self._db.execute("PRAGMA table_info(items)"))

    def _extra_sql(self) -> str:
        """The SQL for the ``extra`` column: ``NULL`` on a read-only store from before it (until a writer
        migrates that store, which a long-lived reader notices on its next read)."""
        if not self._has_extra:
            self._has_extra = self._has_extra_column()
        return "extra" if self._has_extra else "NULL"

    def _load_columns(self) -> dict[str, tuple[str, str]]:
        rows = self._db.execute("SELECT name, phys, type FROM columns ORDER BY pos").fetchall()
        return {name: (phys, typ) for name, phys, typ in rows}

    def schema(self) -> dict[str, str]:
        """Declared metadata column name -> type (``integer``, ``real``, ``date``, ``text``), in first-seen
        order. Keys kept in ``extra`` are not listed (the UI builds one filter widget per column)."""
        return {name: typ for name, (_, typ) in self._columns.items()}

    def column(self, name: str) -> tuple[str, str] | None:
        """(physical name, type) of metadata column ``name``, or ``None``."""
        return self._columns.get(name)

    def _ensure_columns(self, records: Sequence[ItemRecord], new_columns: bool) -> None:
        for rec in records:
            for name, value in rec.metadata.items():
                new_type = value_type(value)
                known = self._columns.get(name)
                if known is None:
                    if new_type is None or not new_columns or len(self._columns) >= MAX_COLUMNS:
                        continue  # kept in ``extra``
                    self._add_column(name, new_type)
                elif (widened := widen(known[1], new_type)) != known[1]:
                    if not new_columns:  # a client cannot change a declared column's type for everyone
                        raise MetadataLimitError(
                            f"item {rec.id!r}: {name!r} is a declared {known[1]} column; {value!r} is {new_type}. "
                            f"Send a {known[1]} value (declared columns change only through `sceneqa index add`)"
                        )
                    cast = {"real": "REAL", "text": "TEXT"}[widened]
                    self._db.execute(
                        f"UPDATE items SET {known[0]} = CAST({known[0]} AS {cast}) WHERE {known[0]} IS NOT NULL"
                    )
                    self._db.execute("UPDATE columns SET type = ? WHERE name = ?", (widened, name))
                    self._columns[name] = (known[0], widened)

    def _add_column(self, name: str, typ: str) -> None:
        """A declared column for ``name``; values other items hold under that key in ``extra`` move into it,
        so each key lives in one place (filters and distinct values read only the column)."""
        moved = []
        for vid, raw in self._db.execute(
            "SELECT items.vid, items.extra FROM items, json_each(items.extra) AS j WHERE j.key = ?", (name,)
        ).fetchall():
            extra = load_extra(raw)
            moved.append((vid, extra.pop(name), extra))
            typ = widen(typ, value_type(moved[-1][1]))
        phys = f"c{len(self._columns) + 1}"
        self._db.execute(f"ALTER TABLE items ADD COLUMN {phys}")
        self._db.execute(f"CREATE INDEX items_{phys} ON items({phys})")
        self._db.execute("INSERT INTO columns VALUES (?, ?, ?, ?)", (name, phys, typ, len(self._columns)))
        self._columns[name] = (phys, typ)
        for vid, value, extra in moved:
            self._db.execute(
                f"UPDATE items SET {phys} = ?, extra = ? WHERE vid = ?",
                (self._coerce(name, value), dump_extra(extra), vid),
            )

    def _coerce(self, name: str, value: MetaValue) -> MetaValue:
        typ = self._columns[name][1]
        if value is None:
            return None
        if typ == "real":
            return float(value)
        if typ == "text":
            return str(value)
        return value

    # ---- writes -------------------------------------------------------------------------------------------

    def upsert(
        self, records: Sequence[ItemRecord], *, allow_duplicates: bool = False, new_columns: bool = True
    ) -> list[Outcome]:
        """Insert or update ``records`` in one transaction. Same id + same content: metadata refreshed only
        (the keys given are set, a ``None`` value clears one, other keys are kept).

        ``new_columns``: a key that is not yet a declared column becomes one (until ``MAX_COLUMNS``); with
        ``False`` (client writes) such keys are kept in ``extra``. Keys that are columns always go to their
        column. :class:`MetadataLimitError` (nothing written) when an item breaks a cap of ``records``.
        """
        for rec in records:
            check_metadata(rec.id, rec.metadata)
        outcomes: list[Outcome] = []
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._transaction():
                self._ensure_columns(records, new_columns)
                for rec in records:
                    outcomes.append(self._upsert_one(rec, now, allow_duplicates))
        except BaseException:
            self._columns = self._load_columns()  # columns added by the rolled-back transaction are gone
            raise
        return outcomes

    def _upsert_one(self, rec: ItemRecord, now: str, allow_duplicates: bool) -> Outcome:
        row = self._db.execute("SELECT vid, sha256 FROM items WHERE id = ?", (rec.id,)).fetchone()
        same_content = row is not None and row[1] == rec.sha256
        if rec.vector is None and not same_content:
            raise CatalogError(f"item {rec.id!r}: no embedding given for new or changed content")
        vec = None if rec.vector is None else np.asarray(rec.vector, np.float32).reshape(-1)
        if vec is not None and vec.shape[0] != self.dim:
            raise CatalogError(f"item {rec.id!r}: vector has dim {vec.shape[0]}, the store holds dim {self.dim}")
        if not allow_duplicates:
            dup = self._db.execute(
                "SELECT id FROM items WHERE sha256 = ? AND id != ? LIMIT 1", (rec.sha256, rec.id)
            ).fetchone()
            if dup is not None:
                return Outcome(rec.id, "duplicate", duplicate_of=dup[0])
        names = [n for n in rec.metadata if n in self._columns]
        meta_cols = [self._columns[n][0] for n in names]
        meta_vals = [self._coerce(n, rec.metadata[n]) for n in names]
        extra = {n: v for n, v in rec.metadata.items() if n not in self._columns}
        text = " | ".join(v for v in rec.metadata.values() if isinstance(v, str))
        if same_content:
            return self._update_metadata(rec, row[0], now, dict(zip(names, meta_vals)), extra, text)
        old_vid = None
        if row is not None:  # new content under an existing id: a new vid, so index files can tell
            old_vid = row[0]
            self._delete_vid(old_vid)
        cols = ", ".join(["id", "image", "sha256", "updated_at", "extra", *meta_cols])
        marks = ", ".join("?" * (5 + len(meta_cols)))
        cur = self._db.execute(
            f"INSERT INTO items ({cols}) VALUES ({marks})",
            (rec.id, rec.image, rec.sha256, now, dump_extra(merge_extra({}, extra)), *meta_vals),
        )
        vid = int(cur.lastrowid)
        self._db.execute("INSERT INTO vectors (vid, vector) VALUES (?, ?)", (vid, vec.astype(np.float16).tobytes()))
        self._db.execute("INSERT INTO items_fts (rowid, text) VALUES (?, ?)", (vid, text))
        return Outcome(rec.id, "updated" if old_vid is not None else "added", vid=vid, old_vid=old_vid)

    def _update_metadata(
        self, rec: ItemRecord, vid: int, now: str, declared: dict[str, MetaValue], extra: dict, text: str
    ) -> Outcome:
        names = list(self._columns)
        phys = [self._columns[n][0] for n in names]
        selected = ", ".join(["image", "extra", *phys])
        old = self._db.execute(f"SELECT {selected} FROM items WHERE vid = ?", (vid,)).fetchone()
        old_declared = dict(zip(names, old[2:]))
        old_extra = load_extra(old[1])
        new_declared = {**old_declared, **declared}
        new_extra = merge_extra(old_extra, extra)
        if old[0] == rec.image and new_declared == old_declared and new_extra == old_extra:
            return Outcome(rec.id, "unchanged", vid=vid)
        held = sum(v is not None for v in new_declared.values()) + len(new_extra)
        if held > MAX_KEYS:
            raise MetadataLimitError(
                f"item {rec.id!r}: this update leaves {held} metadata keys, at most {MAX_KEYS} keys per item; "
                "clear keys (set them to null) or drop some"
            )
        sets = ", ".join(f"{c} = ?" for c in ["image", "updated_at", "extra", *(self._columns[n][0] for n in declared)])
        self._db.execute(
            f"UPDATE items SET {sets} WHERE vid = ?", (rec.image, now, dump_extra(new_extra), *declared.values(), vid)
        )
        self._db.execute("UPDATE items_fts SET text = ? WHERE rowid = ?", (text, vid))
        return Outcome(rec.id, "metadata", vid=vid)

    def remove(self, ids: Iterable[str]) -> dict[str, int]:
        """Delete items by id in one transaction; returns ``{id: vid}`` of those that existed."""
        removed: dict[str, int] = {}
        with self._transaction():
            for item_id in ids:
                row = self._db.execute("SELECT vid FROM items WHERE id = ?", (item_id,)).fetchone()
                if row is not None:
                    self._delete_vid(row[0])
                    removed[item_id] = int(row[0])
        return removed

    def _delete_vid(self, vid: int) -> None:
        self._db.execute("DELETE FROM items WHERE vid = ?", (vid,))
        self._db.execute("DELETE FROM vectors WHERE vid = ?", (vid,))
        self._db.execute("DELETE FROM items_fts WHERE rowid = ?", (vid,))

    class _Tx:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def __enter__(self) -> None:
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, exc, tb) -> None:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _transaction(self) -> CatalogStore._Tx:
        return CatalogStore._Tx(self._db)

    # ---- reads --------------------------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def all_vids(self) -> np.ndarray:
        rows = self._db.execute("SELECT vid FROM items ORDER BY vid").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def vids_for(self, ids: Iterable[str]) -> dict[str, int]:
        out = {}
        for item_id in ids:
            row = self._db.execute("SELECT vid FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is not None:
                out[item_id] = int(row[0])
        return out

    def known_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        """``{id: sha256}`` for the ids already stored (for cheap resume checks)."""
        out = {}
        for item_id in ids:
            row = self._db.execute("SELECT sha256 FROM items WHERE id = ?", (item_id,)).fetchone()
            if row is not None:
                out[item_id] = row[0]
        return out

    def items(self, vids: Sequence[int]) -> list[StoredItem]:
        """Items for ``vids`` in the same order (missing vids are skipped)."""
        names = list(self._columns)
        cols = ", ".join(["vid", "id", "image", self._extra_sql()] + [self._columns[n][0] for n in names])
        by_vid = {}
        for chunk in _chunks([int(v) for v in vids], 500):
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT {cols} FROM items WHERE vid IN ({marks})", chunk):
                meta = {n: v for n, v in zip(names, row[4:]) if v is not None}
                for n, v in load_extra(row[3]).items():
                    meta.setdefault(n, v)  # a declared column wins on a clash
                by_vid[row[0]] = StoredItem(int(row[0]), row[1], row[2], meta)
        return [by_vid[v] for v in vids if v in by_vid]

    def vectors(self, vids: Sequence[int]) -> np.ndarray:
        """float32 ``(len(vids), dim)`` embeddings in the order of ``vids`` (all must exist)."""
        out = np.empty((len(vids), self.dim), np.float32)
        pos = {int(v): i for i, v in enumerate(vids)}
        found = 0
        for chunk in _chunks([int(v) for v in vids], 900):
            marks = ", ".join("?" * len(chunk))
            for vid, blob in self._db.execute(f"SELECT vid, vector FROM vectors WHERE vid IN ({marks})", chunk):
                out[pos[vid]] = np.frombuffer(blob, np.float16).astype(np.float32)
                found += 1
        if found != len(vids):
            raise CatalogError(f"{self.path}: {len(vids) - found} requested vectors are not in the store")
        return out

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(vids, vectors)`` over the whole store in vid order, ``batch`` rows at a time."""
        last = -1
        while True:
            rows = self._db.execute(
                "SELECT vid, vector FROM vectors WHERE vid > ? ORDER BY vid LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            vids = np.array([r[0] for r in rows], np.int64)
            vecs = np.stack([np.frombuffer(r[1], np.float16) for r in rows]).astype(np.float32)
            last = int(vids[-1])
            yield vids, vecs

    def extra_keys_among(self, names: Iterable[str]) -> set[str]:
        """Those of ``names`` that some item holds in ``extra`` (what ``compile_filters`` may match there).
        Asked per name, not by listing every key, so the cost does not grow with the keys clients added."""
        if self._extra_sql() == "NULL":
            return set()
        found = set()
        for name in set(names):
            hit = self._db.execute(
                "SELECT 1 FROM items, json_each(items.extra) AS j WHERE j.key = ? LIMIT 1", (name,)
            ).fetchone()
            if hit is not None:
                found.add(name)
        return found

    def select_vids(self, where: str, params: Sequence[object]) -> np.ndarray:
        """vids matching a WHERE clause built by ``retrieval.filters.compile_filters``."""
        rows = self._db.execute(f"SELECT vid FROM items WHERE {where} ORDER BY vid", list(params)).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def keyword(self, fts_query: str, limit: int) -> list[tuple[int, float]]:
        """(vid, bm25 score: lower is better) for a prepared FTS5 query, best first."""
        if not fts_query:
            return []
        rows = self._db.execute(
            "SELECT rowid, bm25(items_fts) FROM items_fts WHERE items_fts MATCH ? ORDER BY bm25(items_fts) LIMIT ?",
            (fts_query, limit),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def distinct_values(self, name: str, limit: int = 200) -> list[MetaValue]:
        """Up to ``limit`` distinct values of a metadata column, most frequent first."""
        col = self._columns.get(name)
        if col is None:
            return []
        rows = self._db.execute(
            f"SELECT {col[0]}, COUNT(*) AS n FROM items WHERE {col[0]} IS NOT NULL "
            f"GROUP BY {col[0]} ORDER BY n DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [r[0] for r in rows]


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
