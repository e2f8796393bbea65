"""Where-questions for the VLM answerers (issue 17 item 2, every tier): a confident detector box answers with its
cited ``image:N#box:...`` boxes as in lite; without one the VLM answers in its own words; the lite answerer
routes where-questions itself. Tiny tier (random-weight VLM) with a fake detector: no packaged model needed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PIL import Image

from multimodal.ask import where_direct
from multimodal.ask.lite_where import p_real
from multimodal.ask.pipeline import AskRequest, ask
from multimodal.detect.base import Detection
from multimodal.services import Services
from tests.test_lite_where import CAT, FakeDetector


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "scene.png"
    Image.new("RGB", (200, 100), (90, 120, 150)).save(path)
    return path


def with_detector(monkeypatch, tiny_services, detections) -> None:
    tools = replace(tiny_services.answerer().tools, detector=FakeDetector(detections))
    monkeypatch.setattr(Services, "fact_tools", lambda self: tools)


def test_a_vlm_answer_to_where_is_the_detector_box_with_its_citation(
    tiny_vlm_services, tiny_services, photo, monkeypatch
):
    with_detector(monkeypatch, tiny_services, [Detection(CAT, "cat", 0.9, (10.0, 10.0, 90.0, 60.0))])
    result = ask(tiny_vlm_services, AskRequest("where is the cat?", (photo,)))
    a = result.answer
    assert not a.abstained and a.route == "where:detector"
    assert a.text == "top left, around x=10..89, y=10..59"
    assert a.confidence == pytest.approx(p_real(0.9, CAT), abs=1e-4)
    (cite,) = a.citations
    assert cite.locator == "image:1#box:cat" and cite.boxes == ((10, 10, 90, 60),)


def test_without_a_confident_box_the_vlm_answers_in_its_own_words(tiny_vlm_services, tiny_services, photo, monkeypatch):
    with_detector(monkeypatch, tiny_services, [])
    assert where_direct.answer(tiny_vlm_services, "where is the cat?", [Image.open(photo)], 0.5) is None
    result = ask(tiny_vlm_services, AskRequest("where is the cat?", (photo,)))
    assert not result.answer.route.startswith("where:")


def test_other_questions_and_the_lite_answerer_are_left_alone(tiny_vlm_services, tiny_services, photo, monkeypatch):
    with_detector(monkeypatch, tiny_services, [Detection(CAT, "cat", 0.9, (10.0, 10.0, 90.0, 60.0))])
    img = [Image.open(photo)]
    assert where_direct.answer(tiny_vlm_services, "is there a cat?", img, 0.5) is None
    assert where_direct.answer(tiny_vlm_services, "where is the cat?", [], 0.5) is None
    assert where_direct.answer(tiny_services, "where is the cat?", img, 0.5) is None  # lite routes it itself
