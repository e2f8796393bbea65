"""VQA data: the ``easy-vqa`` package's splits, a JSONL of ``{"path", "question", "answers": [...]}``, or a
coco128-shaped folder (``presence.jsonl`` and/or ``counts.jsonl``, each line with a ``split``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from eval.requires import require
from multimodal.errors import ConfigError

# the question files of a folder and the kind each one's questions are reported under
FOLDER_FILES = {"presence.jsonl": "presence", "counts.jsonl": "count"}


@dataclass(frozen=True)
class VqaItem:
    """One question. ``kind`` is the folder file's kind (``presence``, ``count``); "" elsewhere, where the
    question's parsed kind is reported. ``category`` is the object the question is about ("" if not given)."""

    path: Path
    question: str
    answers: tuple[str, ...]
    kind: str = ""
    category: str = ""


def load_vqa(data: str, limit: int | None = None, split: str | None = None) -> tuple[list[VqaItem], list[str]]:
    """Items and problems (``file:line: reason``). ``data`` is ``easy-vqa`` (``split`` test, the default, or
    train), a JSONL path or a folder (see :data:`FOLDER_FILES`). For a JSONL or a folder, ``split`` keeps only
    the lines whose ``split`` field equals it (``None``: every line); a split no line has is an error that
    lists the splits there are."""
    if data == "easy-vqa":
        return _easy_vqa(split or "test", limit), []
    path = Path(data)
    if path.is_dir():
        files = [(path / name, kind) for name, kind in FOLDER_FILES.items() if (path / name).is_file()]
        if not files:
            raise ConfigError(f"--data {data}: a folder needs {' or '.join(FOLDER_FILES)}; found neither")
    elif path.is_file():
        files = [(path, "")]
    else:
        raise ConfigError(f"--data {data}: not 'easy-vqa', a JSONL file or a folder of {', '.join(FOLDER_FILES)}")
    items: list[VqaItem] = []
    problems: list[str] = []
    splits: set[str] = set()
    for file, kind in files:
        for item, line_split in _read_jsonl(file, kind, problems):
            splits.add(line_split)
            if split is None or line_split == split:
                items.append(item)
    if split is not None and not items:
        found = ", ".join(sorted(s for s in splits if s)) or "none (no line has a 'split' field)"
        raise ConfigError(f"--split {split}: no question of {data} is in that split; splits there: {found}")
    return (items[:limit] if limit else items), problems


def _easy_vqa(split: str, limit: int | None) -> list[VqaItem]:
    easy_vqa = require("easy_vqa", purpose="--data easy-vqa")
    if split not in ("test", "train"):
        raise ConfigError(f"--split {split!r}: easy-vqa has test and train")
    questions, answers, image_ids = getattr(easy_vqa, f"get_{split}_questions")()
    paths = getattr(easy_vqa, f"get_{split}_image_paths")()
    items = [VqaItem(Path(paths[i]), q, (a,)) for q, a, i in zip(questions, answers, image_ids)]
    return items[:limit] if limit else items


def _read_jsonl(path: Path, kind: str, problems: list[str]):
    """Yield ``(item, split)`` for each well-formed line (split "" where the line has none); malformed lines
    are appended to ``problems``. Image paths are relative to the file."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            image = Path(row["path"])
            answers = tuple(str(a) for a in row["answers"])
            item = VqaItem(
                image if image.is_absolute() else path.parent / image,
                str(row["question"]),
                answers,
                kind,
                str(row.get("category", "")),
            )
            line_split = str(row.get("split", ""))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{path}:{n}: {type(exc).__name__}: {exc} (expected path, question, answers)")
            continue
        if not item.answers:
            problems.append(f"{path}:{n}: no answers")
            continue
        yield item, line_split
