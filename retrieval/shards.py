"""Embedding shards: the unit of work of distributed ingestion, and its output on disk.

A shard is one Parquet file ``shard-NNNNNN.parquet`` holding, per item: id, image location, content hash
(sha256), metadata (JSON text) and the embedding (``FixedSizeList<float32>[dim]``); the items that failed are
kept in the file's key-value metadata (``sceneqa.failed``: JSON list of ``[where, reason]``), with the ids the
shard was planned to hold (``sceneqa.planned``: a rerun checks them against its own plan). A shard file is
written whole (temporary file + rename), so an existing shard is a complete one: a rerun skips it.

Reading is streaming: counts come from the Parquet footer, vectors shard by shard; nothing here holds more
than one shard in memory.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.atomic import atomic_write_bytes
from retrieval.errors import CatalogError
from retrieval.records import ItemRecord

SHARD_GLOB = "shard-*.parquet"
FAILED_KEY = b"sceneqa.failed"
PLANNED_KEY = b"sceneqa.planned"
FINGERPRINT_KEY = b"sceneqa.fingerprint"


def shard_name(number: int) -> str:
    return f"shard-{number:06d}.parquet"


@dataclass(frozen=True)
class Shard:
    """One shard's content. ``vectors`` is float32 ``(len(ids), dim)``; rows whose content is already stored
    unchanged carry a NaN row (nothing was embedded for them, only their metadata is refreshed)."""

    ids: list[str]
    images: list[str]
    hashes: list[str]
    metadata: list[str]
    vectors: np.ndarray
    failed: list[tuple[str, str]]
    planned: tuple[str, ...] = ()
    fingerprint: str = ""

    def records(self) -> list[ItemRecord]:
        out = []
        for i, item_id in enumerate(self.ids):
            vec = self.vectors[i]
            out.append(
                ItemRecord(
                    item_id,
                    self.images[i],
                    self.hashes[i],
                    None if np.isnan(vec[0]) else vec,
                    json.loads(self.metadata[i]),
                )
            )
        return out


def shard_bytes(shard: Shard, dim: int) -> bytes:
    """The Parquet bytes of ``shard`` (what a worker returns; the driver writes them with :func:`write_shard`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(shard.vectors, np.float32).reshape(len(shard.ids), dim)
    flat = pa.array(vectors.reshape(-1), pa.float32())
    table = pa.table(
        {
            "id": pa.array(shard.ids, pa.string()),
            "image": pa.array(shard.images, pa.string()),
            "sha256": pa.array(shard.hashes, pa.string()),
            "metadata": pa.array(shard.metadata, pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
        }
    )
    table = table.replace_schema_metadata(
        {
            FAILED_KEY: json.dumps(shard.failed).encode(),
            PLANNED_KEY: json.dumps(list(shard.planned)).encode(),
            FINGERPRINT_KEY: shard.fingerprint.encode(),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def write_shard(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data)


def read_shard(path: Path) -> Shard:
    """A whole shard in memory (small shards, tests); builds stream with :func:`iter_shard_parts`."""
    parts = list(iter_shard_parts(path, rows=1 << 30))
    if not parts:
        return Shard([], [], [], [], np.zeros((0, 0), np.float32), [])
    return parts[0]


def _parquet(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's ArrowInvalid / OSError family
        raise CatalogError(f"{path}: not a readable shard ({exc}); delete it and rerun to embed it again") from exc


def _vectors(batch, dim: int) -> np.ndarray:
    flat = batch.column("vector").flatten().to_numpy(zero_copy_only=False)
    return flat.astype(np.float32, copy=False).reshape(-1, dim)


def iter_shard_parts(path: Path, rows: int = 4096) -> Iterator[Shard]:
    """The shard ``rows`` items at a time (memory: one part); the failures come with the first part."""
    pf = _parquet(path)
    dim = pf.schema_arrow.field("vector").type.list_size
    meta = pf.schema_arrow.metadata or {}
    failed = [tuple(x) for x in json.loads(meta.get(FAILED_KEY, b"[]"))]
    planned = tuple(json.loads(meta.get(PLANNED_KEY, b"[]")))
    first = True
    for batch in pf.iter_batches(batch_size=rows):
        yield Shard(
            ids=batch.column("id").to_pylist(),
            images=batch.column("image").to_pylist(),
            hashes=batch.column("sha256").to_pylist(),
            metadata=batch.column("metadata").to_pylist(),
            vectors=_vectors(batch, dim),
            failed=failed if first else [],
            planned=planned,
        )
        first = False
    if first:  # no rows at all: still report the failures
        yield Shard([], [], [], [], np.zeros((0, dim), np.float32), failed, planned)


def _footer(path: Path) -> dict[bytes, bytes] | None:
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(path).metadata or {}
    except Exception:  # pyarrow's ArrowInvalid / OSError family: a damaged file
        return None


def planned_ids(path: Path) -> tuple[str, ...] | None:
    """The ids a shard file was planned to hold, from its footer; None if the file is unreadable."""
    meta = _footer(path)
    return None if meta is None else tuple(json.loads(meta.get(PLANNED_KEY, b"[]")))


def shard_fingerprint(path: Path) -> str | None:
    """The fingerprint of the task a shard was made from (see ``ray_ingest.task_fingerprint``); None if
    the file is unreadable."""
    meta = _footer(path)
    return None if meta is None else meta.get(FINGERPRINT_KEY, b"").decode()


def shard_rows(path: Path) -> int:
    """Rows in a shard, from the Parquet footer (no data read)."""
    return _parquet(path).metadata.num_rows


def list_shards(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob(SHARD_GLOB))


def sample_vectors(paths: Sequence[Path], n: int, seed: int = 0) -> np.ndarray:
    """About ``n`` embedded vectors drawn uniformly across shards (seeded), reading only the vector column
    a batch at a time: memory is the sample plus one batch."""
    counts = [shard_rows(p) for p in paths]
    total = sum(counts)
    if total == 0:
        return np.zeros((0, 0), np.float32)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(total, size=min(n, total), replace=False))
    parts, start = [], 0
    for path in paths:
        pf = _parquet(path)
        dim = pf.schema_arrow.field("vector").type.list_size
        for batch in pf.iter_batches(batch_size=8192, columns=["vector"]):
            local = keep[(keep >= start) & (keep < start + batch.num_rows)] - start
            start += batch.num_rows
            if len(local):
                vecs = _vectors(batch, dim)[local]
                parts.append(vecs[~np.isnan(vecs[:, 0])].copy())
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
