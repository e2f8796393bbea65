"""An index folder: ``manifest.json`` + ``store.sqlite`` (items, metadata, FTS5, embeddings) +
``index.faiss``, with one writer at a time and crash-safe commits.

The store is the source of truth; the FAISS file is a derived, atomically replaced artefact. On open the
two are *reconciled*: vids in the store but not in the file are added from the stored embeddings, vids in
the file but not in the store are removed (or tombstoned for HNSW). So a crash at any moment leaves a
folder that opens, answers, and holds every item whose store transaction committed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from retrieval.errors import CatalogError
from retrieval.filters import Filter, compile_filters
from retrieval.fusion import fts_query, reciprocal_rank_fusion
from retrieval.lock import WriterLock
from retrieval.manifest import IndexParams, Manifest, check_encoder, read_manifest, write_manifest
from retrieval.records import ItemRecord
from retrieval.store import STORE, CatalogStore, Outcome
from retrieval.vector_index import SearchParams, VectorIndex, bytes_per_vector, choose_index_params

INDEX_FILE = "index.faiss"
#: Filtered searches over at most this many matching items are answered exactly from stored embeddings.
EXACT_FILTER_LIMIT = 20_000
#: IVF-PQ candidates re-scored exactly, as a multiple of k.
RERANK_FACTOR = 10


@dataclass(frozen=True)
class Hit:
    """One search result. ``score``: cosine (vector search) or fused RRF score (hybrid)."""

    vid: int
    id: str
    score: float
    image: str
    metadata: dict

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "score": round(float(self.score), 6),
            "image": self.image,
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class Reconciled:
    added: int
    removed: int


class Catalog:
    """Open with :meth:`open`; close (or use as a context manager) to release the writer lock."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        store: CatalogStore,
        index: VectorIndex,
        lock: WriterLock | None,
        *,
        new_columns: bool = True,
    ) -> None:
        self.folder = folder
        self.new_columns = new_columns
        self.manifest = manifest
        self.store = store
        self.index = index
        self._lock = lock
        self.reconciled = Reconciled(0, 0)

    # ---- lifecycle -----------------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        encoder: str | None,
        dim: int | None,
        writable: bool = False,
        create: bool = False,
        index_params: IndexParams | None = None,
        training: np.ndarray | None = None,
        new_columns: bool = True,
    ) -> Catalog:
        """Open (or with ``create``, start) the index folder for ``encoder``/``dim``.

        ``encoder=None`` trusts the manifest (for operations that never embed: info, remove, rebuild,
        dedup). ``writable`` takes the writer lock (:class:`IndexLockedError` if another process holds it).
        ``training``: vectors to train a new IVF-PQ index on (default: a sample of the stored items), for
        builds that add items after the index exists (from embedding shards).
        ``new_columns``: whether this writer's unknown metadata keys become declared (typed, indexed) columns,
        up to ``retrieval.records.MAX_COLUMNS``; ``False`` for client writes (the web server), whose unknown
        keys are kept in each item's ``extra`` JSON object so clients cannot grow the schema.
        """
        folder = Path(folder)
        manifest = read_manifest(folder)
        if manifest is None:
            if not create or encoder is None or dim is None:
                raise CatalogError(
                    f"{folder}: no index here; build one with `sceneqa index add SOURCE --index {folder}`"
                )
            manifest = Manifest(encoder=encoder, dim=dim, index=index_params or IndexParams())
        if encoder is not None:
            check_encoder(folder, manifest, encoder, dim if dim is not None else manifest.dim)
        dim = manifest.dim
        lock = WriterLock(folder).acquire() if writable else None
        try:
            if writable and not (folder / "manifest.json").exists():
                manifest = write_manifest(folder, manifest)
            store = CatalogStore(folder / STORE, dim, readonly=not writable)
            index = cls._load_index(folder, manifest, store, training)
            catalog = cls(folder, manifest, store, index, lock, new_columns=new_columns)
            catalog.reconciled = catalog._reconcile()
        except BaseException:
            if lock:
                lock.release()
            raise
        return catalog

    @staticmethod
    def _load_index(
        folder: Path, manifest: Manifest, store: CatalogStore, training: np.ndarray | None = None
    ) -> VectorIndex:
        path = folder / INDEX_FILE
        if path.exists():
            return VectorIndex.load(path, manifest.index, manifest.dim)
        if manifest.index.kind == "ivfpq" and training is None:
            training = _training_sample(store, manifest.index.nlist)
        return VectorIndex.create(manifest.index, manifest.dim, training)

    def _reconcile(self) -> Reconciled:
        live = self.store.all_vids()
        stored = self.index.stored_ids()
        missing = np.setdiff1d(live, stored, assume_unique=True)
        extra = np.setdiff1d(stored, live, assume_unique=True)
        for start in range(0, len(missing), 4096):
            chunk = missing[start : start + 4096]
            self.index.add(chunk, self.store.vectors(chunk))
        if self.index.params.kind == "hnsw":
            self.index.set_tombstones(extra)
        else:
            self.index.remove(extra)
        return Reconciled(added=len(missing), removed=len(extra))

    def close(self) -> None:
        self.store.close()
        if self._lock:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def writable(self) -> bool:
        return self._lock is not None

    def _need_writer(self) -> None:
        if not self.writable:
            raise CatalogError(f"{self.folder}: opened read-only; open it writable to change it")

    # ---- writes --------------------------------------------------------------------------------------------

    def upsert(self, records: list[ItemRecord], *, allow_duplicates: bool = False) -> list[Outcome]:
        """Store ``records`` (one transaction) and update the in-memory index; :meth:`commit` persists it."""
        self._need_writer()
        outcomes = self.store.upsert(records, allow_duplicates=allow_duplicates, new_columns=self.new_columns)
        by_id = {r.id: r for r in records}
        old = np.array([o.old_vid for o in outcomes if o.old_vid is not None], np.int64)
        new = [(o.vid, by_id[o.id].vector) for o in outcomes if o.kind in ("added", "updated")]
        self.index.remove(old)
        if new:
            self.index.add(np.array([v for v, _ in new], np.int64), np.stack([vec for _, vec in new]))
        return outcomes

    def remove(self, ids: list[str]) -> dict[str, int]:
        self._need_writer()
        removed = self.store.remove(ids)
        self.index.remove(np.array(list(removed.values()), np.int64))
        return removed

    def commit(self) -> None:
        """Persist the index file (atomic rename), then the manifest (last)."""
        self._need_writer()
        self.index.save(self.folder / INDEX_FILE)
        self.manifest = write_manifest(self.folder, replace(self.manifest, count=self.store.count()))

    def rebuild(self, params: IndexParams) -> None:
        """A fresh index of type ``params`` from the stored embeddings (drops tombstones); committed."""
        self._need_writer()
        training = _training_sample(self.store, params.nlist) if params.kind == "ivfpq" else None
        fresh = VectorIndex.create(params, self.manifest.dim, training)
        for vids, vecs in self.store.iter_vectors():
            fresh.add(vids, vecs)
        self.index = fresh
        self.manifest = replace(self.manifest, index=params)
        self.commit()

    # ---- reads ---------------------------------------------------------------------------------------------

    def filter_vids(self, filters: list[Filter]) -> np.ndarray | None:
        if not filters:
            return None
        schema = {name: self.store.column(name) for name in self.store.schema()}
        extra_keys = self.store.extra_keys_among(f.column for f in filters if f.column not in schema)
        where, params = compile_filters(filters, schema, extra_keys)
        return self.store.select_vids(where, params)

    def search(
        self,
        query: np.ndarray,
        k: int = 10,
        *,
        filters: list[Filter] | None = None,
        params: SearchParams = SearchParams(),
        keyword: str | None = None,
        exclude_ids: tuple[str, ...] = (),
    ) -> list[Hit]:
        """The ``k`` best items for a unit ``query`` vector, with metadata filters applied inside the search
        (k results whenever k items match), optional keyword fusion (FTS5 + RRF), minus ``exclude_ids``."""
        query = np.asarray(query, np.float32).reshape(-1)
        if query.shape[0] != self.manifest.dim:
            raise CatalogError(
                f"query has dim {query.shape[0]} but index {self.folder} holds dim "
                f"{self.manifest.dim} (built with {self.manifest.encoder}); pass --encoder "
                f"{self.manifest.encoder}"
            )
        allowed = self.filter_vids(filters or [])
        if allowed is not None and len(allowed) == 0:
            return []
        excluded = set(self.store.vids_for(exclude_ids).values())
        want = k + len(excluded)
        depth = max(want, 100) if keyword else want
        vids, scores = self._vector_candidates(query, depth, allowed, params)
        keep = [(v, s) for v, s in zip(vids, scores) if v not in excluded]
        if keyword:
            allowed_set = None if allowed is None else set(allowed.tolist())
            ranked_kw = [
                v
                for v, _ in self.store.keyword(fts_query(keyword), depth)
                if v not in excluded and (allowed_set is None or v in allowed_set)
            ]
            fused = reciprocal_rank_fusion([[v for v, _ in keep], ranked_kw])
            keep = fused
        keep = keep[:k]
        items = {it.vid: it for it in self.store.items([v for v, _ in keep])}
        return [Hit(v, items[v].id, s, items[v].image, dict(items[v].metadata)) for v, s in keep if v in items]

    def _vector_candidates(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None, params: SearchParams
    ) -> tuple[list[int], list[float]]:
        kind = self.index.params.kind
        if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
            return self._exact(query, k, allowed)
        depth = k * RERANK_FACTOR if kind == "ivfpq" else k
        res = self.index.search(query[None], depth, allowed=allowed, params=params)
        vids = [int(v) for v in res.vids[0] if v >= 0]
        if allowed is not None and len(vids) < min(k, len(allowed)):
            return self._exact(query, k, allowed)  # the ANN graph/lists could not reach enough matches
        if kind == "ivfpq" and vids:
            return self._exact(query, k, np.array(vids, np.int64))
        return vids[:k], [float(s) for s in res.scores[0][: len(vids)]][:k]

    def _exact(self, query: np.ndarray, k: int, vids: np.ndarray) -> tuple[list[int], list[float]]:
        """Exact top-k among ``vids``: from the index's in-memory vectors, else from the store."""
        in_memory = self.index.exact_subset(query, vids, k)
        if in_memory is not None:
            return [int(v) for v in in_memory[0]], [float(s) for s in in_memory[1]]
        best_v, best_s = np.zeros(0, np.int64), np.zeros(0, np.float32)
        for start in range(0, len(vids), 20_000):
            chunk = vids[start : start + 20_000]
            scores = self.store.vectors(chunk) @ query
            best_v = np.concatenate([best_v, chunk])
            best_s = np.concatenate([best_s, scores])
            if len(best_v) > k:
                top = np.argpartition(-best_s, k)[:k]
                best_v, best_s = best_v[top], best_s[top]
        order = np.lexsort((best_v, -best_s))[:k]
        return [int(v) for v in best_v[order]], [float(s) for s in best_s[order]]

    def vector_of(self, item_id: str) -> np.ndarray:
        vid = self.store.vids_for([item_id]).get(item_id)
        if vid is None:
            raise CatalogError(f"no item {item_id!r} in {self.folder}; `sceneqa index info` shows the count")
        return self.store.vectors([vid])[0]

    def info(self) -> dict[str, object]:
        size = sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())
        count = self.store.count()
        recommended = choose_index_params(count, self.manifest.dim)
        return {
            "folder": str(self.folder),
            "count": count,
            "encoder": self.manifest.encoder,
            "dim": self.manifest.dim,
            "metric": self.manifest.metric,
            "index_type": self.index.params.kind,
            "index_params": _relevant_params(self.index.params),
            "recommended_type": recommended.kind,
            "tombstones": self.index.tombstones,
            "bytes_per_vector": bytes_per_vector(self.index.params, self.manifest.dim),
            "size_on_disk_bytes": size,
            "schema": self.store.schema(),
            "updated_at": self.manifest.updated_at,
        }


def _training_sample(store: CatalogStore, nlist: int) -> np.ndarray:
    """Up to ``max(100k, 40 * nlist)`` stored vectors, seeded: enough for k-means on every list."""
    limit = max(100_000, 40 * nlist)
    vids = store.all_vids()
    if len(vids) == 0:
        raise CatalogError("an IVF-PQ index is trained on stored items; add items first (or use --type flat)")
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(vids, size=min(limit, len(vids)), replace=False))
    return store.vectors(pick)


def _relevant_params(params: IndexParams) -> dict[str, int]:
    if params.kind == "hnsw":
        return {"hnsw_m": params.hnsw_m, "hnsw_ef_construction": params.hnsw_ef_construction}
    if params.kind == "ivfpq":
        return {"nlist": params.nlist, "pq_m": params.pq_m, "pq_bits": params.pq_bits}
    return {}
