"""Attached text context: files (.txt, .log, .md, .csv, .jsonl, other UTF-8 text) and pasted text, split
into chunks with stable locators: ``inspection.log:L12``, ``notes.md:L4-L9``, ``records.csv:row 3``.

A binary or non-UTF-8 file is refused with a clear message; so is a file over the byte cap.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from multimodal.errors import SceneQAError

MAX_CONTEXT_BYTES = 5 * 1024 * 1024
TEXT_SUFFIXES = (".txt", ".log", ".md", ".csv", ".jsonl", ".ndjson", ".json", ".tsv")


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


def load_context_file(path: Path, *, max_bytes: int = MAX_CONTEXT_BYTES) -> list[Chunk]:
    """Chunks of one context file. Raises :class:`ContextError` naming the file and the problem."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ContextError(f"context file {path}: not found") from None
    if path.is_dir():
        raise ContextError(f"context file {path}: is a folder; attach files")
    if size > max_bytes:
        raise ContextError(f"context file {path}: {size / 2**20:.1f} MB is over the {max_bytes / 2**20:.1f} MB limit")
    return load_context_bytes(path.read_bytes(), path.name)


def load_context_bytes(data: bytes, name: str) -> list[Chunk]:
    text = _as_text(data, name)
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _csv_chunks(text, name, "\t" if suffix == ".tsv" else ",")
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_chunks(text, name)
    if suffix == ".md":
        return _paragraph_chunks(text, name)
    return _line_chunks(text, name)


def load_context_text(text: str, name: str = "pasted") -> list[Chunk]:
    """Pasted text: one chunk per non-empty line, cited as ``pasted:L3``."""
    return _line_chunks(text, name)


def _as_text(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise ContextError(f"context file {name}: is a binary file, not text; attach .txt, .log, .md, .csv or .jsonl")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ContextError(f"context file {name}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _line_chunks(text: str, name: str) -> list[Chunk]:
    return [Chunk(name, line.strip(), n, n) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _paragraph_chunks(text: str, name: str) -> list[Chunk]:
    chunks, block, start = [], [], 0
    for n, line in enumerate(text.splitlines() + [""], start=1):
        if line.strip():
            if not block:
                start = n
            block.append(line.strip())
        elif block:
            chunks.append(Chunk(name, " ".join(block), start, n - 1))
            block = []
    return chunks


def _csv_chunks(text: str, name: str, delimiter: str) -> list[Chunk]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return []
    chunks: list[Chunk] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # blank lines are not rows
        row_no = len(chunks) + 1
        pairs = "; ".join(f"{h}: {v}" for h, v in zip(header, row) if v.strip())
        line = reader.line_num
        chunks.append(Chunk(name, pairs, line, line, row=row_no))
    return chunks


def _jsonl_chunks(text: str, name: str) -> list[Chunk]:
    chunks = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            chunks.append(Chunk(name, line.strip(), n, n))  # keep malformed lines as plain text
            continue
        body = "; ".join(f"{k}: {v}" for k, v in obj.items()) if isinstance(obj, dict) else json.dumps(obj)
        chunks.append(Chunk(name, body, n, n))
    return chunks
