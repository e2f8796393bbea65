"""Data loaders for evaluations. Malformed rows are reported with file and line, never raised."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from multimodal.errors import ConfigError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: str


@dataclass(frozen=True)
class LoadReport:
    """Rows that loaded, and one message per row that did not (``file:line: reason``)."""

    items: tuple[LabelledImage, ...]
    problems: tuple[str, ...]


def load_labelled(
    data: Path, *, label_column: str = "label", path_column: str = "path", limit: int | None = None
) -> LoadReport:
    """A folder with one subfolder per class, or a CSV with image-path and label columns.

    CSV paths are relative to the CSV's folder unless absolute.
    """
    if data.is_dir():
        return _from_folder(data, limit)
    if data.suffix.lower() == ".csv" and data.is_file():
        return _from_csv(data, label_column, path_column, limit)
    raise ConfigError(f"--data {data}: expected a folder of class subfolders or a .csv file")


def _from_folder(root: Path, limit: int | None) -> LoadReport:
    items = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(class_dir.rglob("*")):
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
                items.append(LabelledImage(path, class_dir.name))
    if not items:
        raise ConfigError(f"--data {root}: no images found in class subfolders ({', '.join(IMAGE_SUFFIXES)})")
    return LoadReport(tuple(items[:limit] if limit else items), ())


def _from_csv(path: Path, label_column: str, path_column: str, limit: int | None) -> LoadReport:
    items, problems = [], []
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--data {path}: cannot be opened ({exc.strerror})") from exc
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for needed, flag in ((path_column, "--path-column"), (label_column, "--label-column")):
            if needed not in header:
                raise ConfigError(f"{path}: no column {needed!r} (columns: {', '.join(header)}); set {flag}")
        try:
            for row in reader:
                line = reader.line_num
                if None in row or any(v is None for v in row.values()):
                    problems.append(f"{path}:{line}: wrong number of fields")
                    continue
                image, label = (row[path_column] or "").strip(), (row[label_column] or "").strip()
                if not image or not label:
                    problems.append(f"{path}:{line}: empty {path_column if not image else label_column}")
                    continue
                p = Path(image)
                items.append(LabelledImage(p if p.is_absolute() else path.parent / p, label))
                if limit and len(items) >= limit:
                    break
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(f"{path}:{reader.line_num}: unreadable CSV ({exc}); rows after it skipped")
    return LoadReport(tuple(items), tuple(problems))


@dataclass(frozen=True)
class CaptionedImage:
    path: Path
    captions: tuple[str, ...]
    group: str = ""


def load_captions(path: Path, limit: int | None = None) -> LoadReport:
    """A JSONL of ``{"path": ..., "captions": [...]}``; paths relative to the file. Malformed lines reported."""
    import json

    items, problems = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--data {path}: cannot be read ({exc})") from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            captions = tuple(str(c) for c in row["captions"] if str(c).strip())
            image = Path(row["path"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append(f"{path}:{n}: {type(exc).__name__}: {exc} (expected path and captions)")
            continue
        if not captions:
            problems.append(f"{path}:{n}: no captions")
            continue
        items.append(CaptionedImage(image if image.is_absolute() else path.parent / image, captions))
        if limit and len(items) >= limit:
            break
    return LoadReport(tuple(items), tuple(problems))  # type: ignore[arg-type]


def load_captioned_catalog(
    path: Path, text_column: str, group_column: str | None, path_column: str = "path", limit: int | None = None
) -> LoadReport:
    """A CSV catalog as captioned images: ``text_column`` is the caption, ``group_column`` (optional) makes
    items of the same group relevant to each other for image-to-image retrieval."""
    rows, problems = [], []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for needed, flag in ((path_column, "--path-column"), (text_column, "--text-column")):
            if needed not in header:
                raise ConfigError(f"{path}: no column {needed!r} (columns: {', '.join(header)}); set {flag}")
        if group_column and group_column not in header:
            raise ConfigError(f"{path}: no column {group_column!r} for --group-column")
        for row in reader:
            if None in row or not (row.get(path_column) or "").strip() or not (row.get(text_column) or "").strip():
                problems.append(f"{path}:{reader.line_num}: missing {path_column} or {text_column}")
                continue
            p = Path(row[path_column].strip())
            rows.append(
                CaptionedImage(
                    p if p.is_absolute() else path.parent / p,
                    (row[text_column].strip(),),
                    (row.get(group_column) or "").strip() if group_column else "",
                )
            )
            if limit and len(rows) >= limit:
                break
    return LoadReport(tuple(rows), tuple(problems))  # type: ignore[arg-type]
