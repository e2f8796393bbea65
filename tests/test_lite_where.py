"""Where-questions in the lite answerer (issue 17 item 2): detector boxes for COCO categories, with the detector's
P(real | score) as the confidence; the heatmap's best box as weak evidence (an abstention) otherwise; cited as
``image:N#box:...`` with boxes, so the Ask tab draws them. Tiny tier (no detector of its own: a fake one)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image

from multimodal.ask.answer_lite import LiteAnswerer
from multimodal.ask.answers import ABSTAIN_TEXT
from multimodal.ask.lite_objects import score_maps
from multimodal.ask.lite_where import p_real, where_answer
from multimodal.ask.scene_facts import SceneFacts
from multimodal.detect.base import Detection
from tests.image_corpus import gradient

CAT, DOG = 15, 16


class FakeDetector:
    def __init__(self, detections):
        self.detections = detections

    def detect(self, img):
        return list(self.detections)


@pytest.fixture()
def tools(tiny_services):
    return tiny_services.answerer().tools


def facts_with(tools, detections, size=(200, 100), n=1):
    return SceneFacts(Image.new("RGB", size, (90, 120, 150)), n, replace(tools, detector=FakeDetector(detections)))


def test_detector_box_answers_with_its_calibrated_probability(tools):
    dets = [
        Detection(DOG, "dog", 0.9, (150.0, 50.0, 190.0, 95.0)),
        Detection(CAT, "cat", 0.8, (10.0, 10.0, 90.0, 60.0)),
        Detection(CAT, "cat", 0.3, (120.0, 60.0, 160.0, 90.0)),
        Detection(CAT, "cat", 0.1, (0.0, 0.0, 5.0, 5.0)),  # under the detector threshold: ignored
    ]
    draft = where_answer([facts_with(tools, dets)], "cat")
    assert draft.text == "top left, around x=10..89, y=10..59" and draft.route == "where:detector"
    assert draft.confidence == pytest.approx(p_real(0.8, CAT))
    real = score_maps().get("object")
    assert p_real(0.8, CAT) == pytest.approx(real(0.8) if real else 0.8)  # the shipped map, not a second one
    (cite,) = draft.citations
    assert cite.locator == "image:1#box:cat" and cite.boxes == ((10, 10, 90, 60), (120, 60, 160, 90))
    assert "P(real | score)" in cite.text and "1 more" in draft.detail


def test_the_best_image_answers_and_is_named(tools):
    a = facts_with(tools, [Detection(CAT, "cat", 0.4, (0.0, 0.0, 50.0, 50.0))], n=1)
    b = facts_with(tools, [Detection(CAT, "cat", 0.7, (150.0, 60.0, 200.0, 100.0))], n=2)
    draft = where_answer([a, b], "the cats")
    assert draft.text.startswith("image 2: bottom right") and draft.citations[0].locator == "image:2#box:cat"


def test_a_qualified_phrase_says_the_detector_only_knows_the_category(tools):
    draft = where_answer([facts_with(tools, [Detection(CAT, "cat", 0.8, (10.0, 10.0, 90.0, 60.0))])], "black cat")
    assert "names 'cat', not more" in draft.detail


def test_no_detection_falls_back_to_the_heatmap_and_abstains(tools):
    draft = where_answer([facts_with(tools, [Detection(DOG, "dog", 0.9, (0.0, 0.0, 40.0, 40.0))])], "cat")
    assert draft.route == "where:heatmap" and draft.text == ABSTAIN_TEXT and draft.confidence == 0.0
    assert draft.detail.startswith("the object detector found no 'cat' at score >= 0.15")
    for cite in draft.citations:  # the heatmap's best box, or none for a flat map
        assert cite.locator == "image:1#box:cat" and len(cite.boxes) == 1
        x0, y0, x1, y1 = cite.boxes[0]
        assert 0 <= x0 < x1 <= 200 and 0 <= y0 < y1 <= 100


def test_heatmap_only_phrase_abstains_with_weak_evidence(tiny_services):
    """The tiny tier has no detector: the answer abstains and keeps the heatmap box as weak evidence (drawn)."""
    img = gradient(w=120, h=80)
    answer = LiteAnswerer(tiny_services.answerer().tools).answer("Where is the red square?", [img], [])
    assert answer.abstained and answer.text == ABSTAIN_TEXT and answer.route == "where:heatmap"
    assert "weak evidence: the heatmap of 'red square' is hottest at" in answer.detail or "flat" in answer.detail
    assert all(c.locator == "image:1#box:red square" and c.boxes for c in answer.citations)
    assert answer.derived == tuple(answer.citations)  # image facts: listed as evidence, boxes drawn by the Ask tab


def test_answerer_answers_and_abstains_by_the_detector_probability(tools):
    img = Image.new("RGB", (200, 100), (90, 120, 150))
    strong = LiteAnswerer(replace(tools, detector=FakeDetector([Detection(CAT, "cat", 0.8, (10.0, 10.0, 90.0, 60.0))])))
    answer = strong.answer("where is the cat?", [img], [])
    assert not answer.abstained and answer.text == "top left, around x=10..89, y=10..59"
    assert answer.confidence == pytest.approx(round(p_real(0.8, CAT), 4)) and answer.route == "where:detector"
    assert answer.citations[0].boxes == ((10, 10, 90, 60),)
    weak = LiteAnswerer(replace(tools, detector=FakeDetector([Detection(CAT, "cat", 0.16, (10.0, 10.0, 90.0, 60.0))])))
    answer = weak.answer("where is the cat?", [img], [])
    if p_real(0.16, CAT) < 0.5:  # the shipped map: a weak peak is rarely a real cat
        assert answer.abstained and "weak evidence: top left" in answer.detail
        assert answer.citations[0].locator == "image:1#box:cat"


def test_the_ask_tab_draws_the_cited_box(tools):
    from demos.ui.annotate import annotate

    img = Image.new("RGB", (200, 100))
    answerer = LiteAnswerer(
        replace(tools, detector=FakeDetector([Detection(CAT, "cat", 0.8, (10.0, 10.0, 90.0, 60.0))]))
    )
    answer = answerer.answer("Show me where the cat is", [img], [])
    ((_, boxes),) = annotate(answer, [img])
    assert [b for b, _ in boxes] == [(10, 10, 90, 60)]


def test_no_images_or_no_subject_gives_no_draft(tools):
    assert where_answer([], "cat") is None
    assert where_answer([facts_with(tools, [])], "") is None


def test_where_through_the_pipeline_cites_image_boxes(tiny_services, tmp_path):
    from multimodal.ask.pipeline import AskRequest, ask

    path = tmp_path / "scene.png"
    gradient(w=96, h=64).save(path)
    result = ask(tiny_services, AskRequest("where is the cat?", (path,)))
    assert result.answer.abstained and result.answer.route == "where:heatmap"
    assert all(c.locator.startswith("image:1#box:") for c in result.answer.citations)


@pytest.mark.slow
def test_lite_answers_where_the_pasted_cat_is(lite_services, photos):
    """Packaged weights: the detector boxes the cat we pasted on the right (an oracle), and the answer says so."""
    from multimodal.explain.boxes import iou

    canvas = Image.new("RGB", (900, 450), (128, 128, 128))
    canvas.paste(photos["cat"].resize((400, 266)), (480, 100))  # the cat: x 480..880, y 100..366
    answer = lite_services.answerer().answer("Where is the cat?", [canvas], [])
    assert answer.route == "where:detector"
    (cite,) = answer.citations
    assert cite.locator == "image:1#box:cat" and iou(cite.boxes[0], (480, 100, 880, 366)) > 0.5
    assert answer.abstained or answer.text.startswith("right")
    heat = lite_services.answerer().answer("Where is the tabby?", [canvas], [])  # no COCO category: weak evidence
    assert heat.abstained and heat.route == "where:heatmap"
