"""``sceneqa eval explain``: does the heatmap point at the object, and do ``locate``'s boxes cover it?

Data: a coco128-shaped ``objects.jsonl`` (``{"path", "width", "height", "objects": [{"category", "box"}], "split"}``).
Each (image, category present) pair is one trial, restricted to categories with an ImageNet concept under them
(:mod:`multimodal.ask.facts.concepts`); the report lists the kept and the dropped categories.

- Pointing game (Zhang et al., 2016): a hit when the heatmap's maximum lies within ``--tolerance`` px (15, as in
  the paper) of a box of that category; a flat map is a miss. Baseline: the image centre, same rule.
- locate: the best IoU between the returned boxes (at most ``max_boxes``) and the category's boxes, and the IoU
  of the first box alone, for boxes from the heatmap only; and, reported apart, detector-assisted: the packaged
  COCO detector's boxes where the category is one of its 80 and it finds one (score >= 0.15), else the
  heatmap's (lite and full tiers; the tiny tier has no detector).
- Deletion / insertion (Petsiuk et al., 2018) on the first ``--auc-pairs`` trials (:mod:`eval.explain_auc`): the
  label's probability as the heatmap's hottest pixels are greyed out (deletion, lower is better) or revealed on a
  blurred image (insertion, higher is better), trapezoid AUC over 9 steps; against random smooth maps (``blobs``)
  and a random order of 16-px cells (``cells``).
- Where-answers (:mod:`eval.where_eval`, skipped with ``--no-where``): "where is the <category>?" through ``ask``.

Tuning (layer, input size, score, box threshold) is done with ``--split train`` only; report on ``--split val``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from eval.explain_auc import label_scorer, order_masks, random_order, trial_auc
from eval.machine import machine_info
from eval.report import table, write_json, write_markdown
from multimodal.errors import ConfigError

AUC_KEYS = ("del_heat", "del_blobs", "del_cells", "ins_heat", "ins_blobs", "ins_cells")

__all__ = ["load_objects", "nameable", "order_masks", "point_hit", "random_order", "run_eval_explain", "summarise"]
DETECTOR_NOTE = (
    "CenterNet MobileNetV3 (packaged), trained on COCO 2017 train: coco128 'train' images are COCO 2017 train "
    "images it was trained on (its figures there are optimistic); 'val' images are COCO 2017 val, not in its training"
)


def load_objects(path: Path, split: str | None) -> list[dict]:
    """The JSONL rows of ``split`` (all rows for ``None``), image paths made absolute."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"--data {path}: cannot be read ({exc}); pass a coco128 objects.jsonl") from exc
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            row["path"] = str((path.parent / row["path"]).resolve())
            row["objects"] = [
                {"category": str(o["category"]), "box": [float(v) for v in o["box"]]} for o in row["objects"]
            ]
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"--data {path}: line {n} is not an objects row ({exc})") from exc
        if split is None or row.get("split") == split:
            rows.append(row)
    if not rows:
        raise ConfigError(f"--data {path}: no rows with split {split!r}; use --split train or --split val")
    return rows


def nameable(rows: list[dict]) -> tuple[dict[str, str], list[str]]:
    """Categories with an ImageNet concept under them (-> the WordNet lemma matched), and the others."""
    from multimodal.ask.facts.concepts import load_concepts

    table_ = load_concepts()
    cats = sorted({o["category"] for r in rows for o in r["objects"]})
    kept = {c: hit[0] for c in cats if (hit := table_.lookup(c))}
    return kept, [c for c in cats if c not in kept]


def point_hit(point: tuple[float, float] | None, boxes: list[list[float]], tolerance: float) -> bool:
    """Whether ``point`` ``(x, y)`` lies within ``tolerance`` px of any ``(x0, y0, x1, y1)`` box."""
    if point is None:
        return False
    x, y = point
    return any(b[0] - tolerance <= x <= b[2] + tolerance and b[1] - tolerance <= y <= b[3] + tolerance for b in boxes)


