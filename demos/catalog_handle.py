"""The server's view of one index folder: a read-only catalog reopened when another writer committed, and
writes that take the folder's writer lock for their duration (so the CLI can write too)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from multimodal.catalog_sources import SourceRow
from multimodal.images import ImageLimits, load_image
from multimodal.ingest import IngestOptions, IngestSummary, ingest
from multimodal.services import Services
from retrieval.catalog import Catalog
from retrieval.errors import CatalogError
from retrieval.manifest import MANIFEST

UPLOADS = "uploads"
IMAGE_SUFFIXES = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


class CatalogHandle:
    def __init__(self, folder: Path, services: Services) -> None:
        self.folder = Path(folder)
        self.services = services
        self._lock = threading.RLock()
        self._reader: Catalog | None = None
        self._stamp: float | None = None

    def exists(self) -> bool:
        return (self.folder / MANIFEST).exists()

    def reader(self) -> Catalog:
        """The last committed state (reopened when the manifest changed)."""
        with self._lock:
            stamp = (self.folder / MANIFEST).stat().st_mtime if self.exists() else None
            if stamp is None:
                raise CatalogError(
                    f"{self.folder}: the catalog is empty; add images in the Catalog tab or with `sceneqa index add`"
                )
            if self._reader is None or stamp != self._stamp:
                if self._reader is not None:
                    self._reader.close()
                enc = self.services.encoder
                self._reader = Catalog.open(self.folder, encoder=enc.spec, dim=enc.dim)
                self._stamp = stamp
            return self._reader

    def add_uploads(
        self,
        uploads: list[tuple[str, bytes]],
        metadata: dict | None = None,
        progress=None,
        limits: ImageLimits | None = None,
    ) -> IngestSummary:
        """Store uploaded images under ``DIR/uploads`` (named by content hash) and ingest them."""
        limits = limits or self.services.config.image_limits
        rows, failed = [], []
        target = self.folder / UPLOADS
        target.mkdir(parents=True, exist_ok=True)
        for name, data in uploads:
            try:
                img = load_image(data, limits=limits, name=name)  # refuse non-images before storing anything
                del img
            except Exception as exc:  # our InvalidImageError family; reported per file
                failed.append((name, str(exc)))
                continue
            digest = hashlib.sha256(data).hexdigest()[:24]
            suffix = (
                Path(name).suffix.lower()
                if Path(name).suffix.lower() in {s for s in IMAGE_SUFFIXES.values()}
                else ".img"
            )
            path = target / f"{digest}{suffix}"
            if not path.exists():
                path.write_bytes(data)
            item_id = (metadata or {}).get("id") or Path(name).stem or digest
            meta = {k: v for k, v in (metadata or {}).items() if k != "id"}
            rows.append(
                SourceRow(id=str(item_id), image=str(path), metadata={"filename": Path(name).name, **meta}, where=name)
            )
        enc = self.services.encoder
        with self._lock, Catalog.open(self.folder, encoder=enc.spec, dim=enc.dim, writable=True, create=True) as cat:
            summary = ingest(cat, enc, rows, IngestOptions(limits=limits), progress=progress)
        summary.failed[:0] = failed
        return summary

    def add_catalog_file(
        self, catalog_name: str, catalog_bytes: bytes, uploads: list[tuple[str, bytes]], progress=None
    ) -> IngestSummary:
        """Ingest an uploaded CSV/JSONL/Parquet catalog whose image column names uploaded files. Rows naming any
        other path (absolute, ``..``, a URL, a file not uploaded) are refused: the server reads only uploads."""
        from multimodal.catalog_sources import SourceProblem, is_url, read_source

        limits = self.services.config.image_limits
        staging = self.folder / UPLOADS / ("batch-" + hashlib.sha256(catalog_bytes).hexdigest()[:16])
        staging.mkdir(parents=True, exist_ok=True)
        failed: list[tuple[str, str]] = []
        for name, data in uploads:
            try:
                load_image(data, limits=limits, name=name)
            except Exception as exc:  # our InvalidImageError family; reported per file
                failed.append((name, str(exc)))
                continue
            (staging / Path(name).name).write_bytes(data)
        cat_path = staging / Path(catalog_name).name
        cat_path.write_bytes(catalog_bytes)
        rows = []
        root = staging.resolve()
        for item in read_source(cat_path):
            if isinstance(item, SourceProblem) and ": outside the allowed folders" in item.reason:
                named = Path(item.reason.split(": outside the allowed folders")[0]).name
                failed.append((item.where, f"image {named!r} is not among the uploaded files"))
            elif isinstance(item, SourceProblem):
                failed.append((item.where, item.reason))
            elif is_url(item.image):
                failed.append((item.where, f"{item.image}: the server does not fetch URLs; upload the image"))
            elif Path(item.image).resolve().parent != root or not Path(item.image).is_file():
                failed.append((item.where, f"image {Path(item.image).name!r} is not among the uploaded files"))
            else:
                rows.append(item)
        enc = self.services.encoder
        with self._lock, Catalog.open(self.folder, encoder=enc.spec, dim=enc.dim, writable=True, create=True) as cat:
            summary = ingest(cat, enc, rows, IngestOptions(limits=limits), progress=progress)
        summary.failed[:0] = failed
        return summary

    def remove(self, ids: list[str]) -> dict[str, int]:
        with self._lock, Catalog.open(self.folder, encoder=None, dim=None, writable=True) as cat:
            removed = cat.remove(ids)
            cat.commit()
        return removed

    def image_path(self, item_id: str) -> Path:
        """The catalog's own image file for ``item_id`` (never a path a client names)."""
        cat = self.reader()
        vid = cat.store.vids_for([item_id]).get(item_id)
        if vid is None:
            raise CatalogError(f"no item {item_id!r} in the catalog")
        path = Path(cat.store.items([vid])[0].image)
        if not path.is_file():
            raise CatalogError(f"item {item_id!r}: its image file is no longer on this server")
        return path

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
