"""The index folder's manifest: which encoder built it, dimension, metric, index type, count.

Written last on every commit (atomically), read first on open. Opening with a different encoder or
dimension than recorded is an :class:`EncoderMismatchError` naming both.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from retrieval.atomic import atomic_write_bytes
from retrieval.errors import CatalogError, EncoderMismatchError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INDEX_TYPES = ("flat", "hnsw", "ivfpq")


@dataclass(frozen=True)
class IndexParams:
    """Build parameters of the FAISS index. ``hnsw_m``: graph degree; ``nlist``/``pq_m``/``pq_bits``: IVF-PQ."""

    kind: str = "flat"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    nlist: int = 0
    pq_m: int = 0
    pq_bits: int = 8

    def __post_init__(self) -> None:
        if self.kind not in INDEX_TYPES:
            raise CatalogError(f"index type {self.kind!r} is not one of {', '.join(INDEX_TYPES)}")
        if self.kind == "ivfpq" and (self.nlist < 1 or self.pq_m < 1):
            raise CatalogError("an ivfpq index needs nlist >= 1 and pq_m >= 1 (see vector_index.ivfpq_params)")


@dataclass(frozen=True)
class Manifest:
    encoder: str
    dim: int
    index: IndexParams = IndexParams()
    metric: str = "inner_product"
    normalized: bool = True
    count: int = 0
    format_version: int = FORMAT_VERSION
    updated_at: str = ""

    def describe_encoder(self) -> str:
        return f"{self.encoder} (dim {self.dim})"


def read_manifest(folder: Path) -> Manifest | None:
    """The manifest of ``folder``, or ``None`` if the folder holds no index yet."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        raw = json.loads(path.read_text())
        raw["index"] = IndexParams(**raw.get("index", {}))
        manifest = Manifest(**raw)
    except (ValueError, TypeError) as exc:
        raise CatalogError(f"{path}: unreadable manifest ({exc}); restore it or rebuild the index") from exc
    if manifest.format_version > FORMAT_VERSION:
        raise CatalogError(
            f"{folder}: index format {manifest.format_version} is newer than this sceneqa "
            f"({FORMAT_VERSION}); upgrade sceneqa"
        )
    return manifest


def write_manifest(folder: Path, manifest: Manifest) -> Manifest:
    stamped = replace(manifest, updated_at=datetime.now(UTC).isoformat(timespec="seconds"))
    atomic_write_bytes(folder / MANIFEST, json.dumps(asdict(stamped), indent=2).encode())
    return stamped


def check_encoder(folder: Path, manifest: Manifest, encoder: str, dim: int) -> None:
    """Raise :class:`EncoderMismatchError` unless ``encoder``/``dim`` are what built the index."""
    if manifest.encoder != encoder or manifest.dim != dim:
        raise EncoderMismatchError(
            f"index {folder} was built with {manifest.describe_encoder()} but the encoder in use is "
            f"{encoder} (dim {dim}); pass --encoder {manifest.encoder} (or the --tier that gives it), "
            "or build a new index with this encoder"
        )