def evaluate(
    services, explainer, rows, kept, *, tolerance, thresholds, explain_config, auc_pairs, detector=None, seed=0
) -> dict:
    """Trials over ``rows``: per-trial records plus the timing of the heatmaps (and of the detector, when one is
    given: then each trial also records the detector-assisted locate, kept apart from the heatmap-only one)."""
    from multimodal.explain.targets import phrase_targets
    from multimodal.images import load_image

    rng = np.random.default_rng(seed)
    trials, seconds, detector_seconds, auc_score = [], 0.0, 0.0, None
    for row in rows:
        image = load_image(row["path"])
        by_cat = defaultdict(list)
        for o in row["objects"]:
            if o["category"] in kept:
                by_cat[o["category"]].append(o["box"])
        detections = None
        if detector is not None and by_cat:
            start = time.perf_counter()
            detections = detector.detect(image)
            detector_seconds += time.perf_counter() - start
        for cat, gt in sorted(by_cat.items()):
            target = phrase_targets(services.encoder, services.zeroshot, [cat])[0][0]
            start = time.perf_counter()
            rec, exp = _trial(explainer, image, cat, gt, target, tolerance, thresholds, explain_config)
            seconds += time.perf_counter() - start
            rec["image"] = Path(row["path"]).name
            if detections is not None:
                rec.update(_assisted(detections, cat, gt, rec, explain_config, image.size))
            if len(trials) < auc_pairs and not exp.flat:
                auc_score, score_fn = label_scorer(services.encoder, target)
                rec.update(trial_auc(score_fn, image, exp.heatmap, rng))
            trials.append(rec)
    box_threshold = explain_config.box_threshold or (exp.box_threshold if trials else None)
    return {
        "trials": trials,
        "heatmap_seconds": seconds,
        "detector_seconds": detector_seconds,
        "box_threshold": box_threshold,
        "auc_score": auc_score,
    }


def _trial(explainer, image, cat, gt, target, tolerance, thresholds, explain_config):
    """One (image, category) trial, heatmap only: pointing, the centre baseline and the locate IoUs."""
    from multimodal.explain.api import heatmap_locate
    from multimodal.explain.boxes import boxes_from_heatmap, iou

    exp = explainer.explain(explainer.prepare(image), target)
    located = heatmap_locate(exp, cat, explain_config)
    w, h = image.size
    rec = {
        "category": cat,
        "hit": point_hit(exp.peak, gt, tolerance),
        "centre_hit": point_hit((w / 2, h / 2), gt, tolerance),
        "flat": exp.flat,
        "iou_top": max((iou(_xyxy(located.boxes[0]), b) for b in gt), default=0.0) if located.boxes else 0.0,
        "iou_best": _best_iou(located.boxes, gt),
        "iou_at": {},
    }
    for t in thresholds:
        bx = boxes_from_heatmap(
            exp.heatmap, threshold=t, min_area=explain_config.min_box_area, max_boxes=explain_config.max_boxes
        )
        rec["iou_at"][str(t)] = _best_iou(bx, gt)
    return rec, exp


def _assisted(detections, cat, gt, rec, explain_config, size) -> dict:
    """The detector-assisted locate of one trial: the detector's boxes for a COCO category it found (score >=
    the where threshold), else the heatmap's (``rec``'s IoU); ``by_detector`` says which answered."""
    from multimodal.explain.where import MIN_DETECTOR_SCORE, detector_boxes, phrase_category

    category = phrase_category(cat)
    boxes = []
    if category is not None:
        boxes = detector_boxes(
            detections, category, size, min_score=MIN_DETECTOR_SCORE, max_boxes=explain_config.max_boxes
        )
    return {
        "coco_named": category is not None,
        "by_detector": bool(boxes),
        "iou_best_assisted": _best_iou(boxes, gt) if boxes else rec["iou_best"],
    }


def _best_iou(boxes, gt) -> float:
    from multimodal.explain.boxes import iou

    return max((iou(_xyxy(p), b) for p in boxes for b in gt), default=0.0)


def _xyxy(b) -> tuple[float, float, float, float]:
    return (b.x0, b.y0, b.x1, b.y1)


