"""eval/detect_eval.py: box matching (oracle cases), the per-threshold tables and the score calibration fit on
hand-made detections (no model)."""

from __future__ import annotations

import pytest

from eval.detect_eval import box_rows, fit_scores, iou, match, people_rows
from multimodal.detect.base import Detection


def d(cat, score, box):
    return Detection(cat, "x", score, box)


def test_iou_oracle():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_match_is_greedy_by_score_one_truth_each_same_category():
    truth = [(0, (0, 0, 10, 10)), (16, (20, 20, 30, 30))]
    dets = [
        d(0, 0.4, (0, 0, 10, 9)),
        d(0, 0.9, (0, 0, 10, 10)),
        d(16, 0.8, (0, 0, 10, 10)),
        d(16, 0.3, (20, 20, 30, 31)),
    ]
    assert match(dets, truth) == [False, True, False, True]


def _results():
    a = {"path": "a.jpg", "objects": [{"category": "person", "box": [0, 0, 10, 10]}]}
    b = {"path": "b.jpg", "objects": [{"category": "dog", "box": [0, 0, 10, 10]}]}
    ra = [d(0, 0.9, (0, 0, 10, 10)), d(0, 0.2, (50, 50, 60, 60))]
    rb = [d(0, 0.3, (0, 0, 10, 10)), d(16, 0.6, (0, 0, 10, 10))]
    return [(a, ra, [True, False]), (b, rb, [False, True])]


def test_people_rows_count_and_precision():
    rows = {r[0]: r for r in people_rows(_results(), {"a.jpg": 1, "b.jpg": 0})}
    assert rows["0.15"][1:] == ["1.000", "0.500", "0.000 (2)"]  # a: 2 found (ref 1), b: 1 found (ref 0)
    assert rows["0.35"][1:] == ["1.000", "1.000", "1.000 (2)"]


def test_box_rows_and_score_fit():
    rows = {r[0]: r for r in box_rows(_results())}
    assert rows["0.15"][1:] == ["0.500", "1.000", "4"]
    assert rows["0.50"][1:] == ["1.000", "1.000", "2"]
    fit = fit_scores(_results(), "data", "train")
    assert fit["person"]["n"] == 3 and fit["object"]["n"] == 1
    assert fit["person"]["ys"][-1] == 1.0 and fit["person"]["ys"][0] == 0.0
