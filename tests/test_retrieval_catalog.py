"""Index folders: provenance, the writer lock, reconciliation after crashes, filtered and hybrid search."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from retrieval.catalog import Catalog
from retrieval.errors import CatalogError, EncoderMismatchError, IndexLockedError
from retrieval.filters import parse_filter
from retrieval.manifest import IndexParams
from retrieval.records import ItemRecord
from retrieval.vector_index import SearchParams
from tests.test_retrieval_index import clustered

D = 32
COLORS = ("Red", "Blue", "Green", "Black", "White")


def records(n: int, seed: int = 0, start: int = 0) -> list[ItemRecord]:
    xb = clustered(n, D, seed)
    return [
        ItemRecord(
            f"p{start + i}",
            f"img/{start + i}.jpg",
            f"sha{start + i}",
            xb[i],
            {"color": COLORS[i % 5], "year": 2000 + i % 20, "title": f"{COLORS[i % 5]} shirt {i}"},
        )
        for i in range(n)
    ]


def open_rw(folder, **kw) -> Catalog:
    return Catalog.open(folder, encoder="test:enc", dim=D, writable=True, create=True, **kw)


def test_provenance_and_missing_folder(tmp_path):
    with open_rw(tmp_path / "idx") as cat:
        cat.upsert(records(10))
        cat.commit()
    with pytest.raises(
        EncoderMismatchError,
        match=r"built with test:enc \(dim 32\) but the encoder in use is "
        r"other:enc \(dim 32\); pass --encoder test:enc",
    ):
        Catalog.open(tmp_path / "idx", encoder="other:enc", dim=D)
    with pytest.raises(CatalogError, match="no index here; build one with `sceneqa index add"):
        Catalog.open(tmp_path / "nothing", encoder="test:enc", dim=D)


def test_one_writer_many_readers(tmp_path):
    with open_rw(tmp_path / "idx") as writer:
        writer.upsert(records(20))
        writer.commit()
        with pytest.raises(IndexLockedError, match="another process .* is writing to this index"):
            Catalog.open(tmp_path / "idx", encoder="test:enc", dim=D, writable=True)
        with Catalog.open(tmp_path / "idx", encoder="test:enc", dim=D) as reader:
            assert reader.store.count() == 20 and not reader.writable
            with pytest.raises(CatalogError, match="opened read-only"):
                reader.remove(["p1"])
    with open_rw(tmp_path / "idx") as again:  # the lock was released
        assert again.store.count() == 20


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_reopen_reconciles_a_stale_index_file(tmp_path, kind):
    folder = tmp_path / "idx"
    with open_rw(folder, index_params=IndexParams(kind)) as cat:
        cat.upsert(records(50))
        cat.commit()
        cat.upsert(records(10, seed=1, start=50))  # stored, but the index file is not rewritten: a "crash"
        cat.remove(["p0", "p1"])
    with Catalog.open(folder, encoder="test:enc", dim=D) as cat:
        assert cat.reconciled.added == 10 and cat.reconciled.removed == 2
        live = set(cat.store.all_vids().tolist())
        visible = set(cat.index.stored_ids().tolist()) - (set() if kind == "flat" else _tombstones(cat))
        assert visible == live
        hits = cat.search(cat.vector_of("p55"), 60)
        assert {h.id for h in hits} == {f"p{i}" for i in range(2, 60)}


def _tombstones(cat) -> set[int]:
    return set(cat.index.stored_ids().tolist()) - set(cat.store.all_vids().tolist())


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_selective_filters_still_return_k(tmp_path, kind):
    params = {
        "flat": IndexParams("flat"),
        "hnsw": IndexParams("hnsw", hnsw_m=16),
        "ivfpq": IndexParams("ivfpq", nlist=16, pq_m=8, pq_bits=6),
    }[kind]
    folder = tmp_path / "idx"
    with open_rw(folder) as cat:
        cat.upsert(records(3000))
        cat.rebuild(params)
    with Catalog.open(folder, encoder="test:enc", dim=D) as cat:
        q = clustered(1, D, 9)[0]
        for text, n_match in (("year=2003", 150), ("color=Red", 600)):
            assert len(cat.filter_vids([parse_filter(text)])) == n_match
            hits = cat.search(q, 10, filters=[parse_filter(text)], params=SearchParams(ef_search=16, nprobe=1))
            assert len(hits) == 10
            field, value = text.split("=")
            assert all(str(h.metadata[field]) == value for h in hits)
        exact = cat.search(q, 5, filters=[parse_filter("year=2003")])
        vids = cat.filter_vids([parse_filter("year=2003")])
        oracle = vids[np.argsort(-(cat.store.vectors(vids) @ q))[:5]]
        assert [h.vid for h in exact] == oracle.tolist()
        assert cat.search(q, 10, filters=[parse_filter("year=1999")]) == []


def test_like_excludes_the_item_and_hybrid_fuses_keywords(tmp_path):
    with open_rw(tmp_path / "idx") as cat:
        cat.upsert(records(200))
        q = cat.vector_of("p7")
        hits = cat.search(q, 5, exclude_ids=("p7",))
        assert len(hits) == 5 and "p7" not in [h.id for h in hits]
        fused = cat.search(q, 5, keyword="shirt 123")
        assert "p123" in [h.id for h in fused]
        with pytest.raises(CatalogError, match="query has dim 8 but index .* holds dim 32"):
            cat.search(np.ones(8, np.float32), 5)
        with pytest.raises(CatalogError, match="no item 'nope'"):
            cat.vector_of("nope")


def test_rebuild_changes_type_and_info_reports(tmp_path):
    with open_rw(tmp_path / "idx") as cat:
        cat.upsert(records(500))
        cat.commit()
        cat.rebuild(IndexParams("hnsw", hnsw_m=16))
        info = cat.info()
    assert info["index_type"] == "hnsw" and info["count"] == 500 and info["recommended_type"] == "flat"
    assert info["schema"] == {"color": "text", "year": "integer", "title": "text"}
    assert info["size_on_disk_bytes"] > 0
    with Catalog.open(tmp_path / "idx", encoder="test:enc", dim=D) as cat:
        assert cat.index.params.kind == "hnsw" and cat.reconciled.added == 0


def test_near_duplicate_groups_by_hand(tmp_path):
    from retrieval.dedup import near_duplicate_groups

    base = np.eye(D, dtype=np.float32)
    twin = base[0] * 0.999 + base[1] * 0.0447  # cosine ~0.999 with base[0]
    recs = [ItemRecord(f"i{k}", f"{k}.jpg", f"s{k}", base[k], {}) for k in range(4)]
    recs.append(ItemRecord("twin", "t.jpg", "st", twin / np.linalg.norm(twin), {}))
    with open_rw(tmp_path / "idx") as cat:
        cat.upsert(recs)
        assert near_duplicate_groups(cat, 0.99) == [["i0", "twin"]]
        assert near_duplicate_groups(cat, 0.9999) == []


def test_client_writes_keep_unknown_keys_in_extra_and_search_reaches_them(tmp_path):
    with open_rw(tmp_path / "idx") as cat:
        cat.upsert(records(20))
    with open_rw(tmp_path / "idx", new_columns=False) as cat:
        assert cat.new_columns is False
        fabrics = ("wool", "linen")
        recs = records(40, seed=1, start=20)
        cat.upsert([replace(r, metadata={**r.metadata, "fabric": fabrics[i % 2]}) for i, r in enumerate(recs)])
        assert cat.info()["schema"] == {"color": "text", "year": "integer", "title": "text"}
        q = cat.vector_of("p21")
        hits = cat.search(q, 5, filters=[parse_filter("fabric=linen"), parse_filter("year>=2001")])
        assert len(hits) == 5 and all(h.metadata["fabric"] == "linen" for h in hits)
        fused = cat.search(q, 5, keyword="wool", filters=[parse_filter("fabric in (wool)")])
        assert fused and all(h.metadata["fabric"] == "wool" for h in fused)
