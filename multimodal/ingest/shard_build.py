"""Building an index folder from embedding shards: the second half of distributed ingestion.

Counts come from the shard footers; the index type follows from the count (``auto``: flat when small, IVF-PQ
when large, as for the local path). IVF-PQ is trained on a seeded sample drawn across the shards, then the
shards are added one by one, a part of a few thousand rows at a time (store rows + index codes), so memory
holds the training sample, one part and the index, never all vectors. The result is the same index folder
(manifest, store, index file) the local path writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from multimodal.ingest.local import IngestSummary, settle_index_type
from retrieval.catalog import Catalog
from retrieval.manifest import read_manifest
from retrieval.shards import iter_shard_parts, sample_vectors, shard_rows
from retrieval.vector_index import index_params_for

UPSERT_ROWS = 4096


def build_from_shards(
    folder: Path,
    paths: Sequence[Path],
    *,
    encoder: str,
    dim: int,
    index_type: str = "auto",
    memory_budget_mb: float = 4096.0,
    allow_duplicates: bool = False,
    commit_every_shards: int = 8,
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Upsert every shard (in order) into the index folder ``folder``; returns the ingest summary."""
    summary = IngestSummary()
    start = time.perf_counter()
    total = sum(shard_rows(p) for p in paths)
    if read_manifest(Path(folder)) is None:
        params = index_params_for(index_type, total, dim, memory_budget_mb)
        training = sample_vectors(paths, max(100_000, 40 * params.nlist)) if params.kind == "ivfpq" else None
        cat = Catalog.open(
            folder, encoder=encoder, dim=dim, writable=True, create=True, index_params=params, training=training
        )
        cat.commit()  # the trained (empty) index is on disk before any item: a killed build resumes with it
    else:
        cat = Catalog.open(folder, encoder=encoder, dim=dim, writable=True)
    with cat:
        for n, path in enumerate(paths, start=1):
            for part in iter_shard_parts(path, UPSERT_ROWS):  # memory: one part of one shard
                summary.failed.extend(part.failed)
                summary.tally(cat.upsert(part.records(), allow_duplicates=allow_duplicates))
                summary.embedded += int((~_unchanged(part)).sum())
                if progress:
                    progress(len(part.ids) + len(part.failed))
            if n % commit_every_shards == 0:
                cat.commit()
        settle_index_type(cat, index_type, memory_budget_mb)
        cat.commit()
        summary.index_type = cat.index.params.kind
        summary.count = cat.store.count()
    summary.seconds = time.perf_counter() - start
    return summary


def _unchanged(shard) -> np.ndarray:
    """Rows stored before with the same content (NaN vector: nothing was embedded for them)."""
    return np.isnan(shard.vectors[:, 0]) if len(shard.ids) else np.zeros(0, bool)
