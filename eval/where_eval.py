"""Where-answer accuracy: ask the real pipeline "where is the <category>?" about coco128 images and score its box.

Questions: for every image of the split, one per category with a box in it (``present``) and, seeded, one
category of the split that the image has no box of (``absent``: a where-answer there is a false one).
Each question goes through :func:`multimodal.ask.pipeline.ask` exactly as ``sceneqa ask IMAGE "where is the
dog?"`` sends it, one image per question. The answer's box is the first box of its first ``image:N#box:...``
citation (the best box: the one the answer text describes).

Scores, per question with the category present:

- answered: the answer does not abstain (an abstaining answer may still cite a box: a heatmap's as weak evidence,
  or a detection whose confidence is under the abstention threshold; that box is scored apart, ``abstained_*``);
- correct: the answered box has IoU >= 0.5 with a ground-truth box of the category (the detection criterion);
- pointing: the answered box's centre lies inside a ground-truth box of the category (no tolerance).

Reported: coverage (answered / asked), accuracy and pointing when answering, correct over all asked, mean
confidence when answering next to the accuracy (the confidence is the detector's P(real | score)), per route,
per category; for absent categories the rate of (false) answers.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np

IOU_CORRECT = 0.5
CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.9, 1.0001)


def where_questions(rows: list[dict], *, absent_per_image: int = 1, seed: int = 0) -> list[dict]:
    """``{"path", "image", "category", "gt", "present"}`` per question: each category with boxes in the image,
    then ``absent_per_image`` categories of ``rows`` with none there (seeded; ``gt`` empty)."""
    rng = np.random.default_rng(seed)
    split_cats = sorted({o["category"] for r in rows for o in r["objects"]})
    out = []
    for row in rows:
        by_cat = defaultdict(list)
        for o in row["objects"]:
            by_cat[o["category"]].append(o["box"])
        base = {"path": row["path"], "image": Path(row["path"]).name}
        out += [{**base, "category": c, "gt": gt, "present": True} for c, gt in sorted(by_cat.items())]
        others = [c for c in split_cats if c not in by_cat]
        for c in rng.choice(others, size=min(absent_per_image, len(others)), replace=False).tolist():
            out.append({**base, "category": str(c), "gt": [], "present": False})
    return out


def question_text(category: str) -> str:
    return f"where is the {category}?"


def cited_box(answer) -> tuple[float, float, float, float] | None:
    """The first box of the answer's first ``#box:`` citation, ``(x0, y0, x1, y1)`` pixels; ``None`` without."""
    for c in answer.citations:
        if "#box:" in c.locator and c.boxes:
            return tuple(float(v) for v in c.boxes[0])
    return None


def score_answer(question: dict, answer) -> dict:
    """One question's record: route, whether it answered, its box and how that box meets the ground truth."""
    from multimodal.explain.boxes import iou

    box = cited_box(answer)
    best = max((iou(box, g) for g in question["gt"]), default=0.0) if box else 0.0
    inside = box is not None and any(_inside(_centre(box), g) for g in question["gt"])
    answered = not answer.abstained
    rec = {
        "image": question["image"],
        "category": question["category"],
        "present": question["present"],
        "route": answer.route,
        "answered": answered,
        "confidence": float(answer.confidence),
        "box": list(box) if box else None,
        "iou": best,
    }
    if answered:
        rec.update(correct=best >= IOU_CORRECT, pointing=inside)
    elif box is not None:
        rec.update(abstained_correct=best >= IOU_CORRECT, abstained_pointing=inside)
    return rec


def _centre(b) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _inside(p, g) -> bool:
    return g[0] <= p[0] <= g[2] and g[1] <= p[1] <= g[3]


def run_where(services, questions: list[dict], *, progress=None) -> tuple[list[dict], float]:
    """Ask every question through the real pipeline; the records and the seconds spent asking."""
    from multimodal.ask.pipeline import AskRequest, ask

    recs, start = [], time.perf_counter()
    for n, q in enumerate(questions, 1):
        req = AskRequest(question=question_text(q["category"]), images=(Path(q["path"]),), image_names=(q["image"],))
        recs.append(score_answer(q, ask(services, req).answer))
        if progress is not None:
            progress(n, len(questions))
    return recs, time.perf_counter() - start


