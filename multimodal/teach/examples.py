"""Reading the examples a label set is taught from: pure, no model.

A source is a folder with one sub-folder per label (``shoes/boots/a.jpg`` is an example of ``boots``), or a
CSV / JSONL / Parquet catalog with an image column and a label column. Rows are read by
:func:`retrieval.sources.read_source`, so a catalog's image paths are confined to its folder or an allowed
root exactly as for ``sceneqa index add``. Unusable rows become problems (``where: reason``), never errors;
only a source unusable as a whole (or with no usable example) raises.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from multimodal.teach.errors import LabelSetError
from multimodal.zeroshot import MAX_LABEL_CHARS, MAX_LABELS
from retrieval.sources import SourceProblem, is_url, read_source

#: Most examples one label set is taught from (a bound on the memory and time of one teach).
MAX_EXAMPLES = 20_000


@dataclass(frozen=True)
class Example:
    """One labelled image: ``id`` (from the source), absolute ``image`` path, ``label``, ``where`` it was read
    and the content ``sha256`` (empty until hashed)."""

    id: str
    image: str
    label: str
    where: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class ExampleOptions:
    """How a catalog source is read: the label column, the image / id columns (``None``: found by name as for
    ``index add``) and extra folders image paths may lie in."""

    label_column: str = "label"
    image_column: str | None = None
    id_column: str | None = None
    roots: tuple[Path, ...] = ()
    max_examples: int = MAX_EXAMPLES

    def __post_init__(self) -> None:
        if not self.label_column.strip():
            raise LabelSetError("--label-column is empty; name the catalog column that holds the label")
        if self.max_examples < 1:
            raise LabelSetError(f"max_examples must be >= 1, got {self.max_examples}")


@dataclass(frozen=True)
class ExampleSet:
    """Usable examples, and one ``where: reason`` line per row or file that was not used."""

    examples: tuple[Example, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.label for e in self.examples).items()))


def read_examples(source: Path, options: ExampleOptions = ExampleOptions()) -> ExampleSet:
    """The examples of ``source`` (a folder of label sub-folders, or a catalog file). Raises
    :class:`LabelSetError` when nothing usable is found or the set breaks a cap (labels, examples)."""
    source = Path(source)
    is_folder = source.is_dir() and not any(source.glob("*.parquet"))
    rows = read_source(source, image_column=options.image_column, id_column=options.id_column, roots=options.roots)
    examples: list[Example] = []
    problems: list[str] = []
    for row in rows:
        if isinstance(row, SourceProblem):
            problems.append(f"{row.where}: {row.reason}")
            continue
        label = _folder_label(row.id) if is_folder else _column_label(row.metadata.get(options.label_column))
        if isinstance(label, _Bad):
            problems.append(f"{row.where}: {label.reason}")
            continue
        if is_url(row.image):
            problems.append(f"{row.where}: {row.image} is a URL; teach reads local files only (download it first)")
            continue
        examples.append(Example(id=row.id, image=row.image, label=label, where=row.where))
        if len(examples) > options.max_examples:
            raise LabelSetError(
                f"{source}: more than {options.max_examples} examples; a label set is taught from at most "
                f"{options.max_examples} (split it, or sample fewer per label)"
            )
    if not examples:
        what = "label sub-folders with images" if is_folder else f"rows with an image and a {options.label_column!r}"
        raise LabelSetError(f"{source}: no usable example ({what}); {len(problems)} problem(s) reported")
    check_label_count(len({e.label for e in examples}), str(source))
    return ExampleSet(tuple(examples), tuple(problems))


def check_label_count(n: int, where: str) -> None:
    if n > MAX_LABELS:
        raise LabelSetError(f"{where}: {n} labels; a label set holds at most {MAX_LABELS}")


@dataclass(frozen=True)
class _Bad:
    reason: str


def _folder_label(rel_id: str) -> str | _Bad:
    parts = Path(rel_id).parts
    if len(parts) < 2:
        return _Bad("not inside a label sub-folder (put it in SOURCE/<label>/); skipped")
    return _clean_label(parts[0])


def _column_label(value: object) -> str | _Bad:
    if value is None or str(value).strip() == "":
        return _Bad("no label (empty label column); skipped")
    return _clean_label(str(value))


def _clean_label(raw: str) -> str | _Bad:
    label = " ".join(raw.split())
    if not label:
        return _Bad("empty label; skipped")
    if len(label) > MAX_LABEL_CHARS:
        return _Bad(f"label {label[:40]!r}... has {len(label)} characters (at most {MAX_LABEL_CHARS}); skipped")
    return label


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (raises ``OSError`` when it cannot be read)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def hash_and_dedupe(examples: Sequence[Example], known: Sequence[Example] = ()) -> ExampleSet:
    """``examples`` with their content hash set. Unreadable files are problems; an image that repeats within a
    label (or repeats one of ``known``, the examples already taught) is used once; an image under two labels
    is kept under both and reported (usually a labelling mistake; cross-validation counts it twice)."""
    seen: dict[tuple[str, str], Example] = {(e.sha256, e.label): e for e in known}
    labels_of: dict[str, list[Example]] = {}
    for e in known:
        labels_of.setdefault(e.sha256, []).append(e)
    out: list[Example] = []
    problems: list[str] = []
    for e in examples:
        try:
            digest = file_sha256(e.image)
        except OSError as exc:
            problems.append(f"{e.where or e.image}: cannot be read ({exc.strerror or exc}); skipped")
            continue
        e = Example(e.id, e.image, e.label, e.where, digest)
        if (digest, e.label) in seen:
            problems.append(f"{e.where}: same image as {seen[digest, e.label].where} (label {e.label!r}); used once")
            continue
        for other in labels_of.get(digest, []):
            problems.append(
                f"{e.where}: same image as {other.where}, labelled {e.label!r} here and {other.label!r} there; "
                "kept under both"
            )
        seen[digest, e.label] = e
        labels_of.setdefault(digest, []).append(e)
        out.append(e)
    return ExampleSet(tuple(out), tuple(problems))
