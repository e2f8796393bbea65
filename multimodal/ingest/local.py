"""Ingesting a catalog source into an index folder: read -> hash -> decode (a thread, one batch ahead)
-> embed (the model, this batch) -> store + index (one transaction per chunk) -> periodic commits.

Decoded images are dropped as soon as their batch is embedded, so at most two batches of decoded images
(``IngestOptions.batch``) exist at once, however large a chunk is. The request's deadline
(:mod:`multimodal.deadline`, a no-op outside a request) is checked before each batch.

Resumable by construction: items already stored with the same content hash are not decoded or embedded
again (only their metadata is refreshed), so re-running an interrupted command finishes the job without
duplicates. Bad rows and images are reported and skipped; they never abort the run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from multimodal.deadline import check_deadline
from multimodal.encoders.base import Encoder
from multimodal.errors import ConfigError, InvalidImageError
from multimodal.images import DEFAULT_LIMITS, ImageLimits, load_image
from multimodal.images.fetch import read_image_bytes
from multimodal.ingest.batch_embed import DEFAULT_BATCH, prefetch_one
from retrieval.catalog import Catalog
from retrieval.records import ItemRecord
from retrieval.sources import SourceItem, SourceProblem, SourceRow
from retrieval.vector_index import index_params_for


@dataclass(frozen=True)
class IngestOptions:
    """chunk: rows per store transaction; batch: images decoded ahead and embedded together (at most two
    batches of decoded images exist at once); commit_every: items between index-file commits; index_type:
    ``auto`` (from count and memory budget) or flat/hnsw/ivfpq."""

    chunk: int = 64
    batch: int = DEFAULT_BATCH
    commit_every: int = 2048
    allow_urls: bool = False
    allow_duplicates: bool = False
    index_type: str = "auto"
    memory_budget_mb: float = 4096.0
    limits: ImageLimits = DEFAULT_LIMITS

    def __post_init__(self) -> None:
        if self.chunk < 1 or self.batch < 1:
            raise ConfigError(
                f"IngestOptions: chunk and batch must be >= 1, got chunk={self.chunk}, batch={self.batch}"
            )


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

    def tally(self, outcomes) -> None:
        """Count the store's per-item outcomes (``retrieval.store.Outcome``) into this summary."""
        for outcome in outcomes:
            if outcome.kind == "duplicate":
                self.duplicates.append((outcome.id, outcome.duplicate_of or ""))
            else:
                setattr(self, outcome.kind, getattr(self, outcome.kind) + 1)

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


def iter_batches(
    chunks: Iterable[list[SourceRow]], size: int, known_of: Callable[[list[SourceRow]], dict[str, str]]
) -> Iterator[tuple[list[SourceRow], dict[str, str], bool]]:
    """``(rows, known hashes of the chunk, last batch of its chunk?)``: each chunk cut into batches of ``size``.
    ``known_of`` runs here, in the consumer's thread (it reads the store)."""
    for rows in chunks:
        known = known_of(rows)
        for start in range(0, len(rows), size):
            yield rows[start : start + size], known, start + size >= len(rows)


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
    # The store is read in this thread (its connection); ids are unique within a source, so reading the next
    # chunk's known hashes before this chunk is stored cannot miss one of its rows.
    batches = iter_batches(
        chunks, min(options.batch, options.chunk), lambda rows: catalog.store.known_hashes([r.id for r in rows])
    )
    ready: list[_Prepared] = []  # the current chunk, images already embedded and dropped
    vectors: dict[str, np.ndarray] = {}
    failed: list[tuple[str, str]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sceneqa-ingest") as pool:

        def prepare(batch):
            rows, known, _ = batch
            return prepare_rows(rows, known, options, encoder.image_size)

        for (_, _, last), (got, bad) in prefetch_one(batches, prepare, pool):
            check_deadline("ingesting images")
            to_embed = [p for p in got if p.image is not None]
            if to_embed:
                vectors.update(zip((p.row.id for p in to_embed), encoder.embed_images([p.image for p in to_embed])))
            summary.embedded += len(to_embed)
            ready.extend(replace(p, image=None) for p in got)
            failed.extend(bad)
            del got, to_embed
            if not last:
                continue
            summary.failed.extend(failed)
            records = [
                ItemRecord(p.row.id, p.row.image, p.sha256, vectors.get(p.row.id), dict(p.row.metadata)) for p in ready
            ]
            summary.tally(catalog.upsert(records, allow_duplicates=options.allow_duplicates) if records else [])
            since_commit += len(ready)
            if since_commit >= max(options.commit_every, catalog.store.count() // 10):
                catalog.commit()
                since_commit = 0
            if progress:
                progress(len(ready) + len(failed))
            ready, vectors, failed = [], {}, []
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
