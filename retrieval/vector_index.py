"""FAISS vector indexes over unit vectors (inner product = cosine), addressed by int64 ``vid``.

Types: ``flat`` (exact, ``IndexIDMap2(IndexFlatIP)``), ``hnsw`` (``IndexIDMap2(IndexHNSWFlat)``) and
``ivfpq`` (``IndexIVFPQ`` with ids and a hash-table direct map), one :class:`VectorIndex` subclass each.
Every type supports add and remove: FAISS cannot delete from an HNSW graph, so removed HNSW vids become
*tombstones*, excluded from every search by an ID selector, and dropped when the index is rebuilt.

Per-query parameters (``ef_search``, ``nprobe``) travel with each call (:class:`SearchParams`); nothing
mutates the shared index to search it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import faiss
import numpy as np

from retrieval.atomic import atomic_write
from retrieval.errors import CatalogError
from retrieval.manifest import IndexParams


@dataclass(frozen=True)
class SearchParams:
    """Per-call search knobs: HNSW ``ef_search`` and IVF ``nprobe`` (ignored by other types)."""

    ef_search: int = 64
    nprobe: int = 32


@dataclass(frozen=True)
class SearchResult:
    """``scores``/``vids`` of shape ``(n_queries, k)``, best first; vid -1 (score -inf) when fewer than k."""

    scores: np.ndarray
    vids: np.ndarray


def choose_index_params(count: int, dim: int, memory_budget_mb: float = 4096.0) -> IndexParams:
    """Pick an index type from the item count and a memory budget (in the spirit of autofaiss).

    Under 50,000 items exact search is fast enough. Above that HNSW (about ``4*dim + 2*M*4`` bytes per
    vector) if it fits the budget, else IVF-PQ (:func:`ivfpq_params`).
    """
    if count < 50_000:
        return IndexParams(kind="flat")
    hnsw = IndexParams(kind="hnsw")
    if count * (4 * dim + 2 * hnsw.hnsw_m * 4 + 16) <= memory_budget_mb * 2**20:
        return hnsw
    return ivfpq_params(count, dim)


def ivfpq_params(count: int, dim: int) -> IndexParams:
    """IVF-PQ sized for ``count`` vectors: about ``4*sqrt(n)`` lists (a power of two, at least 39 training
    points each) and ``dim/8``-byte codes (the largest of dim/8, dim/16, ... that divides ``dim``)."""
    nlist = 2 ** max(4, round(math.log2(4 * math.sqrt(max(count, 1)))))
    nlist = min(nlist, max(16, 2 ** int(math.log2(max(count, 1) / 39)))) if count >= 39 * 16 else 16
    pq_m = next(m for m in (dim // 8, dim // 16, dim // 4, dim // 2, dim, 1) if m >= 1 and dim % m == 0)
    return IndexParams(kind="ivfpq", nlist=nlist, pq_m=pq_m)


def index_params_for(kind: str, count: int, dim: int, memory_budget_mb: float = 4096.0) -> IndexParams:
    """``auto`` -> :func:`choose_index_params`; ``ivfpq`` sized by :func:`ivfpq_params`; else defaults."""
    if kind == "auto":
        return choose_index_params(count, dim, memory_budget_mb)
    if kind == "ivfpq":
        return ivfpq_params(count, dim)
    return IndexParams(kind=kind)


def bytes_per_vector(params: IndexParams, dim: int) -> float:
    """Approximate index memory per vector (bytes), for ``index info`` and benchmarks."""
    return index_class(params.kind).bytes_per_vector(params, dim)


class VectorIndex(ABC):
    """A FAISS index with add/remove/search by vid. Build with :meth:`create` or :meth:`load`, which return the
    subclass of the index's kind (:class:`FlatIndex`, :class:`HnswIndex`, :class:`IvfPqIndex`); callers use
    only this interface."""

    kind: ClassVar[str] = ""

    def __init__(self, index: faiss.Index, params: IndexParams, dim: int) -> None:
        self._index = index
        self.params = params
        self.dim = dim
        self._tombstones: set[int] = set()

    # ---- construction --------------------------------------------------------------------------------------

    @classmethod
    def create(cls, params: IndexParams, dim: int, training: np.ndarray | None = None) -> VectorIndex:
        """An empty index. IVF-PQ needs ``training`` vectors (a few thousand at least)."""
        kind = index_class(params.kind)
        return kind(kind.new_faiss_index(params, dim, training), params, dim)

    @classmethod
    def load(cls, path: Path, params: IndexParams, dim: int) -> VectorIndex:
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise CatalogError(
                f"{path}: unreadable FAISS index ({str(exc).splitlines()[0][:200]}); "
                "run `sceneqa index rebuild` to recreate it from the store"
            ) from exc
        if index.d != dim:
            raise CatalogError(f"{path}: FAISS index has dim {index.d}, the manifest says {dim}")
        return index_class(params.kind)(index, params, dim)

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename)."""
        atomic_write(path, lambda tmp: faiss.write_index(self._index, str(tmp)))

    # ---- what each kind supplies ---------------------------------------------------------------------------

    @staticmethod
    @abstractmethod
    def new_faiss_index(params: IndexParams, dim: int, training: np.ndarray | None) -> faiss.Index:
        """An empty FAISS index of this kind (``training``: vectors for kinds that need them)."""

    @staticmethod
    @abstractmethod
    def bytes_per_vector(params: IndexParams, dim: int) -> float:
        """Approximate memory per vector (bytes)."""

    @abstractmethod
    def stored_ids(self) -> np.ndarray:
        """Every vid physically in the index (tombstones included), as int64."""

    def _search_parameters(self, params: SearchParams, k: int, selector) -> faiss.SearchParameters | None:
        """This kind's per-call parameters with ``selector`` (``None``: the index's own defaults)."""
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def _remove(self, vids: np.ndarray) -> None:
        self._index.remove_ids(vids)

    # ---- writes --------------------------------------------------------------------------------------------

    def add(self, vids: np.ndarray, vectors: np.ndarray) -> None:
        if len(vids) == 0:
            return
        vecs = np.ascontiguousarray(vectors, np.float32)
        if vecs.ndim != 2 or vecs.shape[1] != self.dim:
            raise CatalogError(f"vectors of shape {vecs.shape} cannot go into an index of dim {self.dim}")
        self._index.add_with_ids(vecs, np.ascontiguousarray(vids, np.int64))

    def remove(self, vids: np.ndarray) -> None:
        if len(vids) == 0:
            return
        self._remove(np.ascontiguousarray(vids, np.int64))

    def set_tombstones(self, vids: np.ndarray) -> None:
        """Mark vids (present in the file, absent from the store) as deleted."""
        self._tombstones = {int(v) for v in vids}

    # ---- reads ---------------------------------------------------------------------------------------------

    @property
    def tombstones(self) -> int:
        return len(self._tombstones)

    def live_ids(self) -> np.ndarray:
        """Every vid a search can return: stored minus tombstones."""
        ids = self.stored_ids()
        if self._tombstones:
            ids = ids[~np.isin(ids, np.fromiter(self._tombstones, np.int64))]
        return ids

    def live_count(self) -> int:
        return int(self._index.ntotal) - len(self._tombstones)

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None, params: SearchParams = SearchParams()
    ) -> SearchResult:
        """Top-``k`` by inner product. ``allowed``: only these vids may be returned (a filter inside the
        search, not after it); tombstones never are."""
        q = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        k = max(1, min(k, max(1, self._index.ntotal)))
        sp = self._search_parameters(params, k, self._selector(allowed))
        scores, vids = self._index.search(q, k, params=sp)
        scores = np.where(vids < 0, -np.inf, scores)
        return SearchResult(scores=scores, vids=vids)

    def _selector(self, allowed: np.ndarray | None):
        if allowed is not None:
            ids = np.ascontiguousarray(allowed, np.int64)
            if self._tombstones:
                ids = ids[~np.isin(ids, np.fromiter(self._tombstones, np.int64))]
            return faiss.IDSelectorBatch(ids)
        if self._tombstones:
            inner = faiss.IDSelectorBatch(np.fromiter(self._tombstones, np.int64))
            outer = faiss.IDSelectorNot(inner)
            outer.referenced_objects = [inner]  # SWIG does not keep the inner selector alive by itself
            return outer
        return None

    def exact_subset(self, query: np.ndarray, vids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Exact top-``k`` among ``vids`` from the vectors held in memory (flat and HNSW store them in full),
        as ``(vids, scores)`` best first; ``None`` for IVF-PQ, whose codes are approximate."""
        return None

    def reconstruct(self, vids: np.ndarray) -> np.ndarray:
        """Stored vectors for ``vids`` (exact for flat/HNSW, PQ-approximate for IVF-PQ)."""
        return np.stack([self._index.reconstruct(int(v)) for v in vids]) if len(vids) else np.zeros((0, self.dim))

    def memory_bytes(self) -> int:
        return int(self._index.ntotal * self.bytes_per_vector(self.params, self.dim))


class _IdMapIndex(VectorIndex):
    """Flat and HNSW: ``IndexIDMap2`` over an index that keeps the full vectors (exact re-scoring)."""

    def __init__(self, index: faiss.Index, params: IndexParams, dim: int) -> None:
        super().__init__(index, params, dim)
        self._id_lookup: tuple[np.ndarray, np.ndarray] | None = None  # sorted ids, their positions

    def add(self, vids: np.ndarray, vectors: np.ndarray) -> None:
        super().add(vids, vectors)
        self._id_lookup = None

    def remove(self, vids: np.ndarray) -> None:
        super().remove(vids)
        self._id_lookup = None

    def stored_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def exact_subset(self, query: np.ndarray, vids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        if self._id_lookup is None:
            ids = self.stored_ids()
            order = np.argsort(ids, kind="stable")
            self._id_lookup = (ids[order], order)
        sorted_ids, order = self._id_lookup
        vids = np.asarray(vids, np.int64)
        if self._tombstones:
            vids = vids[~np.isin(vids, np.fromiter(self._tombstones, np.int64))]
        at = np.minimum(np.searchsorted(sorted_ids, vids), max(len(sorted_ids) - 1, 0))
        found = (sorted_ids[at] == vids) if len(sorted_ids) else np.zeros(len(vids), bool)
        vids, rows = vids[found], order[at[found]]
        scores = self._vectors_view()[rows] @ np.asarray(query, np.float32)
        top = np.lexsort((vids, -scores))[:k]
        return vids[top], scores[top]

    @abstractmethod
    def _flat_storage(self) -> faiss.IndexFlat:
        """The ``IndexFlat`` that holds the full vectors."""

    def _vectors_view(self) -> np.ndarray:
        """A zero-copy ``(ntotal, dim)`` view of the full vectors."""
        flat = self._flat_storage()
        n = flat.ntotal
        return faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim) if n else np.zeros((0, self.dim))


class FlatIndex(_IdMapIndex):
    """Exact search: ``IndexIDMap2(IndexFlatIP)``."""

    kind = "flat"

    @staticmethod
    def new_faiss_index(params: IndexParams, dim: int, training: np.ndarray | None) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @staticmethod
    def bytes_per_vector(params: IndexParams, dim: int) -> float:
        return 4 * dim + 8

    def _flat_storage(self) -> faiss.IndexFlat:
        return faiss.downcast_index(self._index.index)


class HnswIndex(_IdMapIndex):
    """``IndexIDMap2(IndexHNSWFlat)``. FAISS cannot delete from an HNSW graph: removed vids become tombstones."""

    kind = "hnsw"

    @staticmethod
    def new_faiss_index(params: IndexParams, dim: int, training: np.ndarray | None) -> faiss.Index:
        inner = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = params.hnsw_ef_construction
        return faiss.IndexIDMap2(inner)

    @staticmethod
    def bytes_per_vector(params: IndexParams, dim: int) -> float:
        return 4 * dim + 2 * params.hnsw_m * 4 + 8

    def _remove(self, vids: np.ndarray) -> None:
        self._tombstones.update(int(v) for v in vids)

    def _search_parameters(self, params: SearchParams, k: int, selector) -> faiss.SearchParameters | None:
        return faiss.SearchParametersHNSW(efSearch=max(params.ef_search, k), sel=selector)

    def _flat_storage(self) -> faiss.IndexFlat:
        return faiss.downcast_index(faiss.downcast_index(self._index.index).storage)


class IvfPqIndex(VectorIndex):
    """``IndexIVFPQ`` with ids and a hash-table direct map (so ids can be removed and reconstructed)."""

    kind = "ivfpq"

    @staticmethod
    def new_faiss_index(params: IndexParams, dim: int, training: np.ndarray | None) -> faiss.Index:
        if training is None or len(training) < params.nlist:
            have = 0 if training is None else len(training)
            raise CatalogError(
                f"IVF-PQ with {params.nlist} lists needs at least {params.nlist} training vectors, "
                f"got {have}; use --type flat or hnsw for small catalogs"
            )
        if dim % params.pq_m:
            raise CatalogError(f"IVF-PQ: pq_m {params.pq_m} must divide the dimension {dim}")
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, params.nlist, params.pq_m, params.pq_bits, faiss.METRIC_INNER_PRODUCT)
        index.train(np.ascontiguousarray(training, np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return index

    @staticmethod
    def bytes_per_vector(params: IndexParams, dim: int) -> float:
        return params.pq_m * params.pq_bits / 8 + 8 + 16

    def stored_ids(self) -> np.ndarray:
        inv = self._index.invlists
        parts = [
            faiss.rev_swig_ptr(inv.get_ids(i), inv.list_size(i)).copy()
            for i in range(self._index.nlist)
            if inv.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def _search_parameters(self, params: SearchParams, k: int, selector) -> faiss.SearchParameters | None:
        return faiss.SearchParametersIVF(nprobe=min(params.nprobe, self._index.nlist), sel=selector)


#: index kind (``IndexParams.kind``) -> its class.
INDEX_CLASSES: dict[str, type[VectorIndex]] = {c.kind: c for c in (FlatIndex, HnswIndex, IvfPqIndex)}


def index_class(kind: str) -> type[VectorIndex]:
    """The :class:`VectorIndex` subclass of an index kind."""
    try:
        return INDEX_CLASSES[kind]
    except KeyError:
        raise CatalogError(f"index type {kind!r} is not one of {', '.join(INDEX_CLASSES)}") from None