def summarise(trials: list[dict], thresholds: list[float]) -> dict:
    """Overall and per-category pointing, centre baseline, IoUs and deletion/insertion means."""

    def agg(ts: list[dict]) -> dict:
        out = {
            "trials": len(ts),
            "pointing": _mean(t["hit"] for t in ts),
            "centre_baseline": _mean(t["centre_hit"] for t in ts),
            "flat": sum(t["flat"] for t in ts),
            "locate_mean_best_iou": _mean(t["iou_best"] for t in ts),
            "locate_mean_top_iou": _mean(t["iou_top"] for t in ts),
        }
        out["locate_best_iou_by_threshold"] = {t: _mean(r["iou_at"][str(t)] for r in ts) for t in map(str, thresholds)}
        assisted = [t for t in ts if "iou_best_assisted" in t]
        if assisted:
            out["detector_assisted_mean_best_iou"] = _mean(t["iou_best_assisted"] for t in assisted)
            out["detector_answered"] = sum(t["by_detector"] for t in assisted)
            out["coco_named"] = sum(t["coco_named"] for t in assisted)
        auc = [t for t in ts if "del_heat" in t]
        if auc:
            out["auc_trials"] = len(auc)
            for key in AUC_KEYS:
                out[key] = _mean(t[key] for t in auc)
        return out

    per_cat = defaultdict(list)
    for t in trials:
        per_cat[t["category"]].append(t)
    return {"overall": agg(trials), "per_category": {c: agg(ts) for c, ts in sorted(per_cat.items())}}


def _mean(values) -> float:
    v = [float(x) for x in values]
    return float(np.mean(v)) if v else float("nan")


def run_eval_explain(args: argparse.Namespace, config) -> int:
    from multimodal.banner import build_banner
    from multimodal.services import build_services

    rows = load_objects(args.data, args.split)[: args.limit or None]
    services = build_services(config)
    if not args.quiet:
        print(f"sceneqa: {build_banner(services).one_line()}", file=sys.stderr)
    report = {"data": str(args.data), "split": args.split, "encoder": services.encoder.spec}
    if not getattr(args, "where_only", False):
        report.update(_heatmap_report(args, services, rows))
    if not getattr(args, "no_where", False):
        report["where"] = _where_report(services, rows, args.quiet)
    report["machine"] = machine_info()
    write_json(args.out, report)
    write_markdown(args.out, f"explain: pointing game and locate on {args.data.name} ({args.split})", _sections(report))
    print(_text(report))
    return 0