def summarise_where(recs: list[dict]) -> dict:
    """Figures over present-category questions (overall, per route, per category, by confidence) and the false
    answers to absent-category questions."""
    present = [r for r in recs if r["present"]]
    absent = [r for r in recs if not r["present"]]
    by_route, by_cat = defaultdict(list), defaultdict(list)
    for r in present:
        by_route[r["route"]].append(r)
        by_cat[r["category"]].append(r)
    answered = [r for r in present if r["answered"]]
    bins = []
    for lo, hi in zip(CONFIDENCE_BINS[:-1], CONFIDENCE_BINS[1:]):
        inside = [r for r in answered if lo <= r["confidence"] < hi]
        if inside:
            bins.append(
                {"range": [lo, min(hi, 1.0)], "answers": len(inside), **_conf_vs_acc(inside)},
            )
    return {
        "present": _agg(present),
        "absent": {
            "questions": len(absent),
            "false_answers": sum(r["answered"] for r in absent),
            "false_answer_rate": _mean(r["answered"] for r in absent),
            "routes": dict(sorted(_count(r["route"] for r in absent).items())),
        },
        "by_route": {k: _agg(v) for k, v in sorted(by_route.items())},
        "per_category": {k: _agg(v) for k, v in sorted(by_cat.items())},
        "by_confidence": bins,
    }


def _agg(rs: list[dict]) -> dict:
    answered = [r for r in rs if r["answered"]]
    cited = [r for r in rs if "abstained_correct" in r]
    out = {
        "questions": len(rs),
        "answered": len(answered),
        "coverage": _mean(r["answered"] for r in rs),
        "accuracy_answered": _mean(r["correct"] for r in answered),
        "pointing_answered": _mean(r["pointing"] for r in answered),
        "correct_of_asked": _mean(r.get("correct", False) for r in rs),
        "mean_iou_answered": _mean(r["iou"] for r in answered),
        **_conf_vs_acc(answered),
    }
    if cited:
        out["abstained_with_box"] = len(cited)
        out["abstained_box_accuracy"] = _mean(r["abstained_correct"] for r in cited)
        out["abstained_box_pointing"] = _mean(r["abstained_pointing"] for r in cited)
    return out


def _conf_vs_acc(answered: list[dict]) -> dict:
    return {
        "mean_confidence_answered": _mean(r["confidence"] for r in answered),
        "accuracy": _mean(r["correct"] for r in answered),
    }


def _count(values) -> dict:
    out: dict = defaultdict(int)
    for v in values:
        out[v] += 1
    return out


def _mean(values) -> float:
    v = [float(x) for x in values]
    return float(np.mean(v)) if v else float("nan")


def where_text(summary: dict, split: str) -> str:
    """The human lines for the where-answer figures."""
    p, a = summary["present"], summary["absent"]
    lines = [
        f"where-answers ({split}, ask's lite pipeline, one image per question): {p['questions']} questions about "
        f"present categories: coverage {p['coverage']:.3f} ({p['answered']} answered); when answering: box IoU >= "
        f"{IOU_CORRECT} with a true box {p['accuracy_answered']:.3f}, pointing {p['pointing_answered']:.3f}, mean IoU "
        f"{p['mean_iou_answered']:.3f}, mean confidence {p['mean_confidence_answered']:.3f}; correct of all asked "
        f"{p['correct_of_asked']:.3f}",
        f"where-answers about absent categories: {a['false_answers']} of {a['questions']} answered (false 'where' "
        f"rate {a['false_answer_rate']:.3f}; routes {a['routes']})",
    ]
    for route, s in summary["by_route"].items():
        cited = ""
        if "abstained_with_box" in s:
            cited = (
                f"; abstained but cited a box: {s['abstained_with_box']}, its IoU >= {IOU_CORRECT} "
                f"{s['abstained_box_accuracy']:.3f}, pointing {s['abstained_box_pointing']:.3f}"
            )
        lines.append(
            f"  route {route}: {s['questions']} questions, {s['answered']} answered, accuracy "
            f"{s['accuracy_answered']:.3f}, pointing {s['pointing_answered']:.3f}{cited}"
        )
    if summary["by_confidence"]:
        lines.append(
            "  confidence vs accuracy when answering: "
            + "; ".join(
                f"[{b['range'][0]:.1f}, {b['range'][1]:.1f}): {b['answers']} answers, mean confidence "
                f"{b['mean_confidence_answered']:.2f}, accuracy {b['accuracy']:.2f}"
                for b in summary["by_confidence"]
            )
        )
    return "\n".join(lines)
