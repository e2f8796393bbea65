"""Reading catalog sources as rows: a folder of images, a CSV / JSONL / Parquet catalog, or a folder of
Parquet files (one dataset split in parts, read in name order).

Streams rows (and problems, with file and line) so a million-row catalog never sits in memory. Image
paths in a catalog are relative to the catalog file's folder unless absolute, and must lie (symlinks
resolved) inside the catalog file's folder or a root the caller allows (``--allow-root``); a row pointing
elsewhere (``../../etc/passwd``, ``/home/x/.ssh/id_rsa``) becomes a problem naming the fix, never a read.
``http(s)`` URLs are kept as URLs (fetching them is a separate, opt-in step). Folder sources never follow a
symlink out of the folder.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from retrieval.errors import SourceError
from retrieval.records import MetaValue, parse_scalar

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
IMAGE_COLUMNS = ("image", "path", "file", "filename", "image_path", "image_url", "url")
ID_COLUMNS = ("id",)
CATALOG_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".parquet")


@dataclass(frozen=True)
class SourceRow:
    """One item to ingest: its id, image location (path or URL), typed metadata, and where it came from."""

    id: str
    image: str
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    where: str = ""


@dataclass(frozen=True)
class SourceProblem:
    """A row that cannot be ingested, with ``file:line`` and the reason. ``code`` says what kind of problem it
    is, for callers that decide by it (``invalid``, or ``outside_roots`` with the ``image`` it named)."""

    where: str
    reason: str
    code: str = "invalid"
    image: str | None = None


SourceItem = SourceRow | SourceProblem


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def read_source(
    source: Path,
    *,
    image_column: str | None = None,
    id_column: str | None = None,
    roots: Sequence[Path] = (),
) -> Iterator[SourceItem]:
    """Rows of a folder or catalog file. Raises :class:`SourceError` only for a source unusable as a whole.
    A catalog file's image paths must lie inside its own folder or one of ``roots``."""
    source = Path(source)
    if source.is_dir() and (parts := sorted(source.glob("*.parquet"))):
        return _parquet_dataset(parts, image_column, id_column, [source, *roots])
    if source.is_dir():
        return _folder(source)
    if not source.exists():
        raise SourceError(f"{source}: no such file or folder")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        rows = _csv(source, image_column, id_column)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl(source, image_column, id_column)
    elif suffix == ".parquet":
        rows = _parquet(source, image_column, id_column)
    else:
        raise SourceError(f"{source}: expected a folder of images or a {', '.join(CATALOG_SUFFIXES)} catalog")
    return _confined(rows, [source.parent, *roots])


def _parquet_dataset(
    parts: list[Path], image_column: str | None, id_column: str | None, roots: Sequence[Path]
) -> Iterator[SourceItem]:
    """A Parquet dataset split in many files (``part-0.parquet``, ...): the parts in name order."""
    for part in parts:
        yield from _confined(_parquet(part, image_column, id_column), roots)


def _confined(rows: Iterator[SourceItem], roots: Sequence[Path]) -> Iterator[SourceItem]:
    bases = [Path(r).resolve() for r in roots]
    for row in rows:
        if isinstance(row, SourceRow) and not is_url(row.image):
            real = Path(row.image).resolve()
            if not any(real.is_relative_to(b) for b in bases):
                yield SourceProblem(
                    row.where,
                    f"{row.image}: outside the allowed folders ({', '.join(str(b) for b in bases)}); "
                    "not read. Allow its folder with --allow-root DIR",
                    code="outside_roots",
                    image=row.image,
                )
                continue
        yield row


def _folder(root: Path) -> Iterator[SourceItem]:
    base = root.resolve()
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_EXTENSIONS or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if path.is_symlink() and not path.resolve().is_relative_to(base):
            yield SourceProblem(str(path), "symlink pointing outside the source folder; not followed")
            continue
        parent = path.parent.relative_to(root).as_posix()
        yield SourceRow(
            id=rel, image=str(path.absolute()), metadata={"folder": parent} if parent != "." else {}, where=rel
        )


