"""Ingesting a catalog source into an index folder: read -> hash -> decode (a thread, one chunk ahead)
-> embed (the model, this chunk) -> store + index (one transaction per chunk) -> periodic commits.

Resumable by construction: items already stored with the same content hash are not decoded or embedded
again (only their metadata is refreshed), so re-running an interrupted command finishes the job without
duplicates. Bad rows and images are reported and skipped; they never abort the run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from multimodal.catalog_sources import SourceItem, SourceProblem, SourceRow
from multimodal.encoders.base import Encoder
from multimodal.errors import InvalidImageError
from multimodal.fetch import read_image_bytes
from multimodal.images import DEFAULT_LIMITS, ImageLimits, load_image
from retrieval.catalog import Catalog
from retrieval.records import ItemRecord
from retrieval.vector_index import index_params_for


@dataclass(frozen=True)
class IngestOptions:
    """chunk: images per embedding batch and store transaction; commit_every: items between index-file
    commits; index_type: ``auto`` (from count and memory budget) or flat/hnsw/ivfpq."""

    chunk: int = 64
    commit_every: int = 2048
    allow_urls: bool = False
    allow_duplicates: bool = False
    index_type: str = "auto"
    memory_budget_mb: float = 4096.0
    limits: ImageLimits = DEFAULT_LIMITS


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    metadata: int = 0
    unchanged: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    embedded: int = 0
    index_type: str = ""
    count: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "added": self.added,
            "updated": self.updated,
            "metadata_updated": self.metadata,
            "unchanged": self.unchanged,
            "duplicates": [{"id": a, "duplicate_of": b} for a, b in self.duplicates],
            "failed": [{"where": w, "reason": r} for w, r in self.failed],
            "seconds": round(self.seconds, 3),
            "images_per_s": round(self.embedded / self.seconds, 2) if self.seconds else 0.0,
            "index_type": self.index_type,
            "count": self.count,
        }


@dataclass(frozen=True)
class _Prepared:
    row: SourceRow
    sha256: str
    image: object | None  # a decoded PIL image, or None when the stored content is unchanged


def prepare_rows(rows: list[SourceRow], known: dict[str, str], options: IngestOptions, draft: int):
    """Runs in the decode thread: read bytes, hash, decode only what is new or changed."""
    ready, failed = [], []
    for row in rows:
        try:
            data = read_image_bytes(row.image, limits=options.limits, allow_urls=options.allow_urls)
            sha = hashlib.sha256(data).hexdigest()
            image = (
                None
                if known.get(row.id) == sha
                else load_image(data, limits=options.limits, draft_size=draft, name=row.image)
            )
            ready.append(_Prepared(row, sha, image))
        except InvalidImageError as exc:
            failed.append((row.where or row.image, str(exc)))
    return ready, failed


def iter_chunks(items: Iterable[SourceItem], size: int, summary: IngestSummary) -> Iterator[list[SourceRow]]:
    batch: list[SourceRow] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, SourceProblem):
            summary.failed.append((item.where, item.reason))
            continue
        if item.id in seen:
            summary.failed.append((item.where, f"id {item.id!r} appears again in this source; first kept"))
            continue
        seen.add(item.id)
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest(
    catalog: Catalog,
    encoder: Encoder,
    source: Iterable[SourceItem],
    options: IngestOptions = IngestOptions(),
    progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Add or update every row of ``source`` in ``catalog`` (opened writable). Returns the summary."""
    summary = IngestSummary()
    start = time.perf_counter()
    since_commit = 0
    chunks = iter_chunks(source, options.chunk, summary)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sceneqa-ingest") as pool:

        def submit(rows):
            known = catalog.store.known_hashes([r.id for r in rows])  # main thread: the DB connection
            return pool.submit(prepare_rows, rows, known, options, encoder.image_size)

        rows = next(chunks, None)
        pending = submit(rows) if rows else None
        while pending is not None:
            ready, failed = pending.result()
            rows = next(chunks, None)
            pending = submit(rows) if rows else None
            summary.failed.extend(failed)
            to_embed = [p for p in ready if p.image is not None]
            vectors = encoder.embed_images([p.image for p in to_embed]) if to_embed else np.zeros((0, encoder.dim))
            vec_by_id = {p.row.id: v for p, v in zip(to_embed, vectors)}
            summary.embedded += len(to_embed)
            records = [
                ItemRecord(p.row.id, p.row.image, p.sha256, vec_by_id.get(p.row.id), dict(p.row.metadata))
                for p in ready
            ]
            for outcome in catalog.upsert(records, allow_duplicates=options.allow_duplicates) if records else []:
                if outcome.kind == "duplicate":
                    summary.duplicates.append((outcome.id, outcome.duplicate_of or ""))
                else:
                    setattr(summary, outcome.kind, getattr(summary, outcome.kind) + 1)
            since_commit += len(ready)
            if since_commit >= max(options.commit_every, catalog.store.count() // 10):
                catalog.commit()
                since_commit = 0
            if progress:
                progress(len(ready) + len(failed))
    settle_index_type(catalog, options.index_type, options.memory_budget_mb)
    catalog.commit()
    summary.seconds = time.perf_counter() - start
    summary.index_type = catalog.index.params.kind
    summary.count = catalog.store.count()
    return summary


def settle_index_type(catalog: Catalog, index_type: str, memory_budget_mb: float) -> None:
    """Rebuild into the asked-for (or, for ``auto``, the recommended) index type if it differs."""
    count = catalog.store.count()
    target = index_params_for(index_type, count, catalog.manifest.dim, memory_budget_mb)
    if target.kind != catalog.index.params.kind and count > 0:
        catalog.rebuild(target)
