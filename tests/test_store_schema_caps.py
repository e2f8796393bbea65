"""Clients cannot grow the SQLite schema: unknown metadata keys live in one JSON column (``extra``), declared
columns are capped, per-item metadata caps hold, old stores migrate, and filters reach ``extra`` safely."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import numpy as np
import pytest

from retrieval.catalog import Catalog
from retrieval.errors import FilterError, MetadataLimitError
from retrieval.filters import Filter, compile_filters, parse_filter
from retrieval.fusion import fts_query
from retrieval.records import MAX_COLUMNS, MAX_KEY_CHARS, MAX_KEYS, MAX_TEXT_CHARS, ItemRecord
from retrieval.store import STORE, CatalogStore

D = 8


def vec(i: int) -> np.ndarray:
    v = np.random.default_rng(i).standard_normal(D).astype(np.float32)
    return v / np.linalg.norm(v)


def rec(i: int, **meta) -> ItemRecord:
    return ItemRecord(f"item{i}", f"img{i}.jpg", f"sha{i}", vec(i), meta)


def table_columns(path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        return [row[1] for row in db.execute("PRAGMA table_info(items)")]


def ids_where(store: CatalogStore, *filters: Filter) -> list[str]:
    schema = {n: store.column(n) for n in store.schema()}
    extra = store.extra_keys_among(f.column for f in filters if f.column not in schema)
    where, params = compile_filters(list(filters), schema, extra)
    return [it.id for it in store.items(store.select_vids(where, params).tolist())]


@pytest.fixture()
def store(tmp_path):
    s = CatalogStore(tmp_path / STORE, D)
    yield s
    s.close()


def test_3000_client_keys_leave_the_schema_unchanged(tmp_path):
    folder = tmp_path / "idx"
    with Catalog.open(folder, encoder="test:enc", dim=D, writable=True, create=True) as cat:
        cat.upsert([rec(0, color="Red", year=2012)])  # a trusted writer declares two columns
        cat.commit()
        schema_before = cat.store.schema()
    columns_before = table_columns(folder / STORE)

    rng = np.random.default_rng(7)
    alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. $'\"[]")
    keys: set[str] = set()
    while len(keys) < 3000:
        keys.add("".join(rng.choice(alphabet, size=int(rng.integers(6, 24)))))
    keys_list = sorted(keys)
    with Catalog.open(folder, encoder="test:enc", dim=D, writable=True, new_columns=False) as cat:
        for start in range(0, len(keys_list), 500):
            batch = [rec(1 + i, **{keys_list[i]: i}) for i in range(start, min(start + 500, len(keys_list)))]
            assert {o.kind for o in cat.upsert(batch)} == {"added"}
        cat.upsert([rec(0, color="Blue")])  # a declared column still takes a client's value
        cat.commit()
        assert cat.store.schema() == schema_before
        assert cat.info()["schema"] == schema_before
        items = {it.id: it.metadata for it in cat.store.items(cat.store.all_vids().tolist())}
        assert items["item1"] == {keys_list[0]: 0} and items["item3000"] == {keys_list[2999]: 2999}
        assert items["item0"] == {"color": "Blue", "year": 2012}
        for i in (0, 1234, 2999):
            assert [h.id for h in cat.search(vec(0), 5, filters=[Filter(keys_list[i], "=", (str(i),))])] == [
                f"item{i + 1}"
            ]
    assert table_columns(folder / STORE) == columns_before


def test_a_trusted_writer_stops_declaring_columns_at_max_columns(store):
    names = [f"k{i}" for i in range(MAX_COLUMNS + 10)]
    store.upsert([rec(i, **{name: i}) for i, name in enumerate(names)], new_columns=True)
    assert list(store.schema()) == names[:MAX_COLUMNS]
    assert len(table_columns(store.path)) == 6 + MAX_COLUMNS  # vid, id, image, sha256, updated_at, extra
    last = store.items(store.all_vids().tolist())[-1]
    assert last.metadata == {names[-1]: len(names) - 1}
    assert ids_where(store, Filter(names[-1], ">=", ("0",))) == [last.id]


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({f"k{i}": i for i in range(MAX_KEYS + 1)}, rf"65 metadata keys, at most {MAX_KEYS} keys per item"),
        ({"k" * (MAX_KEY_CHARS + 1): 1}, rf"65 characters, at most {MAX_KEY_CHARS} characters per key"),
        ({"bad\x00key": 1}, "no control characters in keys"),
        ({"bad\nkey": 1}, "no control characters in keys"),
        ({"note": "x" * (MAX_TEXT_CHARS + 1)}, rf"4097 characters, at most {MAX_TEXT_CHARS} characters per text"),
    ],
)
def test_per_item_caps_raise_before_anything_is_written(store, meta, match):
    with pytest.raises(MetadataLimitError, match=match) as info:
        store.upsert([rec(1, color="Red"), rec(2, **meta)], new_columns=False)
    assert "item 'item2'" in str(info.value)
    assert store.count() == 0 and store.schema() == {}
    store.upsert([rec(1, color="Red")])  # the store is still usable, its in-memory schema right
    assert store.schema() == {"color": "text"}


def test_caps_are_inclusive_and_count_keys_an_update_leaves(store):
    at_cap = {f"k{i}": i for i in range(MAX_KEYS - 2)}
    at_cap.update({"k" * MAX_KEY_CHARS: 1, "note": "x" * MAX_TEXT_CHARS})
    assert store.upsert([rec(1, **at_cap)], new_columns=False)[0].kind == "added"
    with pytest.raises(MetadataLimitError, match=rf"update leaves {MAX_KEYS + 1} metadata keys"):
        store.upsert([rec(1, more=1)], new_columns=False)
    assert store.upsert([rec(1, k0=None, more=1)], new_columns=False)[0].kind == "metadata"


def test_unchanged_detection_includes_extra(store):
    assert store.upsert([rec(1, color="Red", tag="x", n=1.5)], new_columns=False)[0].kind == "added"
    assert store.schema() == {}
    assert store.upsert([rec(1, color="Red", tag="x", n=1.5)], new_columns=False)[0].kind == "unchanged"
    assert store.upsert([rec(1, tag="y")], new_columns=False)[0].kind == "metadata"
    assert store.items(store.all_vids().tolist())[0].metadata == {"color": "Red", "tag": "y", "n": 1.5}
    assert store.upsert([rec(1, tag=None)], new_columns=False)[0].kind == "metadata"
    assert store.items(store.all_vids().tolist())[0].metadata == {"color": "Red", "n": 1.5}
    assert store.upsert([rec(1, tag=None)], new_columns=False)[0].kind == "unchanged"


def test_extra_values_keep_types_and_feed_keyword_search(store):
    store.upsert([rec(1, color="Red")])
    store.upsert(
        [rec(2, flag=True, gone=float("nan"), title="striped linen scarf", color="Blue")],
        new_columns=False,
    )
    meta = store.items(store.all_vids().tolist())[1].metadata
    assert meta == {"color": "Blue", "flag": 1, "title": "striped linen scarf"}
    # values a JSON answer cannot carry are refused before they are stored (one such item broke every search)
    for bad, rule in ((float("inf"), "infinite"), ("\ud800", "not valid Unicode"), (10**30, "64-bit"), ([1], "list")):
        with pytest.raises(MetadataLimitError, match=rule):
            store.upsert([rec(3, odd=bad)], new_columns=False)
    assert [store.items([v])[0].id for v, _ in store.keyword(fts_query("linen"), 5)] == ["item2"]


def test_filters_on_extra_compare_numbers_as_numbers_and_dates_as_dates(store):
    store.upsert(
        [
            rec(1, weight=9, sold="2012-06-30"),
            rec(2, weight=10.5, sold="2015-01-01"),
            rec(3, weight="heavy", sold="soon"),
            rec(4, weight="10"),
            rec(5),
        ],
        new_columns=False,
    )
    assert ids_where(store, parse_filter("weight>9")) == ["item2"]
    assert ids_where(store, parse_filter("weight<=100")) == ["item1", "item2"]
    assert ids_where(store, parse_filter("weight=10")) == ["item4"]  # typed 10 or text "10"
    assert ids_where(store, parse_filter("weight in (9, heavy)")) == ["item1", "item3"]
    assert ids_where(store, parse_filter("weight!=9")) == ["item2", "item3", "item4"]  # holders only
    assert ids_where(store, parse_filter("weight not in (9, 10.5)")) == ["item3", "item4"]
    assert ids_where(store, parse_filter("sold>=2013-01-01")) == ["item2"]
    with pytest.raises(FilterError, match="only with a number or a date"):
        ids_where(store, parse_filter("weight>heavy"))
    with pytest.raises(FilterError, match=r"no column 'wieght' in this catalog \(columns: none yet\)"):
        ids_where(store, parse_filter("wieght=9"))


def test_a_filter_on_an_extra_key_with_quotes_cannot_inject_sql(store):
    evil = """it's "q" $.x') OR 1=1; DROP TABLE items; --"""
    store.upsert(
        [rec(1, **{evil: "yes"}), rec(2, **{'it\'s "q"': "yes"}), rec(3, **{"$": "yes", '"': "yes"})],
        new_columns=False,
    )
    where, params = compile_filters([Filter(evil, "=", ("yes",))], {}, {evil})
    assert "DROP" not in where and "it's" not in where and evil in params
    assert ids_where(store, Filter(evil, "=", ("yes",))) == ["item1"]
    assert ids_where(store, Filter('it\'s "q"', "in", ("yes",))) == ["item2"]
    assert ids_where(store, Filter('"', "=", ("yes",))) == ids_where(store, Filter("$", "=", ("yes",))) == ["item3"]
    with pytest.raises(FilterError, match="no column"):
        ids_where(store, Filter("$.x", "=", ("yes",)))
    assert store.count() == 3


def test_a_declared_column_takes_over_a_key_held_in_extra(store):
    store.upsert([rec(1, size=9), rec(2, size="XL")], new_columns=False)
    assert store.schema() == {}
    store.upsert([rec(3, size=40)], new_columns=True)  # a trusted writer declares the key
    assert store.schema() == {"size": "text"}  # widened over the values moved out of extra
    metas = [it.metadata for it in store.items(store.all_vids().tolist())]
    assert metas == [{"size": "9"}, {"size": "XL"}, {"size": "40"}]
    assert ids_where(store, parse_filter("size in (9, XL)")) == ["item1", "item2"]
    assert store.extra_keys_among(["size"]) == set()


def test_an_old_store_without_extra_opens_read_only_and_migrates_when_writable(tmp_path):
    path = tmp_path / STORE
    with closing(sqlite3.connect(path)) as db:  # the schema before the ``extra`` column, with one declared column
        db.executescript(
            """
            CREATE TABLE items (vid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                                image TEXT NOT NULL, sha256 TEXT NOT NULL, updated_at TEXT NOT NULL, c1);
            CREATE TABLE vectors (vid INTEGER PRIMARY KEY, vector BLOB NOT NULL);
            CREATE INDEX items_sha ON items(sha256);
            CREATE TABLE columns (name TEXT PRIMARY KEY, phys TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
                                  pos INTEGER NOT NULL);
            CREATE VIRTUAL TABLE items_fts USING fts5(text);
            CREATE INDEX items_c1 ON items(c1);
            INSERT INTO columns VALUES ('color', 'c1', 'text', 0);
            INSERT INTO items VALUES (1, 'item1', 'img1.jpg', 'sha1', '2024-01-01T00:00:00+00:00', 'Red');
            INSERT INTO items_fts (rowid, text) VALUES (1, 'Red');
            """
        )
        db.execute("INSERT INTO vectors VALUES (1, ?)", (vec(1).astype(np.float16).tobytes(),))
        db.commit()

    reader = CatalogStore(path, D, readonly=True)
    assert "extra" not in table_columns(path)
    assert reader.items([1])[0].metadata == {"color": "Red"}
    assert ids_where(reader, parse_filter("color=Red")) == ["item1"]
    with pytest.raises(FilterError, match=r"no column 'tag' in this catalog \(columns: color\)"):
        ids_where(reader, parse_filter("tag=x"))

    writer = CatalogStore(path, D)
    assert table_columns(path)[-1] == "extra"
    assert writer.upsert([rec(1, color="Red", tag="x")], new_columns=False)[0].kind == "metadata"
    assert writer.upsert([rec(1, color="Red", tag="x")], new_columns=False)[0].kind == "unchanged"
    writer.close()
    assert reader.items([1])[0].metadata == {"color": "Red", "tag": "x"}  # a long-lived reader sees it
    assert ids_where(reader, parse_filter("tag=x")) == ["item1"]
    reader.close()