def _pick(
    columns: list[str],
    wanted: str | None,
    candidates: tuple[str, ...],
    what: str,
    flag: str,
    source: Path,
    required: bool,
) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise SourceError(f"{source}: no column {wanted!r} for {flag} (columns: {', '.join(columns)})")
        return wanted
    lowered = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand in lowered:
            return lowered[cand]
    if required:
        raise SourceError(
            f"{source}: no {what} column (looked for {', '.join(candidates)}; columns: "
            f"{', '.join(columns)}); name it with {flag}"
        )
    return None


def _row(source: Path, where: str, record: Mapping[str, object], image_col: str, id_col: str | None) -> SourceItem:
    raw_image = record.get(image_col)
    if raw_image is None or str(raw_image).strip() == "":
        return SourceProblem(where, f"no image in column {image_col!r}")
    image = str(raw_image).strip()
    if not is_url(image):
        p = Path(image)
        image = str(p if p.is_absolute() else (source.parent / p).absolute())
    item_id = str(record.get(id_col, "")).strip() if id_col else ""
    if not item_id:
        item_id = str(raw_image).strip()  # stable: derived from the path as written in the catalog
    meta = {k: _typed(v) for k, v in record.items() if k not in (image_col, id_col) and k is not None}
    return SourceRow(id=item_id, image=image, metadata={k: v for k, v in meta.items() if v is not None}, where=where)


def _typed(value: object) -> MetaValue:
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value  # type: ignore[return-value]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        return parse_scalar(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _csv(source: Path, image_column: str | None, id_column: str | None) -> Iterator[SourceItem]:
    try:
        fh = source.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise SourceError(f"{source}: cannot be opened ({exc.strerror})") from exc
    with fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        image_col = _pick(columns, image_column, IMAGE_COLUMNS, "image", "--image-column", source, True)
        id_col = _pick(columns, id_column, ID_COLUMNS, "id", "--id-column", source, False)
        try:
            for record in reader:
                where = f"{source}:{reader.line_num}"
                if None in record or any(v is None for v in record.values()):
                    yield SourceProblem(where, f"wrong number of fields (expected {len(columns)})")
                    continue
                yield _row(source, where, record, image_col, id_col)
        except (csv.Error, UnicodeDecodeError) as exc:
            yield SourceProblem(f"{source}:{reader.line_num}", f"unreadable CSV ({exc}); the rest of the file skipped")


def _jsonl(source: Path, image_column: str | None, id_column: str | None) -> Iterator[SourceItem]:
    try:
        fh = source.open(encoding="utf-8")
    except OSError as exc:
        raise SourceError(f"{source}: cannot be opened ({exc.strerror})") from exc
    image_col = id_col = None
    with fh:
        for line_no, line in enumerate(fh, start=1):
            where = f"{source}:{line_no}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield SourceProblem(where, f"invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield SourceProblem(where, "expected a JSON object per line")
                continue
            if image_col is None:
                image_col = _pick(list(record), image_column, IMAGE_COLUMNS, "image", "--image-column", source, True)
                id_col = _pick(list(record), id_column, ID_COLUMNS, "id", "--id-column", source, False)
            yield _row(source, where, record, image_col, id_col)


def _parquet(source: Path, image_column: str | None, id_column: str | None) -> Iterator[SourceItem]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise SourceError("reading Parquet needs pyarrow: pip install pyarrow") from exc
    try:
        pf = pq.ParquetFile(source)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError family
        raise SourceError(f"{source}: not a readable Parquet file ({exc})") from exc
    columns = pf.schema_arrow.names
    image_col = _pick(columns, image_column, IMAGE_COLUMNS, "image", "--image-column", source, True)
    id_col = _pick(columns, id_column, ID_COLUMNS, "id", "--id-column", source, False)
    row_no = 0
    for batch in pf.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            row_no += 1
            yield _row(source, f"{source}:row {row_no}", record, image_col, id_col)
