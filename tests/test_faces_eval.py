"""eval/faces_eval.py: the face detectors' people metrics, by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval.faces_eval import PeopleImage, load_people, score
from multimodal.ask.facts.faces import Box
from multimodal.errors import ConfigError


def test_score_by_hand():
    images = [
        PeopleImage(Path("a"), ((0, 0, 100, 100),), 1),  # one person, found once
        PeopleImage(Path("b"), ((0, 0, 50, 50), (60, 0, 90, 50)), 2),  # two people, one face found
        PeopleImage(Path("c"), (), 0),  # nobody, a false face outside any person box
        PeopleImage(Path("d"), (), None),  # nobody, nothing found, no count question
    ]
    found = [[Box(10, 10, 30, 30)], [Box(60, 5, 80, 25)], [Box(200, 200, 220, 220)], []]
    m = score(images, found, [(0.1, 0.05)] * 4)
    assert m["recall"] == 1.0 and m["precision"] == pytest.approx(2 / 3)
    assert m["in_person_box"] == pytest.approx(2 / 3) and m["faces"] == 3
    assert m["count_exact"] == pytest.approx(2 / 4)  # a (1 = 1) and d (0 = 0)
    assert m["count_q_exact"] == pytest.approx(1 / 3)  # a right; b (1 vs 2) and c (1 vs 0) wrong
    assert m["ms_per_image"] == pytest.approx(100) and m["cpu_ms_per_image"] == pytest.approx(50)
    assert math.isnan(score(images[2:], [[], []], [(0, 0)] * 2)["precision"])


def test_load_people_reads_one_split(tmp_path):
    rows = [
        {"path": "i/1.jpg", "objects": [{"category": "person", "box": [1, 2, 3, 4]}], "split": "train"},
        {"path": "i/2.jpg", "objects": [{"category": "dog", "box": [1, 2, 3, 4]}], "split": "val"},
    ]
    (tmp_path / "objects.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    q = {"path": "i/1.jpg", "question": "How many people are there?", "answers": ["1"], "split": "train"}
    (tmp_path / "counts.jsonl").write_text(json.dumps(q) + "\n")
    (only,) = load_people(tmp_path, "train")
    assert only.people == ((1, 2, 3, 4),) and only.count_answer == 1
    with pytest.raises(ConfigError, match="splits there"):
        load_people(tmp_path, "test")
