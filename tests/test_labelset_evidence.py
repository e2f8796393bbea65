"""A taught label set as Ask evidence (issue 15, item 4: "which of my labels is this?"): the pure answer rule on
hand-made evidence (oracle), and end to end through ``sceneqa ask --labelset`` on the tiny tier, where the
answer must equal what ``classify --labelset`` says."""

from __future__ import annotations

import json

import pytest

from multimodal.ask.answers import ABSTAIN_TEXT, Evidence
from multimodal.ask.labelset_evidence import answer
from tests.test_teach_cli import COLOURS, drawn, examples, run  # noqa: F401 -- the examples fixture

E1 = Evidence(
    "image", "image:1#labelset:parts", "label set 'parts': top label 'bolt' at P = 0.9100; next 'nut' 0.06", 0.91
)
E2 = Evidence("image", "image:2#labelset:parts", "label set 'parts': top label \"o'ring\" at P = 0.7000", 0.7)


@pytest.mark.parametrize(
    "question",
    ["Which of my labels is this?", "what type of part is this?", "Classify this", "what kind of thing is it?"],
)
def test_which_label_questions_are_answered_with_the_top_label(question):
    a = answer(question, [Evidence("image", "image:1", "a.jpg"), E1])
    assert (a.text, a.confidence, a.abstained, a.route) == ("bolt", 0.91, False, "labelset")
    assert a.citations == (E1,)


def test_several_images_answered_per_image_at_the_lowest_probability():
    a = answer("which label is this?", [E1, E2])
    assert a.text == "image 1: bolt; image 2: o'ring" and a.confidence == 0.7


def test_low_probability_abstains_and_says_why():
    a = answer("which label?", [E2], threshold=0.8)
    assert a.abstained and a.text == ABSTAIN_TEXT and "not sure enough" in a.detail and "o'ring" in a.detail


def test_other_questions_and_no_evidence_go_to_the_answerer():
    assert answer("is there a dog?", [E1]) is None
    assert answer("which of my labels is this?", [Evidence("image", "image:1", "a.jpg")]) is None


def test_ask_with_a_labelset_agrees_with_classify(capsys, cache_dir, examples, tmp_path):  # noqa: F811
    sets = tmp_path / "sets"
    code, _, err = run(capsys, cache_dir, "teach", "colours", "--examples", str(examples), labelsets=sets)
    assert code == 0, err
    image = str(examples / "blue" / "1.png")
    code, out, err = run(capsys, cache_dir, "classify", image, "--labelset", "colours", "--json", labelsets=sets)
    top = max(json.loads(out)["labels"], key=lambda s: s["score"])
    argv = ("ask", image, "Which of my labels is this?", "--labelset", "colours", "--threshold", "0", "--json")
    code, out, err = run(capsys, cache_dir, *argv, labelsets=sets)
    assert code == 0, err
    got = json.loads(out)
    assert got["answer"] == top["label"] and got["confidence"] == pytest.approx(top["score"], abs=1e-3)
    assert any(c["locator"] == "image:1#labelset:colours" for c in got["citations"])
    code, _, err = run(capsys, cache_dir, "ask", image, "what is this?", "--labelset", "nope", labelsets=sets)
    assert code == 1 and "no label set 'nope'" in err
