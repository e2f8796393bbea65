"""The worker half of distributed ingestion, without any engine: plan a source into numbered shards of rows,
and turn one shard's rows into an embedding shard (read -> hash -> decode -> embed, the same steps and the same
per-row outcomes as the local ingest). Ray runs :func:`embed_shard` inside actors; tests run it directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from multimodal.encoders.base import Encoder
from multimodal.ingest.batch_embed import prefetch_one
from multimodal.ingest.local import IngestOptions, IngestSummary, iter_chunks, prepare_rows
from retrieval.shards import Shard
from retrieval.sources import SourceItem, SourceRow


@dataclass(frozen=True)
class ShardTask:
    """Shard ``number``'s rows, each with the content hash already stored for its id (``""``: none)."""

    number: int
    rows: tuple[SourceRow, ...]
    known: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(
            {
                "number": self.number,
                "rows": [[r.id, r.image, dict(r.metadata), r.where] for r in self.rows],
                "known": list(self.known),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ShardTask:
        d = json.loads(text)
        rows = tuple(SourceRow(id=i, image=im, metadata=m, where=w) for i, im, m, w in d["rows"])
        return cls(d["number"], rows, tuple(d["known"]))


def plan_shards(
    source: Iterable[SourceItem],
    shard_size: int,
    summary: IngestSummary,
    known_hashes: Callable[[list[str]], dict[str, str]],
) -> Iterator[ShardTask]:
    """Numbered shards of ``shard_size`` rows in source order; bad rows and repeated ids go to ``summary``
    exactly as in the local ingest. ``known_hashes``: ids -> stored sha256 (resume without re-embedding)."""
    for number, rows in enumerate(iter_chunks(source, shard_size, summary)):
        known = known_hashes([r.id for r in rows])
        yield ShardTask(number, tuple(rows), tuple(known.get(r.id, "") for r in rows))


def embed_shard(task: ShardTask, encoder: Encoder, options: IngestOptions, batch: int) -> Shard:
    """Read, hash, decode (a thread, one batch ahead) and embed the task's rows, ``batch`` images at a time.
    Rows stored before with the same content are not decoded; their vector row is NaN (metadata refresh)."""
    known = {r.id: k for r, k in zip(task.rows, task.known) if k}
    batches = [list(task.rows[i : i + batch]) for i in range(0, len(task.rows), batch)]
    ids, images, hashes, metadata, vectors, failed = [], [], [], [], [], []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sceneqa-shard") as pool:

        def prepare(rows: list[SourceRow]):
            return prepare_rows(rows, known, options, encoder.image_size)

        for _, (ready, bad) in prefetch_one(batches, prepare, pool):
            failed.extend(bad)
            to_embed = [p for p in ready if p.image is not None]
            embedded = encoder.embed_images([p.image for p in to_embed]) if to_embed else np.zeros((0, encoder.dim))
            by_id = {p.row.id: v for p, v in zip(to_embed, embedded)}
            for p in ready:
                ids.append(p.row.id)
                images.append(p.row.image)
                hashes.append(p.sha256)
                metadata.append(json.dumps(dict(p.row.metadata), ensure_ascii=False))
                vectors.append(by_id.get(p.row.id, np.full(encoder.dim, np.nan, np.float32)))
            del ready, to_embed  # this batch's decoded images go before the next batch arrives
    return Shard(
        ids=ids,
        images=images,
        hashes=hashes,
        metadata=metadata,
        vectors=np.asarray(vectors, np.float32).reshape(len(ids), encoder.dim),
        failed=failed,
        planned=tuple(r.id for r in task.rows),
    )
