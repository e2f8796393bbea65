"""Where-answer scoring (eval/where_eval.py) without models: the questions asked, which box is scored, and the
figures: coverage, accuracy and pointing when answering, false answers for absent categories."""

from __future__ import annotations

import math

import pytest

from eval.where_eval import cited_box, score_answer, summarise_where, where_questions, where_text
from multimodal.ask.answers import Answer, Evidence

ROWS = [
    {
        "path": "/d/a.jpg",
        "objects": [
            {"category": "dog", "box": [0.0, 0.0, 100.0, 100.0]},
            {"category": "dog", "box": [200.0, 0.0, 300.0, 100.0]},
            {"category": "cat", "box": [0.0, 200.0, 50.0, 250.0]},
        ],
    },
    {"path": "/d/b.jpg", "objects": [{"category": "bus", "box": [10.0, 10.0, 20.0, 20.0]}]},
]


def answer(boxes=(), abstained=False, confidence=0.9, route="where:detector") -> Answer:
    cites = (Evidence("image", "image:1#box:dog", "det", confidence, tuple(boxes)),) if boxes else ()
    return Answer("left", confidence, abstained, cites, route=route)


def test_questions_cover_present_categories_and_one_seeded_absent_one_per_image():
    qs = where_questions(ROWS, seed=0)
    assert [(q["image"], q["category"], q["present"]) for q in qs if q["present"]] == [
        ("a.jpg", "cat", True),
        ("a.jpg", "dog", True),
        ("b.jpg", "bus", True),
    ]
    absent = [q for q in qs if not q["present"]]
    assert [q["image"] for q in absent] == ["a.jpg", "b.jpg"] and all(q["gt"] == [] for q in absent)
    assert absent[0]["category"] == "bus" and absent[1]["category"] in ("cat", "dog")
    assert qs == where_questions(ROWS, seed=0)
    assert len(qs[1]["gt"]) == 2  # both dogs


def test_the_scored_box_is_the_first_box_of_the_first_box_citation():
    a = Answer(
        "x",
        0.9,
        False,
        (
            Evidence("image", "image:1#objects", "o", 0.5, ((1, 1, 2, 2),)),
            Evidence("image", "image:1#box:dog", "d", 0.9, ((5, 5, 9, 9), (0, 0, 1, 1))),
        ),
    )
    assert cited_box(a) == (5.0, 5.0, 9.0, 9.0) and cited_box(answer()) is None


def test_scoring_iou_pointing_and_abstentions():
    q = where_questions(ROWS)[1]  # the dogs
    hit = score_answer(q, answer([(210, 0, 300, 110)]))  # IoU 90*100/(100*100+90*110-90*100) with the 2nd dog
    assert hit["answered"] and hit["correct"] and hit["pointing"] and hit["iou"] == pytest.approx(9000 / 10900)
    loose = score_answer(q, answer([(0, 0, 300, 100)]))  # centre (150, 50) lies in neither dog
    assert not loose["correct"] and not loose["pointing"]
    shy = score_answer(q, answer([(0, 0, 100, 100)], abstained=True, confidence=0.3))
    assert not shy["answered"] and "correct" not in shy and shy["abstained_correct"] and shy["abstained_pointing"]


def test_summary_figures():
    qs = where_questions(ROWS)
    dogs, cat, bus = qs[1], qs[0], qs[3]
    absent = [q for q in qs if not q["present"]]
    recs = [
        score_answer(dogs, answer([(0, 0, 100, 100)])),
        score_answer(cat, answer([(300, 300, 400, 400)], confidence=0.6)),
        score_answer(bus, answer(abstained=True, confidence=0.0, route="where:heatmap")),
        score_answer(absent[0], answer([(0, 0, 5, 5)])),  # a false where-answer
        score_answer(absent[1], answer(abstained=True, confidence=0.0, route="where:heatmap")),
    ]
    s = summarise_where(recs)
    p = s["present"]
    assert p["questions"] == 3 and p["answered"] == 2 and p["coverage"] == pytest.approx(2 / 3)
    assert p["accuracy_answered"] == 0.5 and p["pointing_answered"] == 0.5 and p["correct_of_asked"] == 1 / 3
    assert p["mean_confidence_answered"] == pytest.approx(0.75)
    assert s["absent"] == {
        "questions": 2,
        "false_answers": 1,
        "false_answer_rate": 0.5,
        "routes": {"where:detector": 1, "where:heatmap": 1},
    }
    assert math.isnan(s["by_route"]["where:heatmap"]["accuracy_answered"])
    assert [b["answers"] for b in s["by_confidence"]] == [1, 1]
    text = where_text(s, "val")
    assert "coverage 0.667" in text and "1 of 2 answered (false 'where' rate 0.500" in text
