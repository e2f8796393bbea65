"""Vector index types: oracle tests against brute force, add/remove on every type, selectors, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.errors import CatalogError
from retrieval.manifest import INDEX_TYPES, IndexParams
from retrieval.vector_index import (
    INDEX_CLASSES,
    SearchParams,
    VectorIndex,
    bytes_per_vector,
    choose_index_params,
    index_class,
)


def unit(n: int, d: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(n: int, d: int, seed: int = 0, centers: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, d))
    x = c[rng.integers(0, centers, n)] + 0.15 * rng.normal(size=(n, d))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


PARAMS = {
    "flat": IndexParams("flat"),
    "hnsw": IndexParams("hnsw", hnsw_m=16),
    "ivfpq": IndexParams("ivfpq", nlist=16, pq_m=32, pq_bits=6),
}


def build(kind: str, xb: np.ndarray, vids: np.ndarray) -> VectorIndex:
    index = VectorIndex.create(PARAMS[kind], xb.shape[1], training=xb if kind == "ivfpq" else None)
    index.add(vids, xb)
    return index


def test_flat_ids_equal_brute_force_argsort():
    xb, xq = unit(500, 32, 1), unit(5, 32, 2)
    vids = np.arange(1000, 1500, dtype=np.int64)
    res = build("flat", xb, vids).search(xq, 10)
    oracle = vids[np.argsort(-(xq @ xb.T), axis=1, kind="stable")[:, :10]]
    np.testing.assert_array_equal(res.vids, oracle)
    np.testing.assert_allclose(res.scores, np.sort(xq @ xb.T, axis=1)[:, ::-1][:, :10], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("kind", "depth", "floor"), [("hnsw", 10, 0.95), ("ivfpq", 100, 0.9)])
def test_ann_recall_against_exact(kind, depth, floor):
    """HNSW: recall@10. IVF-PQ: share of the exact top 10 among its top 100 (the catalog re-scores those)."""
    xb = clustered(4000, 64, 3)
    xq = xb[:50] + 0.05 * np.random.default_rng(4).normal(size=(50, 64)).astype(np.float32)
    vids = np.arange(len(xb), dtype=np.int64)
    exact = np.argsort(-(xq @ xb.T), axis=1)[:, :10]
    res = build(kind, xb, vids).search(xq, depth, params=SearchParams(ef_search=128, nprobe=8))
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(res.vids, exact)])
    assert recall >= floor


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_remove_works_on_every_type(kind):
    xb = clustered(2000, 32, 5)
    vids = np.arange(len(xb), dtype=np.int64)
    index = build(kind, xb, vids)
    gone = np.array([0, 1, 2, 3, 4], np.int64)
    index.remove(gone)
    res = index.search(xb[:5], 5, params=SearchParams(ef_search=64, nprobe=16))
    assert not np.isin(res.vids, gone).any()
    assert index.live_count() == len(xb) - 5


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_allowed_ids_restrict_results(kind):
    xb = clustered(2000, 32, 6)
    vids = np.arange(len(xb), dtype=np.int64)
    allowed = np.arange(0, 2000, 7, dtype=np.int64)
    res = build(kind, xb, vids).search(xb[:3], 10, allowed=allowed, params=SearchParams(ef_search=256, nprobe=16))
    got = res.vids[res.vids >= 0]
    assert len(got) > 0 and np.isin(got, allowed).all()


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_save_load_keeps_ids_and_results(tmp_path, kind):
    xb = clustered(1500, 32, 7)
    vids = np.arange(10, 1510, dtype=np.int64)
    index = build(kind, xb, vids)
    before = index.search(xb[:4], 5, params=SearchParams(nprobe=16))
    index.save(tmp_path / "i.faiss")
    again = VectorIndex.load(tmp_path / "i.faiss", PARAMS[kind], 32)
    np.testing.assert_array_equal(np.sort(again.stored_ids()), vids)
    np.testing.assert_array_equal(again.search(xb[:4], 5, params=SearchParams(nprobe=16)).vids, before.vids)


def test_fewer_items_than_k_pads_with_minus_one():
    index = build("flat", unit(3, 8), np.array([5, 6, 7], np.int64))
    res = index.search(unit(1, 8, 9), 3)
    assert sorted(res.vids[0].tolist()) == [5, 6, 7]
    res = index.search(unit(1, 8, 9), 2, allowed=np.array([6], np.int64))
    assert res.vids[0].tolist() == [6, -1] and res.scores[0][1] == -np.inf


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(CatalogError, match="needs at least 16 training vectors, got 3"):
        VectorIndex.create(PARAMS["ivfpq"], 32, training=unit(3, 32))
    with pytest.raises(CatalogError, match="cannot go into an index of dim 8"):
        build("flat", unit(3, 8), np.arange(3)).add(np.arange(3, 5), unit(2, 16))
    (tmp_path / "bad.faiss").write_bytes(b"not faiss")
    with pytest.raises(CatalogError, match="unreadable FAISS index.*sceneqa index rebuild"):
        VectorIndex.load(tmp_path / "bad.faiss", PARAMS["flat"], 8)


def test_index_type_is_chosen_from_count_and_budget():
    assert choose_index_params(1_000, 512).kind == "flat"
    assert choose_index_params(200_000, 512, memory_budget_mb=4096).kind == "hnsw"
    big = choose_index_params(5_000_000, 512, memory_budget_mb=2048)
    assert big.kind == "ivfpq" and big.pq_m == 64 and big.nlist == 8192


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_each_kind_is_its_own_class_and_survives_a_round_trip(tmp_path, kind):
    xb = clustered(800, 32, 9)
    index = build(kind, xb, np.arange(len(xb), dtype=np.int64))
    assert type(index) is index_class(kind) and index.kind == kind
    index.save(tmp_path / "i.faiss")
    again = VectorIndex.load(tmp_path / "i.faiss", PARAMS[kind], 32)
    assert type(again) is type(index)
    assert (again.exact_subset(xb[0], np.arange(10), 3) is None) == (kind == "ivfpq")
    assert set(INDEX_CLASSES) == set(INDEX_TYPES)


def test_bytes_per_vector_of_each_kind():
    assert [bytes_per_vector(PARAMS[k], 32) for k in ("flat", "hnsw", "ivfpq")] == [136, 264, 48]
