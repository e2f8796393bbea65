"""VQA data: the ``easy-vqa`` package's test split, or a JSONL of ``{"path", "question", "answers": [...]}``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from eval.requires import require
from multimodal.errors import ConfigError


@dataclass(frozen=True)
class VqaItem:
    path: Path
    question: str
    answers: tuple[str, ...]


def load_vqa(data: str, limit: int | None = None, split: str = "test") -> tuple[list[VqaItem], list[str]]:
    """Items and problems (``file:line: reason``). ``data`` is ``easy-vqa`` (``split`` test or train) or a
    JSONL path."""
    if data == "easy-vqa":
        easy_vqa = require("easy_vqa", purpose="--data easy-vqa")
        if split not in ("test", "train"):
            raise ConfigError(f"--split {split!r}: easy-vqa has test and train")
        questions, answers, image_ids = getattr(easy_vqa, f"get_{split}_questions")()
        paths = getattr(easy_vqa, f"get_{split}_image_paths")()
        items = [VqaItem(Path(paths[i]), q, (a,)) for q, a, i in zip(questions, answers, image_ids)]
        return (items[:limit] if limit else items), []
    path = Path(data)
    if not path.is_file():
        raise ConfigError(f"--data {data}: not 'easy-vqa' and not a JSONL file")
    items, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            image = Path(row["path"])
            answers = tuple(str(a) for a in row["answers"])
            item = VqaItem(image if image.is_absolute() else path.parent / image, str(row["question"]), answers)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append(f"{path}:{n}: {type(exc).__name__}: {exc} (expected path, question, answers)")
            continue
        if not item.answers:
            problems.append(f"{path}:{n}: no answers")
            continue
        items.append(item)
        if limit and len(items) >= limit:
            break
    return items, problems
