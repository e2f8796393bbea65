"""The lite answerer's detector routes (issue 14): presence and counts of COCO categories from a stand-in
detector; oracle checks of the count, the exactness estimate, the route keys and the citations."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from PIL import Image

from multimodal.ask import lite_objects
from multimodal.ask.answer_lite import LiteAnswerer
from multimodal.ask.calibration import Calibration, LogisticModel, PiecewiseMap
from multimodal.detect.base import Detection
from multimodal.detect.coco_names import COCO_NAMES

IMG = Image.new("RGB", (320, 240), (120, 140, 90))


def det(label: str, score: float, x: int = 10) -> Detection:
    return Detection(COCO_NAMES.index(label), label, score, (x, 20.0, x + 40.0, 120.0))


class Dets:
    name = "stand-in detector"

    def __init__(self, dets: list[Detection]) -> None:
        self.dets = dets
        self.calls = 0

    def detect(self, img):
        self.calls += 1
        return list(self.dets)


def answer(tiny_services, question, dets, calibration=None, threshold=0.5):
    """The lite answer; ``threshold`` 0 shows every count (raw confidences are low without fitted maps)."""
    tools = replace(tiny_services.fact_tools(), detector=Dets(dets))
    cal = calibration or Calibration.identity()
    return LiteAnswerer(tools, threshold=threshold, calibration=cal).answer(question, [IMG], [])


def test_exact_count_probability_oracle():
    maps = lite_objects.score_maps()
    assert set(maps) == {"person", "object"}

    def real(s):  # P(real | score), kept off 0 and 1 as the estimate does
        return min(max(maps["person"](s), 1e-4), 1 - 1e-4)

    scores = [0.9, 0.5, 0.2, 0.01]  # 0.01 is below MIN_CONSIDERED: ignored
    want = real(0.9) * real(0.5) * (1 - real(0.2))
    assert lite_objects.exact_count_probability(scores, 0.35) == pytest.approx(want, rel=1e-6)
    assert lite_objects.exact_count_probability([], 0.35) == 1.0


def test_people_count_is_the_detections_over_the_threshold(tiny_services):
    dets = [det("person", 0.8, 10), det("person", 0.5, 60), det("person", 0.2, 110), det("dog", 0.9, 200)]
    a = answer(tiny_services, "How many people are there?", dets, threshold=0.0)
    assert (a.text, a.route) == ("2", "count:people:detector")
    assert a.signals["det_n"] == 2.0
    cite = next(c for c in a.citations if c.locator == "image:1#objects:person")
    assert len(cite.boxes) == 2 and "2 'person' at score >= 0.35" in cite.text


def test_zero_people_is_a_negative_key(tiny_services):
    a = answer(tiny_services, "How many people are in the picture?", [det("dog", 0.9)], threshold=0.0)
    assert (a.text, a.route) == ("0", "count:people:detector:zero")


def test_zero_without_a_measured_map_abstains(tiny_services):
    cal = Calibration(maps={"count:people:detector": PiecewiseMap((0.0, 1.0), (0.0, 1.0), 50)})
    a = answer(tiny_services, "How many people are there?", [det("dog", 0.9)], calibration=cal)
    assert a.abstained and a.confidence <= 0.45  # no map for the :zero key: its precision was never measured


def test_finer_person_word_is_not_answered_with_all_people(tiny_services):
    a = answer(tiny_services, "How many women are there?", [det("person", 0.9), det("person", 0.8, 80)])
    assert a.abstained and a.route == "count:person-type"
    assert "2 people detected" in a.detail and "women" in a.detail


def test_other_category_count_and_synonym(tiny_services):
    dets = [det("couch", 0.6), det("couch", 0.3, 100), det("couch", 0.1, 200)]
    a = answer(tiny_services, "How many sofas are there?", dets, threshold=0.0)
    assert (a.text, a.route) == ("2", "count:object")  # 0.1 < OBJECT_COUNT_THRESHOLD 0.15


def test_presence_uses_the_fitted_model(tiny_services):
    model = LogisticModel(("det_max", "det_n"), (10.0, 0.0), -3.0, 100)  # P = sigmoid(10 s - 3)
    cal = Calibration(models={"presence:object": model})
    yes = answer(tiny_services, "Is there a dog in the image?", [det("dog", 0.7)], calibration=cal)
    assert (yes.text, yes.route) == ("yes", "presence:object:yes")
    assert yes.confidence == pytest.approx(1 / (1 + math.exp(-4.0)), abs=1e-3)
    no = answer(tiny_services, "Are there any dogs?", [det("cat", 0.9)], calibration=cal)
    assert (no.text, no.route) == ("no", "presence:object:no")
    assert no.confidence == pytest.approx(1 - 1 / (1 + math.exp(3.0)), abs=1e-3)  # 0.953 >= 0.9: answered
    weak = answer(tiny_services, "Is there a dog?", [det("dog", 0.2)], calibration=cal)
    assert weak.abstained  # P(present) = 0.27: "no" at 0.73 is below the 0.9 precision rule


def test_nouns_the_detector_does_not_name_fall_through(tiny_services):
    stand_in = Dets([det("dog", 0.9)])
    tools = replace(tiny_services.fact_tools(), detector=stand_in)
    a = LiteAnswerer(tools, calibration=Calibration.identity()).answer("Is there a volcano?", [IMG], [])
    assert not a.route.startswith("presence:object")


def test_detections_computed_once_per_image(tiny_services):
    stand_in = Dets([det("person", 0.9)])
    tools = replace(tiny_services.fact_tools(), detector=stand_in)
    LiteAnswerer(tools, calibration=Calibration.identity()).answer("How many people are there?", [IMG], [])
    assert stand_in.calls == 1
