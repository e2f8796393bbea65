"""The SQLite catalog store, metadata typing, filters and fusion (pure retrieval, no models)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.errors import CatalogError, FilterError
from retrieval.filters import Filter, compile_filters, parse_filter
from retrieval.fusion import fts_query, reciprocal_rank_fusion
from retrieval.records import ItemRecord, parse_scalar, value_type, widen
from retrieval.store import CatalogStore


def vec(i: int, d: int = 8) -> np.ndarray:
    v = np.zeros(d, np.float32)
    v[i % d] = 1.0
    return v


def rec(i: int, **meta) -> ItemRecord:
    return ItemRecord(id=f"item{i}", image=f"img{i}.jpg", sha256=f"sha{i}", vector=vec(i), metadata=meta)


@pytest.fixture()
def store(tmp_path):
    s = CatalogStore(tmp_path / "store.sqlite", 8)
    yield s
    s.close()


def test_upsert_outcomes(store):
    out = store.upsert([rec(1, color="Red", year=2012), rec(2, color="Blue", year=2015)])
    assert [o.kind for o in out] == ["added", "added"]
    again = store.upsert([rec(1, color="Red", year=2012)])
    assert again[0].kind == "unchanged" and again[0].vid == out[0].vid
    meta = store.upsert([rec(1, color="Green", year=2012)])
    assert meta[0].kind == "metadata" and meta[0].vid == out[0].vid
    changed = store.upsert([ItemRecord("item1", "img1.jpg", "sha-new", vec(3), {"color": "Green"})])
    assert changed[0].kind == "updated" and changed[0].old_vid == out[0].vid and changed[0].vid != out[0].vid
    dup = store.upsert([ItemRecord("item9", "copy.jpg", "sha2", vec(2), {})])
    assert dup[0].kind == "duplicate" and dup[0].duplicate_of == "item2"
    assert store.count() == 2


def test_metadata_keeps_types_and_widens(store):
    store.upsert([rec(1, year=2012, price=10, name="Polo", launched="2012-06-30")])
    assert store.schema() == {"year": "integer", "price": "integer", "name": "text", "launched": "date"}
    store.upsert([rec(2, price=9.5)])
    assert store.schema()["price"] == "real"
    store.upsert([rec(3, year="unknown")])
    assert store.schema()["year"] == "text"
    items = {it.id: it for it in store.items(store.all_vids().tolist())}
    assert items["item1"].metadata["year"] == "2012" and items["item1"].metadata["price"] == 10.0


def test_vectors_round_trip_as_float16(store):
    store.upsert([rec(i) for i in range(5)])
    vids = store.all_vids()
    np.testing.assert_allclose(store.vectors(vids[::-1]), np.stack([vec(i) for i in range(5)][::-1]), atol=1e-3)
    got = np.concatenate([v for _, v in store.iter_vectors(batch=2)])
    assert got.shape == (5, 8)
    with pytest.raises(CatalogError, match="1 requested vectors are not in the store"):
        store.vectors([999])


def test_remove_and_keyword(store):
    store.upsert([rec(1, title="Red cotton polo shirt"), rec(2, title="Blue denim jeans")])
    hits = store.keyword(fts_query("denim jacket"), 10)
    assert [store.items([v])[0].id for v, _ in hits] == ["item2"]
    assert store.remove(["item2", "nope"]) == {"item2": hits[0][0]}
    assert store.keyword(fts_query("denim"), 10) == []


def test_bad_vectors_and_readonly(tmp_path, store):
    with pytest.raises(CatalogError, match="vector has dim 4, the store holds dim 8"):
        store.upsert([ItemRecord("x", "x.jpg", "s", np.ones(4, np.float32), {})])
    with pytest.raises(CatalogError, match="no embedding given"):
        store.upsert([ItemRecord("y", "y.jpg", "s2", None, {})])
    with pytest.raises(CatalogError, match="no catalog store here"):
        CatalogStore(tmp_path / "missing.sqlite", 8, readonly=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("articleType=Tshirts", Filter("articleType", "=", ("Tshirts",))),
        ("year >= 2012", Filter("year", ">=", ("2012",))),
        ("baseColour in (Red, 'Navy Blue')", Filter("baseColour", "in", ("Red", "Navy Blue"))),
        ("season not in (Fall)", Filter("season", "not in", ("Fall",))),
        ("price!=0", Filter("price", "!=", ("0",))),
        ("x==y", Filter("x", "=", ("y",))),
    ],
)
def test_parse_filters(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "match"), [("year", "not understood"), ("a in ()", "at least one value"), ("year>=", "not understood")]
)
def test_bad_filters(text, match):
    with pytest.raises(FilterError, match=match):
        parse_filter(text)


def test_filters_compile_against_the_schema(store):
    store.upsert([rec(1, color="Red", year=2012), rec(2, color="Blue", year=2015), rec(3, color="Red", year=2016)])
    schema = {n: store.column(n) for n in store.schema()}

    def ids(*texts):
        where, params = compile_filters([parse_filter(t) for t in texts], schema)
        return [it.id for it in store.items(store.select_vids(where, params).tolist())]

    assert ids("color=Red") == ["item1", "item3"]
    assert ids("color=Red", "year>2012") == ["item3"]
    assert ids("color in (Blue, Green)") == ["item2"]
    assert ids("year<=2015", "color!=Red") == ["item2"]
    with pytest.raises(FilterError, match=r"no column 'colour' in this catalog \(columns: color, year\)"):
        ids("colour=Red")
    with pytest.raises(FilterError, match=r"'abc' is not a number \(column 'year' holds integer values\)"):
        ids("year>=abc")
    with pytest.raises(FilterError, match="holds text; use = , != or in"):
        ids("color>Red")


def test_typing_helpers():
    assert [parse_scalar(s) for s in ("2012", "4.50", "", " Red ", "1e3", "2012-06-30")] == [
        2012,
        4.5,
        None,
        "Red",
        1000.0,
        "2012-06-30",
    ]
    assert value_type("2012-06-30") == "date" and value_type(True) == "integer"
    assert widen("integer", "real") == "real" and widen("date", "integer") == "text" and widen(None, "text") == "text"


def test_reciprocal_rank_fusion_by_hand():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    expect = {1: 1 / 61 + 1 / 62, 2: 1 / 62, 3: 1 / 63 + 1 / 61}
    assert [i for i, _ in fused] == [1, 3, 2]
    assert all(abs(s - expect[i]) < 1e-12 for i, s in fused)
    assert fts_query('red "polo" shirt; drop table') == '"red" OR "polo" OR "shirt" OR "drop" OR "table"'
