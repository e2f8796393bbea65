"""Attached text context: files (.txt, .log, .md, .csv, .jsonl, other UTF-8 text) and pasted text, split
into chunks with stable locators: ``inspection.log:L12``, ``notes.md:L4-L9``, ``records.csv:row 3``.

A binary or non-UTF-8 source is refused with a clear message; so is one over the byte cap
(:data:`MAX_CONTEXT_BYTES`, for files, uploaded bytes and pasted text alike). A source is read into at most
``max_chunks + 1`` chunks (:data:`MAX_CHUNKS`) and the rest is never materialised, so a 5 MB file of
one-character lines costs no more than 20,000 lines; the one extra chunk tells
:func:`multimodal.ask.context_select.select_chunks` that the source went on, and its notice says so.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

from multimodal.errors import SceneQAError

#: Bytes of one context source (a file, an upload or pasted text), checked before it is decoded.
MAX_CONTEXT_BYTES = 5 * 1024 * 1024
#: Chunks (lines, rows or paragraphs) searched per request; ``select_chunks`` keeps the first ones.
MAX_CHUNKS = 20_000
TEXT_SUFFIXES = (".txt", ".log", ".md", ".csv", ".jsonl", ".ndjson", ".json", ".tsv")

# One line and its end, with the separators of str.splitlines().
_LINE = re.compile(r"([^\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]*)(?:\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]|\Z)")


class ContextError(SceneQAError, ValueError):
    """An attached context file cannot be used as text."""


@dataclass(frozen=True)
class Chunk:
    """One citable piece of context. ``line_start``/``line_end`` are 1-based lines of the source
    (``row`` for CSV data rows, else 0)."""

    source: str
    text: str
    line_start: int
    line_end: int
    row: int = 0

    @property
    def locator(self) -> str:
        if self.row:
            return f"{self.source}:row {self.row}"
        if self.line_start == self.line_end:
            return f"{self.source}:L{self.line_start}"
        return f"{self.source}:L{self.line_start}-L{self.line_end}"


def load_context_file(path: Path, *, max_bytes: int = MAX_CONTEXT_BYTES, max_chunks: int = MAX_CHUNKS) -> list[Chunk]:
    """Chunks of one context file. Raises :class:`ContextError` naming the file and the problem."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ContextError(f"context file {path}: not found") from None
    if path.is_dir():
        raise ContextError(f"context file {path}: is a folder; attach files")
    check_context_size(size, f"context file {path}", max_bytes)
    return load_context_bytes(path.read_bytes(), path.name, max_bytes=max_bytes, max_chunks=max_chunks)


def load_context_bytes(
    data: bytes, name: str, *, max_bytes: int = MAX_CONTEXT_BYTES, max_chunks: int = MAX_CHUNKS
) -> list[Chunk]:
    """Chunks of context ``data`` called ``name`` (its suffix picks the chunking), at most ``max_chunks + 1``.

    Raises :class:`ContextError` when ``data`` is over ``max_bytes`` (checked first), binary or not UTF-8.
    """
    check_context_size(len(data), f"context {name}", max_bytes)
    text = _as_text(data, name)
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".tsv"):
        chunks = _csv_chunks(text, name, "\t" if suffix == ".tsv" else ",")
    elif suffix in (".jsonl", ".ndjson"):
        chunks = _jsonl_chunks(text, name)
    elif suffix == ".md":
        chunks = _paragraph_chunks(text, name)
    else:
        chunks = _line_chunks(text, name)
    return list(islice(chunks, max_chunks + 1))


def load_context_text(
    text: str, name: str = "pasted", *, max_bytes: int = MAX_CONTEXT_BYTES, max_chunks: int = MAX_CHUNKS
) -> list[Chunk]:
    """Pasted text: one chunk per non-empty line, cited as ``pasted:L3``; at most ``max_chunks + 1``.

    Raises :class:`ContextError` when its UTF-8 size is over ``max_bytes``.
    """
    # len(text) <= UTF-8 bytes <= 4 * len(text): encode only when the character count cannot decide.
    undecided = len(text) <= max_bytes < 4 * len(text)
    size = len(text.encode("utf-8", "surrogatepass")) if undecided else len(text)
    check_context_size(size, f"context {name}", max_bytes)
    return list(islice(_line_chunks(text, name), max_chunks + 1))


def check_context_size(size: int, what: str, max_bytes: int = MAX_CONTEXT_BYTES) -> None:
    """Raise :class:`ContextError` when ``size`` bytes of context are over ``max_bytes``."""
    if size > max_bytes:
        raise ContextError(
            f"{what}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.1f} MB limit for attached context "
            f"({size:,} > {max_bytes:,} bytes, MAX_CONTEXT_BYTES); attach only the part that bears on the "
            "question, or split it across questions"
        )


def _as_text(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise ContextError(f"context file {name}: is a binary file, not text; attach .txt, .log, .md, .csv or .jsonl")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContextError(f"context file {name}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _lines(text: str) -> Iterator[str]:
    """``text.splitlines()``, one line at a time: chunking stops at the cap without splitting the rest."""
    pos, end = 0, len(text)
    while pos < end:
        m = _LINE.match(text, pos)
        yield m.group(1)
        pos = m.end()


def _line_chunks(text: str, name: str) -> Iterator[Chunk]:
    for n, line in enumerate(_lines(text), start=1):
        if line.strip():
            yield Chunk(name, line.strip(), n, n)


def _paragraph_chunks(text: str, name: str) -> Iterator[Chunk]:
    block: list[str] = []
    start = 0
    for n, line in enumerate(chain(_lines(text), [""]), start=1):
        if line.strip():
            if not block:
                start = n
            block.append(line.strip())
        elif block:
            yield Chunk(name, " ".join(block), start, n - 1)
            block = []


def _csv_chunks(text: str, name: str, delimiter: str) -> Iterator[Chunk]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    row_no = 0
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # blank lines are not rows
        row_no += 1
        pairs = "; ".join(f"{h}: {v}" for h, v in zip(header, row) if v.strip())
        line = reader.line_num
        yield Chunk(name, pairs, line, line, row=row_no)


def _jsonl_chunks(text: str, name: str) -> Iterator[Chunk]:
    for n, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            yield Chunk(name, line.strip(), n, n)  # keep malformed lines as plain text
            continue
        body = "; ".join(f"{k}: {v}" for k, v in obj.items()) if isinstance(obj, dict) else json.dumps(obj)
        yield Chunk(name, body, n, n)