def _heatmap_report(args: argparse.Namespace, services, rows: list[dict]) -> dict:
    """Pointing game, locate IoUs and deletion/insertion over the (image, nameable category) trials."""
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.factory import ExplainerOptions, create_explainer
    from multimodal.explain.lite import CnnExplainConfig
    from multimodal.explain.vit import VitExplainConfig
    from multimodal.explain.where import detector_for

    kept, dropped = nameable(rows)
    chosen = (("layer", args.layer), ("long_side", args.long_side), ("score", args.score))
    cnn = CnnExplainConfig(**{k: v for k, v in chosen if v is not None})
    vit = VitExplainConfig(method=args.vit_method) if args.vit_method else VitExplainConfig()
    explainer = create_explainer(services.encoder, ExplainerOptions(cnn=cnn, vit=vit))
    explain_config = ExplainConfig(box_threshold=args.threshold) if args.threshold else ExplainConfig()
    thresholds = [0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    result = evaluate(
        services,
        explainer,
        rows,
        kept,
        tolerance=args.tolerance,
        thresholds=thresholds,
        explain_config=explain_config,
        auc_pairs=args.auc_pairs,
        detector=detector_for(services),
    )
    return {
        "method": explainer.name,
        "box_threshold": explain_config.box_threshold or f"the method's ({result['box_threshold']})",
        "tolerance_px": args.tolerance,
        "categories_kept": kept,
        "categories_dropped": dropped,
        "ms_per_heatmap": 1000 * result["heatmap_seconds"] / max(1, len(result["trials"])),
        "detector": DETECTOR_NOTE if services.plan.detector == "centernet" else services.plan.detector,
        "auc_score": result["auc_score"],
        **summarise(result["trials"], thresholds),
        "trials": result["trials"],
    }


def _where_report(services, rows: list[dict], quiet: bool) -> dict:
    from eval.where_eval import run_where, summarise_where, where_questions

    questions = where_questions(rows)

    def progress(n: int, total: int) -> None:
        if not quiet and (n % 50 == 0 or n == total):
            print(f"sceneqa: where-questions: {n}/{total}", file=sys.stderr)

    recs, seconds = run_where(services, questions, progress=progress)
    return {
        "answerer": services.plan.answerer,
        "abstain_below": services.config.abstain_below,
        "seconds_per_question": seconds / max(1, len(recs)),
        **summarise_where(recs),
        "questions": recs,
    }


def _sections(report: dict) -> list[tuple[str, str]]:
    out = [("Overall", _text(report))]
    if "per_category" in report:
        rows = [
            (
                c,
                s["trials"],
                s["pointing"],
                s["centre_baseline"],
                s["locate_mean_best_iou"],
                s.get("detector_assisted_mean_best_iou", float("nan")),
            )
            for c, s in report["per_category"].items()
        ]
        header = ("category", "trials", "pointing", "centre", "best IoU heatmap", "best IoU detector-assisted")
        out.append(("Per category", table(rows, header)))
        out.append(
            (
                "Categories",
                f"kept (-> WordNet lemma): {report['categories_kept']}\n\n"
                f"dropped (no ImageNet concept under them): {', '.join(report['categories_dropped'])}",
            )
        )
    if "where" in report:
        rows = [
            (c, s["questions"], s["answered"], s["accuracy_answered"], s["pointing_answered"])
            for c, s in report["where"]["per_category"].items()
        ]
        header = ("category", "asked", "answered", "IoU >= 0.5 when answering", "pointing when answering")
        out.append(("Where-answers per category", table(rows, header)))
    return out


def _text(report: dict) -> str:
    lines = _heatmap_lines(report) if "overall" in report else []
    if "where" in report:
        from eval.where_eval import where_text

        w = report["where"]
        run = f"answerer {w['answerer']}, abstain below {w['abstain_below']}, "
        run += f"{1000 * w['seconds_per_question']:.0f} ms per question"
        lines.append(f"{where_text(w, report['split'])}\n  {run}")
    return "\n".join(lines)


def _heatmap_lines(report: dict) -> list[str]:
    o = report["overall"]
    lines = [
        f"split {report['split']}, encoder {report['encoder']}, method {report['method']}, "
        f"{len(report['categories_kept'])} categories kept, {len(report['categories_dropped'])} dropped",
        f"pointing game: {o['pointing']:.3f} vs centre baseline {o['centre_baseline']:.3f} "
        f"({o['trials']} trials, tolerance {report['tolerance_px']} px, {o['flat']} flat maps)",
        f"locate (box threshold {report['box_threshold']}): mean best IoU {o['locate_mean_best_iou']:.3f}, "
        f"first box {o['locate_mean_top_iou']:.3f}; best IoU by threshold: "
        + ", ".join(f"{t}: {v:.3f}" for t, v in o["locate_best_iou_by_threshold"].items()),
        f"heatmap: {report['ms_per_heatmap']:.0f} ms per image-label (incl. boxes)",
    ]
    if "detector_assisted_mean_best_iou" in o:
        lines.append(
            f"locate, detector-assisted (kept apart from the heatmap-only figure above): mean best IoU "
            f"{o['detector_assisted_mean_best_iou']:.3f}; the detector answered {o['detector_answered']} of "
            f"{o['trials']} trials ({o['coco_named']} name a COCO category), the heatmap the rest. "
            f"Detector: {report['detector']}"
        )
    if "auc_trials" in o:
        lines.append(
            f"deletion AUC (lower is better): heatmap {o['del_heat']:.4f} vs random blobs {o['del_blobs']:.4f}, "
            f"random 16-px cells {o['del_cells']:.4f}; insertion AUC (higher is better): heatmap "
            f"{o['ins_heat']:.4f} vs random blobs {o['ins_blobs']:.4f}, cells {o['ins_cells']:.4f} "
            f"({o['auc_trials']} trials; tracked: {report['auc_score']})"
        )
    return lines
