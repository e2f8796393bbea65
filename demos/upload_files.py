"""Files of the server's upload folder: detected formats and their suffixes and media types, atomic writes,
and the pure helpers the catalog handle uses to validate an upload before anything is written."""

from __future__ import annotations

import io
import itertools
import os
import tempfile
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

from demos.request_limits import MAX_CATALOG_ROWS
from multimodal.images import ACCEPTED_FORMATS, ImageLimits, load_image
from retrieval.errors import InvalidItemIdError, RequestTooLargeError, SourceError
from retrieval.item_ids import show_id, validate_item_id
from retrieval.sources import CATALOG_SUFFIXES, SourceProblem, is_url, read_source

#: Detected Pillow format -> stored file suffix and served media type.
_FORMATS = (
    ("JPEG", ".jpg", "image/jpeg"),
    ("MPO", ".jpg", "image/jpeg"),  # a JPEG with extra frames (phone cameras)
    ("PNG", ".png", "image/png"),
    ("WEBP", ".webp", "image/webp"),
    ("GIF", ".gif", "image/gif"),
    ("BMP", ".bmp", "image/bmp"),
    ("TIFF", ".tif", "image/tiff"),
    ("AVIF", ".avif", "image/avif"),
)
IMAGE_SUFFIXES = {name: suffix for name, suffix, _ in _FORMATS}
MEDIA_TYPES = {name: media for name, _, media in _FORMATS}
UNKNOWN_MEDIA_TYPE = "application/octet-stream"


# ---- helpers -----------------------------------------------------------------------------------------------


def media_type(path: Path) -> str:
    """The media type of the image format ``path``'s bytes are in (not its suffix)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=image_formats()) as img:
                fmt = img.format
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return UNKNOWN_MEDIA_TYPE
    return MEDIA_TYPES.get(fmt or "", UNKNOWN_MEDIA_TYPE)


def checked_suffix(data: bytes, limits: ImageLimits, name: str) -> str:
    """Decode ``data`` fully (refusing non-images, bombs, corrupt files) and return the suffix of its format."""
    load_image(data, limits=limits, name=name).close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data), formats=image_formats()) as img:
            return IMAGE_SUFFIXES.get(img.format or "", ".img")


def given_id(item_id: object, meta_id: object) -> str | None:
    ids = [validate_item_id(v) for v in (item_id, meta_id) if v is not None]
    if len(set(ids)) > 1:
        raise InvalidItemIdError(f"two different ids: {show_id(ids[0])} and metadata id {show_id(ids[1])}; send one")
    return ids[0] if ids else None


def read_uploaded_catalog(name: str, data: bytes, max_rows: int = MAX_CATALOG_ROWS):
    """``(where, SourceRow)`` or ``(where, reason)`` per row of an uploaded catalog file. The file is read from a
    private temporary folder (never ``INDEX/uploads``); its path is replaced by ``name`` in what is returned."""
    base = Path(name).name
    if Path(base).suffix.lower() not in CATALOG_SUFFIXES:
        raise SourceError(f"{base or name!r}: expected a catalog file ending in {', '.join(CATALOG_SUFFIXES)}")
    with tempfile.TemporaryDirectory(prefix="sceneqa-catalog-") as tmp:
        path = Path(tmp) / base
        path.write_bytes(data)
        root = Path(tmp).resolve()

        def clean(text: str) -> str:
            return text.replace(str(path), base).replace(str(root) + os.sep, "").replace(tmp + os.sep, "")

        try:
            items = list(itertools.islice(read_source(path), max_rows + 1))  # never more than the cap + 1
            if len(items) > max_rows:
                raise RequestTooLargeError(
                    f"{base!r} has more than {max_rows} rows; upload at most that many per request, or load large "
                    "catalogs with `sceneqa index add`"
                )
        except SourceError as exc:
            raise SourceError(clean(str(exc))) from None
    for item in items:
        where = clean(item.where)
        if isinstance(item, SourceProblem) and item.code == "outside_roots":
            yield where, f"image {Path(item.image or '').name!r} is not among the uploaded files"
        elif isinstance(item, SourceProblem):
            yield where, clean(item.reason)
        elif is_url(item.image):
            yield where, f"{item.image}: the server does not fetch URLs; upload the image"
        elif Path(item.image).resolve().parent != root:
            yield where, f"image {Path(item.image).name!r} is not among the uploaded files"
        else:
            yield where, item


def same_metadata(stored: Mapping[str, object], new: Mapping[str, object]) -> bool:
    """Whether storing ``new`` would leave ``stored`` as it is (keys not in ``new`` are kept by the store;
    values compare after the store's widening: ``5`` equals ``5.0`` and ``"5"`` in a text column)."""
    for key, value in new.items():
        old = stored.get(key)
        if old == value:
            continue
        if old is None or value is None:
            return False
        numbers = all(isinstance(v, (int, float)) for v in (old, value))
        if (float(old) != float(value)) if numbers else (str(old) != str(value)):
            return False
    return True


def store_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary name, then a rename): whatever is at ``path``, a
    symlink included, is replaced, never written through."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def file_key(path: str | os.PathLike, follow: bool = False) -> tuple[int, int] | None:
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def unlink_file(path: str | os.PathLike) -> bool:
    try:
        os.unlink(path)  # a symlink is removed itself, its target untouched
    except FileNotFoundError:
        return False
    return True


def image_formats() -> list[str]:
    Image.init()  # registers Pillow's plugins (MPO, AVIF...) so they can be named; a no-op after the first call
    return [fmt for fmt in ACCEPTED_FORMATS if fmt in Image.OPEN]
