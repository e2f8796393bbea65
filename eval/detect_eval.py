"""The packaged object detector on a coco128-shaped folder:
``python -m eval.detect_eval --data ../shared/data/coco128 --split val [--fit-scores OUT.json]``.

Reports, per score threshold:

- people (category ``person``): image recall (images with people where >= 1 is detected), image precision,
  count exact against the "How many people are there?" answers (``counts.jsonl``);
- boxes, all categories: precision and recall at IoU >= 0.5 (greedy matching per category, best score first).

``--fit-scores`` (use it on the fit split only) writes the detector's score calibration: an isotonic map from a
detection's score to the share of detections at that score that matched a true box (IoU >= 0.5), one for
``person`` and one for the other categories: :mod:`multimodal.ask.lite_objects` turns scores into P(real) with it.
Caveat printed with the figures: the detector was trained on COCO 2017 train, which holds coco128's train
images; coco128 val (COCO 2017 val) was not in its training."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from eval.machine import header_line, machine_info
from eval.report import table
from eval.requires import require
from multimodal.detect.base import Detection
from multimodal.detect.coco_names import COCO_NAMES
from multimodal.errors import ConfigError

THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
PEOPLE_QUESTION = "How many people are there?"
CAVEAT = "the detector was trained on COCO 2017 train (coco128 train images included); coco128 val was not seen"


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match(dets: list[Detection], truth: list[tuple[int, tuple]]) -> list[bool]:
    """Per detection (in the given order), whether it matched a not yet matched true box of its category at
    IoU >= 0.5, detections taken best score first."""
    used: set[int] = set()
    hit = [False] * len(dets)
    for i in sorted(range(len(dets)), key=lambda k: -dets[k].score):
        d = dets[i]
        best, best_j = 0.5, None
        for j, (c, box) in enumerate(truth):
            if c == d.category and j not in used and (v := iou(d.box, box)) >= best:
                best, best_j = v, j
        if best_j is not None:
            used.add(best_j)
            hit[i] = True
    return hit


def load_split(data: Path, split: str) -> tuple[list[dict], dict[str, int]]:
    objects = data / "objects.jsonl"
    if not objects.is_file():
        raise ConfigError(f"--data {data}: no objects.jsonl there; expected a coco128-shaped folder")
    rows = [json.loads(x) for x in objects.read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = [r for r in rows if r.get("split") == split]
    if not rows:
        raise ConfigError(f"--split {split}: no image of that split in {objects}; expected train or val")
    answers = {}
    counts = data / "counts.jsonl"
    if counts.is_file():
        for line in counts.read_text(encoding="utf-8").splitlines():
            q = json.loads(line)
            if q.get("split") == split and q["question"] == PEOPLE_QUESTION:
                answers[q["path"]] = int(q["answers"][0])
    return rows, answers


def run(data: Path, split: str, detector) -> tuple[list[tuple[dict, list[Detection], list[bool]]], float]:
    out, seconds = [], 0.0
    for row in rows_of(data, split):
        img = Image.open(data / row["path"])
        t = time.perf_counter()
        dets = detector.detect(img)
        seconds += time.perf_counter() - t
        objs = [o for o in row["objects"] if o["category"] in COCO_NAMES]
        truth = [(COCO_NAMES.index(o["category"]), tuple(o["box"])) for o in objs]
        out.append((row, dets, match(dets, truth)))
    return out, seconds


def rows_of(data: Path, split: str) -> list[dict]:
    return load_split(data, split)[0]


def people_rows(results, answers: dict[str, int]) -> list[list[str]]:
    rows = []
    for t in THRESHOLDS:
        found = [sum(d.category == 0 and d.score >= t for d in dets) for _, dets, _ in results]
        has = [any(o["category"] == "person" for o in r["objects"]) for r, _, _ in results]
        rec = np.mean([f > 0 for f, h in zip(found, has) if h]) if any(has) else float("nan")
        pos = [h for f, h in zip(found, has) if f > 0]
        prec = np.mean(pos) if pos else float("nan")
        asked = [(f, answers[r["path"]]) for f, (r, _, _) in zip(found, results) if r["path"] in answers]
        exact = np.mean([f == a for f, a in asked]) if asked else float("nan")
        rows.append([f"{t:.2f}", f"{rec:.3f}", f"{prec:.3f}", f"{exact:.3f} ({len(asked)})"])
    return rows


def box_rows(results) -> list[list[str]]:
    n_true = sum(len(r["objects"]) for r, _, _ in results)
    rows = []
    for t in THRESHOLDS:
        kept = [(h) for _, dets, hits in results for d, h in zip(dets, hits) if d.score >= t]
        prec = np.mean(kept) if kept else float("nan")
        rows.append([f"{t:.2f}", f"{prec:.3f}", f"{sum(kept) / max(n_true, 1):.3f}", str(len(kept))])
    return rows


def fit_scores(results, data: Path, split: str) -> dict:
    """Isotonic P(matched | score) for ``person`` and for the other categories."""
    iso = require("sklearn.isotonic", purpose="--fit-scores").IsotonicRegression
    out = {}
    for group, pick in (("person", lambda c: c == 0), ("object", lambda c: c != 0)):
        pairs = [(d.score, float(h)) for _, dets, hits in results for d, h in zip(dets, hits) if pick(d.category)]
        x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        fit = iso(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(x, y)
        out[group] = {
            "xs": [round(float(v), 6) for v in fit.X_thresholds_],
            "ys": [round(float(v), 6) for v in np.clip(fit.y_thresholds_, 0, 1)],
            "n": len(pairs),
        }
    out["provenance"] = {
        "fitted_on": f"{data} split {split}",
        "date": dt.date.today().isoformat(),
        "method": "sklearn IsotonicRegression of 'matched a true box of its category at IoU >= 0.5' on score",
        "caveat": CAVEAT,
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a coco128-shaped folder (objects.jsonl, images/)")
    ap.add_argument("--split", default="val", help="train (fit) or val (report); default val")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--fit-scores", type=Path, default=None, help="write the score calibration here (fit split)")
    args = ap.parse_args(argv)
    import torch

    from multimodal.detect.centernet import CenterNetConfig, load_centernet

    if args.threads:
        torch.set_num_threads(args.threads)
    print(header_line(machine_info()))
    _, answers = load_split(args.data, args.split)
    detector = load_centernet(CenterNetConfig(min_score=0.05))
    results, seconds = run(args.data, args.split, detector)
    ms = 1000 * seconds / max(len(results), 1)
    print(f"CenterNet MobileNetV3 (packaged), split {args.split}, {len(results)} images, {ms:.0f} ms/image; {CAVEAT}")
    people_header = ("score >=", "image recall", "image precision", "count exact (questions)")
    print("\npeople\n" + table(people_rows(results, answers), people_header))
    box_header = ("score >=", "precision", "recall", "kept")
    print("\nboxes, all categories, IoU >= 0.5\n" + table(box_rows(results), box_header))
    if args.fit_scores:
        args.fit_scores.parent.mkdir(parents=True, exist_ok=True)
        args.fit_scores.write_text(json.dumps(fit_scores(results, args.data, args.split), indent=1) + "\n")
        print(f"\nscore calibration written to {args.fit_scores}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
