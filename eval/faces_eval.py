"""Face detectors as person evidence on a coco128-shaped folder, side by side in one run:
``python -m eval.faces_eval --data ../shared/data/coco128 --split train``.

Per detector, over the split's images (``objects.jsonl``; people = category ``person``):

- recall: share of the images with people where >= 1 face is found;
- precision: share of the images where >= 1 face is found that have people;
- in person box: share of the faces found whose centre lies inside some person box (a per-face precision);
- count exact: share of all the split's images where faces found == person boxes;
- count Q exact: the same against the answers of the "How many people are there?" questions (``counts.jsonl``;
  images with a person crowd region or over 6 people have none);
- ms/image, CPU ms/image: mean wall and process CPU time of ``detect`` per image (after one warm-up call); on a
  shared machine the wall time includes waiting for a core.

MTCNN is run once and reported at several minimum face probabilities (its ``MtcnnConfig.min_prob``). The first
row, a detector that never finds a face, is the floor for the count columns (most images have no people)."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from eval.machine import header_line, machine_info
from eval.report import table
from multimodal.ask.facts.faces import Box
from multimodal.errors import ConfigError

MTCNN_PROBS = (0.7, 0.9, 0.95, 0.99)
PEOPLE_QUESTION = "How many people are there?"


@dataclass(frozen=True)
class PeopleImage:
    """One image: its person boxes (x0, y0, x1, y1 px) and the reference answer of its people-count question
    (None where the image has no such question)."""

    path: Path
    people: tuple[tuple[float, float, float, float], ...]
    count_answer: int | None


def load_people(data: Path, split: str) -> list[PeopleImage]:
    """The images of ``split`` in a coco128-shaped folder (``objects.jsonl``, optional ``counts.jsonl``)."""
    objects = data / "objects.jsonl"
    if not objects.is_file():
        raise ConfigError(f"--data {data}: no objects.jsonl there; expected a coco128-shaped folder")
    answers: dict[str, int] = {}
    counts = data / "counts.jsonl"
    if counts.is_file():
        for line in counts.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("split") == split and row["question"] == PEOPLE_QUESTION:
                answers[row["path"]] = int(row["answers"][0])
    images, splits = [], set()
    for line in objects.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        splits.add(str(row.get("split", "")))
        if row.get("split") == split:
            people = tuple(tuple(o["box"]) for o in row["objects"] if o["category"] == "person")
            images.append(PeopleImage(data / row["path"], people, answers.get(row["path"])))
    if not images:
        raise ConfigError(f"--split {split}: no image of {objects} is in it; splits there: {sorted(splits)}")
    return images


def score(images: list[PeopleImage], found: list[list[Box]], seconds: list[tuple[float, float]]) -> dict[str, float]:
    """The metrics of the module docstring for one detector (``found[i]``: faces found in ``images[i]``)."""
    with_people = [bool(im.people) for im in images]
    hit = [bool(f) for f in found]
    n_people = sum(with_people)
    n_hit = sum(hit)
    faces = [(b, im.people) for im, f in zip(images, found) for b in f]
    asked = [(len(f), im.count_answer) for im, f in zip(images, found) if im.count_answer is not None]
    nan = float("nan")
    return {
        "recall": sum(p and h for p, h in zip(with_people, hit)) / n_people if n_people else nan,
        "precision": sum(p and h for p, h in zip(with_people, hit)) / n_hit if n_hit else nan,
        "in_person_box": sum(_in_any(b, people) for b, people in faces) / len(faces) if faces else nan,
        "faces": len(faces),
        "count_exact": sum(len(f) == len(im.people) for im, f in zip(images, found)) / len(images),
        "count_q_exact": sum(n == a for n, a in asked) / len(asked) if asked else nan,
        "ms_per_image": 1000 * sum(w for w, _ in seconds) / len(seconds),
        "cpu_ms_per_image": 1000 * sum(c for _, c in seconds) / len(seconds),
    }


def _in_any(box: Box, people) -> bool:
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    return any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in people)


def timed(detect, images: list[PeopleImage]) -> tuple[list, list[tuple[float, float]]]:
    """``detect`` over every image after one warm-up call: (outputs, (wall, CPU) seconds per image)."""
    loaded = [Image.open(im.path).convert("RGB") for im in images]
    detect(loaded[0])
    out, seconds = [], []
    for img in loaded:
        t, c = time.perf_counter(), time.process_time()
        out.append(detect(img))
        seconds.append((time.perf_counter() - t, time.process_time() - c))
    return out, seconds


def evaluate(images: list[PeopleImage]) -> list[tuple[str, dict[str, float]]]:
    from multimodal.ask.facts.faces import CascadeFaceDetector
    from multimodal.ask.facts.mtcnn import MtcnnFaceDetector

    cascade = CascadeFaceDetector()
    rows = [("reference: no face ever (always 0)", score(images, [[] for _ in images], [(0.0, 0.0)]))]
    found, seconds = timed(cascade.detect, images)
    rows.append((cascade.name, score(images, found, seconds)))
    mtcnn = MtcnnFaceDetector.load()
    scored, seconds = timed(mtcnn.detect_scored, images)
    for p in MTCNN_PROBS:
        marker = " (default)" if p == mtcnn.config.min_prob else ""
        found = [[b for b, q in s if q >= p] for s in scored]
        rows.append((f"MTCNN, P(face) >= {p}{marker}", score(images, found, seconds)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a coco128-shaped folder")
    parser.add_argument("--split", default="train", help="the split to measure on (fit on train, report on val)")
    parser.add_argument("--limit", type=int, default=None, help="first N images of the split only")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    images = load_people(args.data, args.split)[: args.limit]
    if not args.json:
        print(header_line())
        print(
            f"data: {args.data} split {args.split}: {len(images)} images, {sum(bool(i.people) for i in images)} "
            f"with people, {sum(i.count_answer is not None for i in images)} people-count questions; "
            f"torch threads {torch.get_num_threads()}",
            flush=True,
        )
    rows = evaluate(images)
    if args.json:
        clean = {name: {k: None if v != v else v for k, v in m.items()} for name, m in rows}  # NaN -> null
        print(json.dumps({"machine": machine_info(), "threads": torch.get_num_threads(), "rows": clean}, indent=2))
        return 0
    keys = {
        "recall": "recall",
        "precision": "precision",
        "in_person_box": "in person box",
        "faces": "faces",
        "count_exact": "count exact",
        "count_q_exact": "count Q exact",
        "ms_per_image": "ms/image",
        "cpu_ms_per_image": "CPU ms/image",
    }
    print(table([(name, *(m[k] for k in keys)) for name, m in rows], ("detector", *keys.values())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
