"""The server's view of one index folder: a read-only catalog reopened when a writer committed (readers never
wait for a writer: ``_read_lock`` guards only that swap), and client writes that validate everything, then hold
``_write_lock`` (and the folder's ``flock``, shared with the CLI) for their duration.

Uploads are stored as ``INDEX/uploads/<sha256[:24]><suffix>``, the suffix from the detected format (never the
client's file name), written only once the whole request validated. A file there that no item references is
deleted by the write that left it, by ``remove``, and by ``collect_orphans`` when an existing catalog opens.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from demos.upload_files import (
    checked_suffix,
    file_key,
    given_id,
    media_type,
    read_uploaded_catalog,
    same_metadata,
    store_file,
    unlink_file,
)
from multimodal.errors import InvalidImageError
from multimodal.images import ImageLimits
from multimodal.ingest.local import IngestOptions, IngestSummary, ingest
from multimodal.services import Services
from retrieval.catalog import Catalog
from retrieval.errors import CatalogEmptyError, InvalidItemIdError, ItemExistsError, ItemNotFoundError
from retrieval.item_ids import content_id, show_id, validate_item_id
from retrieval.lock import WriterLock
from retrieval.manifest import MANIFEST
from retrieval.sources import SourceRow, is_url

log = logging.getLogger(__name__)

UPLOADS = "uploads"


@dataclass(frozen=True)
class _Staged:
    """One validated image waiting to be written and ingested (nothing is on disk yet)."""

    id: str
    data: bytes
    suffix: str
    metadata: Mapping[str, object]
    where: str
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())


class CatalogHandle:
    def __init__(self, folder: Path, services: Services) -> None:
        self.folder = Path(folder)
        self.services = services
        self._uploads = Path(os.path.abspath(self.folder)) / UPLOADS
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._reader: Catalog | None = None
        self._stamp: tuple[int, int, int] | None = None
        if self.exists():
            try:
                if collected := self.collect_orphans():
                    log.info("%s: deleted %d uploaded files no item references", folder, collected)
            except Exception as exc:  # housekeeping must not keep the server from starting
                log.warning("%s: orphaned uploads not collected (%s); retried at the next start", folder, exc)

    def exists(self) -> bool:
        return (self.folder / MANIFEST).exists()

    # ---- reads: never wait for a writer ---------------------------------------------------------------------

    def reader(self) -> Catalog:
        """The last committed state (reopened when the manifest changed). Raises CatalogEmptyError when the folder
        holds no catalog yet."""
        stamp = self._manifest_stamp()
        if stamp is None:
            raise CatalogEmptyError(
                "the catalog is empty: add images in the Catalog tab, with POST /v1/items, or with `sceneqa index add`"
            )
        with self._read_lock:
            if self._reader is None or stamp != self._stamp:
                enc = self.services.encoder
                # The replaced reader is not closed: a search in another thread may still hold it; it is
                # closed (its SQLite connection finalised) when the last reference goes.
                self._reader = Catalog.open(self.folder, encoder=enc.spec, dim=enc.dim)
                self._stamp = stamp
            return self._reader

    def _manifest_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.folder / MANIFEST)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_ino, st.st_size  # the manifest is replaced by rename: a new inode

    def image_file(self, item_id: str) -> tuple[Path, str]:
        """The catalog's own image file for ``item_id`` (never a path a client names) and the media type of its
        bytes (``image/png``...; ``application/octet-stream`` when no known image format).

        Raises:
            CatalogEmptyError: no catalog yet. ItemNotFoundError: no such item, or its file is gone.
        """
        store = self.reader().store
        vid = store.vids_for([item_id]).get(item_id)
        found = store.items([vid]) if vid is not None else []
        if not found:
            raise ItemNotFoundError(f"no item {show_id(item_id)} in the catalog")
        path = Path(found[0].image)
        if is_url(found[0].image) or not path.is_file():
            raise ItemNotFoundError(f"item {show_id(item_id)}: its image file is no longer on this server")
        return path, media_type(path)

    def image_path(self, item_id: str) -> Path:
        """``image_file(item_id)[0]``; raises as :meth:`image_file`."""
        return self.image_file(item_id)[0]

    # ---- writes ---------------------------------------------------------------------------------------------

    def add_uploads(
        self,
        uploads: list[tuple[str, bytes]],
        metadata: Mapping[str, object] | None = None,
        progress=None,
        limits: ImageLimits | None = None,
        *,
        item_id: str | None = None,
        replace: bool = False,
    ) -> IngestSummary:
        """Store and ingest uploaded ``(file name, bytes)`` images. Without ``item_id`` (or metadata ``id``) an
        image's id is ``img-<16 hex of its SHA-256>``; its file name is only the ``filename`` metadata value.
        Non-images are reported in ``failed`` and never written.

        Raises:
            InvalidItemIdError: an id breaks the id rules, two ids differ, or one id comes with several images.
            ItemExistsError: an id is stored with another image or metadata and ``replace`` is false (checked
                under the writer lock; nothing is written).
            IndexLockedError: another process is writing to the folder.
        """
        limits = limits or self.services.config.image_limits
        meta = dict(metadata or {})
        given = given_id(item_id, meta.pop("id", None))
        if given is not None and len(uploads) > 1:
            raise InvalidItemIdError(
                f"id {show_id(given)} names one item but {len(uploads)} images were sent; send one image per "
                "id, or omit the id so each image gets an id from its content"
            )
        staged, failed = [], []
        for name, data in uploads:
            try:
                suffix = checked_suffix(data, limits, name)
            except InvalidImageError as exc:
                failed.append((name, str(exc)))
                continue
            filename = {"filename": Path(name).name} if Path(name).name else {}
            staged.append(_Staged(given or content_id(data), data, suffix, {**filename, **meta}, name))
        return self._ingest_staged(staged, failed, replace, limits, progress, refuse_all=True)

    def add_catalog_file(
        self,
        catalog_name: str,
        catalog_bytes: bytes,
        uploads: list[tuple[str, bytes]],
        progress=None,
        *,
        replace: bool = False,
    ) -> IngestSummary:
        """Ingest an uploaded CSV/JSONL/Parquet catalog whose image column names uploaded files. Rows naming any
        other path (absolute, ``..``, a URL, a file not uploaded), breaking the id rules, or (unless ``replace``)
        naming an id stored with another image or metadata go to ``failed`` with the reason.

        Raises:
            SourceError: the catalog file cannot be read as a whole. IndexLockedError: as ``add_uploads``.
        """
        limits = self.services.config.image_limits
        failed: list[tuple[str, str]] = []
        images: dict[str, tuple[bytes, str] | None] = {}  # None: refused
        for name, data in uploads:
            base = Path(name).name
            try:
                images[base] = (data, checked_suffix(data, limits, base))
            except InvalidImageError as exc:
                failed.append((base, str(exc)))
                images[base] = None
        staged: list[_Staged] = []
        for where, row in read_uploaded_catalog(catalog_name, catalog_bytes):
            if isinstance(row, str):
                failed.append((where, row))
                continue
            named = Path(row.image).name
            if images.get(named) is None:
                why = "was refused (see its own entry)" if named in images else "is not among the uploaded files"
                failed.append((where, f"image {named!r} {why}"))
                continue
            try:
                row_id = validate_item_id(row.id)
            except InvalidItemIdError as exc:
                failed.append((where, str(exc)))
                continue
            data, suffix = images[named]  # type: ignore[misc]
            staged.append(_Staged(row_id, data, suffix, dict(row.metadata), where))
        return self._ingest_staged(staged, failed, replace, limits, progress, refuse_all=False)

    def remove(self, ids: list[str]) -> dict[str, int]:
        """Delete items by id (matched as stored, even ids today's rules refuse) and the uploaded files no
        remaining item references. Returns ``{id: vid}`` of the items that existed.

        Raises:
            CatalogEmptyError: no catalog yet. IndexLockedError: another process is writing to the folder.
        """
        if not self.exists():
            raise CatalogEmptyError("the catalog is empty: there is nothing to remove")
        with self._write_lock, self._open_writer(create=False) as cat:
            vids = cat.store.vids_for(ids)
            images = [it.image for it in cat.store.items(list(vids.values()))]
            removed = cat.remove(ids)
            cat.commit()
            self._drop_unreferenced(cat, images)
        return removed

    def collect_orphans(self) -> int:
        """Delete the files under ``INDEX/uploads/`` (recursively: old ``batch-*`` staging folders too) that no
        item references, then the folders left empty; a symlink is unlinked itself, never followed. Returns how
        many files were deleted. Raises IndexLockedError while another process writes (it may be storing uploads).
        """
        uploads = self._uploads_dir()
        if uploads is None or not self.exists():
            return 0
        deleted = 0
        with self._write_lock, WriterLock(self.folder):
            keep = self._referenced_keys(self.reader().store, None)
            for root, dirs, files in os.walk(uploads, topdown=False, followlinks=False):
                for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                    path = os.path.join(root, name)
                    if file_key(path) not in keep and unlink_file(path):
                        deleted += 1
                if root != str(uploads):
                    try:
                        os.rmdir(root)  # only succeeds when empty
                    except OSError:
                        pass
        return deleted

    def close(self) -> None:
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    # ---- helpers (writer side: called with the writer lock held) --------------------------------------------

    def _open_writer(self, *, create: bool) -> Catalog:
        extra = {"new_columns": False}  # clients never declare metadata columns (issue 12, S4)
        if create:
            enc = self.services.encoder
            return Catalog.open(self.folder, encoder=enc.spec, dim=enc.dim, writable=True, create=True, **extra)
        return Catalog.open(self.folder, encoder=None, dim=None, writable=True, **extra)

    def _ingest_staged(
        self, staged: list[_Staged], failed: list, replace: bool, limits: ImageLimits, progress, refuse_all: bool
    ) -> IngestSummary:
        """Under the writer lock: refuse ids stored with other content (the whole request with ``refuse_all``,
        else those rows, into ``failed``), then write the files and ingest."""
        if not staged:
            return IngestSummary(failed=failed, count=self.reader().store.count() if self.exists() else 0)
        with self._write_lock, self._open_writer(create=True) as cat:
            conflicts, replaced = self._conflicts(cat, staged)
            if conflicts and not replace:
                reason = "already in the catalog with a different image or metadata; pass replace=true to replace it"
                if refuse_all:
                    named = ", ".join(show_id(c) for c in sorted(conflicts))
                    raise ItemExistsError(f"item {named} is {reason}, or choose another id")
                failed += [(s.where, f"id {show_id(s.id)} is {reason}") for s in staged if s.id in conflicts]
                staged = [s for s in staged if s.id not in conflicts]
            summary = self._write_and_ingest(cat, staged, replaced, limits, progress)
        summary.failed[:0] = failed
        return summary

    @staticmethod
    def _conflicts(cat: Catalog, staged: list[_Staged]) -> tuple[set[str], list[str]]:
        """Ids stored with a different image or metadata, and the image locations of every stored id touched
        (files that may be left unreferenced by this write)."""
        vids = cat.store.vids_for({s.id for s in staged})
        if not vids:
            return set(), []
        stored = {it.id: it for it in cat.store.items(list(vids.values()))}
        hashes = cat.store.known_hashes(list(vids))
        conflicts = {
            s.id
            for s in staged
            if s.id in stored and (hashes.get(s.id) != s.sha256 or not same_metadata(stored[s.id].metadata, s.metadata))
        }
        return conflicts, [it.image for it in stored.values()]

    def _write_and_ingest(
        self, cat: Catalog, staged: list[_Staged], replaced: list[str], limits: ImageLimits, progress
    ) -> IngestSummary:
        uploads = self._uploads
        written: list[str] = []
        try:
            uploads.mkdir(parents=True, exist_ok=True)
            rows = []
            for s in staged:
                path = uploads / f"{s.sha256[:24]}{s.suffix}"
                store_file(path, s.data)
                written.append(str(path))
                rows.append(SourceRow(id=s.id, image=str(path), metadata=dict(s.metadata), where=s.where))
            return ingest(cat, self.services.encoder, rows, IngestOptions(limits=limits), progress=progress)
        finally:
            # failed rows, duplicates, replaced images and a failed ingest must not leave files behind
            try:
                self._drop_unreferenced(cat, [*written, *replaced])
            except Exception as exc:  # never mask the write's own outcome
                log.warning("%s: could not delete unreferenced uploads (%s); collected at the next start", uploads, exc)

    def _uploads_dir(self) -> Path | None:
        """The resolved uploads folder; ``None`` when missing or a symlink (its target is not ours to clean)."""
        if self._uploads.is_symlink():
            log.warning("%s is a symlink; uploaded files there are never deleted", self._uploads)
            return None
        return self._uploads.resolve() if self._uploads.is_dir() else None

    def _drop_unreferenced(self, cat: Catalog, images: Iterable[str]) -> None:
        uploads = self._uploads_dir()
        if uploads is None:
            return
        entries = [Path(i).parent.resolve() / Path(i).name for i in set(images) if not is_url(i)]  # links: as is
        inside = [p for p in entries if p.parent.is_relative_to(uploads) and os.path.lexists(p) and not p.is_dir()]
        if inside:
            keep = self._referenced_keys(cat.store, [p.name for p in inside])
            for p in inside:
                if file_key(p) not in keep:
                    unlink_file(p)

    @staticmethod
    def _referenced_keys(store, names: list[str] | None) -> set[tuple[int, int]]:
        """``(st_dev, st_ino)`` of the files that items reference: those named ``names``, or with ``None``
        every file under an ``uploads`` folder. Compared by inode so every spelling of a path counts."""
        if names is None:
            clauses, params = ["image LIKE ? ESCAPE '\\'"], [f"%{UPLOADS}%"]
        else:
            clauses = ["image LIKE ? ESCAPE '\\'"] * len(names)
            params = ["%" + n.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for n in names]
        keys = set()
        for start in range(0, len(clauses), 400):  # SQLite caps bound parameters per statement
            vids = store.select_vids(" OR ".join(clauses[start : start + 400]), params[start : start + 400])
            for first in range(0, len(vids), 5000):
                images = [it.image for it in store.items([int(v) for v in vids[first : first + 5000]])]
                # the entry itself and, when it is a link, its target: a file some item reaches is kept
                keys.update(
                    file_key(image, follow) for image in images if not is_url(image) for follow in (False, True)
                )
        keys.discard(None)
        return keys
