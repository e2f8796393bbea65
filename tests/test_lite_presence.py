"""The lite answerer's presence, people and scene routes (issue 14, items 3, 4, 6) with stand-in region
classifiers and face detectors: oracle checks of the decision rules, the negative-answer rule and the citations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from multimodal.ask.answer_lite import LiteAnswerer
from multimodal.ask.calibration import Calibration, LogisticModel
from multimodal.ask.facts.concepts import load_concepts
from multimodal.ask.facts.faces import Box

GOLDEN_RETRIEVER, TABBY, GROOM = 207, 281, 982


class Regions:
    """Every view sees ``mass`` on the given classes (shared equally), the rest spread evenly."""

    name = "stand-in regions"

    def __init__(self, mass: dict[int, float]) -> None:
        self.mass = mass
        self.calls = 0

    def class_probabilities(self, images, *, padded=False):
        self.calls += 1
        rest = 1.0 - sum(self.mass.values())
        row = np.full(1000, rest / (1000 - len(self.mass)), np.float32)
        for i, m in self.mass.items():
            row[i] = m
        return np.tile(row, (len(images), 1))


class Faces:
    name = "stand-in faces"

    def __init__(self, n: int) -> None:
        self.n = n

    def detect(self, img):
        return [Box(10 * i, 10, 10 * i + 8, 18) for i in range(self.n)]


#: P(present) = sigmoid(2 + 4 log mass (+ 2 faces)): mass 0.9 -> 0.83, 0.5 -> 0.32, 0.3 -> 0.06, 1e-4 -> 0
CAL = Calibration(
    models={
        "presence:concept": LogisticModel(("log_mass_best_region",), (4.0,), 2.0, 100),
        "presence:people": LogisticModel(("log_mass_best_region", "faces"), (4.0, 2.0), 2.0, 100),
    }
)
IMG = Image.new("RGB", (320, 240), (120, 140, 90))


def answer(tiny_services, question, mass, faces=0, calibration=CAL):
    tools = replace(tiny_services.fact_tools(), regions=Regions(mass), faces=Faces(faces))
    return LiteAnswerer(tools, calibration=calibration).answer(question, [IMG], [])


def _people(mass: float) -> dict[int, float]:
    people = load_concepts().people()
    return {i: mass / len(people) for i in people}


def test_concept_yes_cites_its_region(tiny_services):
    a = answer(tiny_services, "Is there a dog in the image?", {GOLDEN_RETRIEVER: 0.9})
    assert (a.text, a.abstained, a.route) == ("yes", False, "presence:concept:yes")
    mass = 0.9 + 117 * 0.1 / 999  # the other 117 dog breeds share the even rest
    assert a.confidence == pytest.approx(1 / (1 + np.exp(-(2 + 4 * np.log(mass + 1e-6)))), abs=1e-3)
    cite = a.citations[0]
    assert cite.locator == "image:1#region:dog" and cite.boxes and "golden retriever" in cite.text
    assert a.signals["log_classes"] == pytest.approx(np.log(118))


def test_concept_no_only_when_precise(tiny_services):
    sure = answer(tiny_services, "Are there dogs?", {TABBY: 0.9})  # the dog classes share the uniform rest
    assert (sure.text, sure.abstained, sure.route) == ("no", False, "presence:concept:no")
    assert sure.confidence >= 0.9
    unsure = answer(tiny_services, "Is there a dog?", {GOLDEN_RETRIEVER: 0.5})  # P = 0.32: "no" at 0.68 < 0.9
    assert unsure.abstained and unsure.route == "presence:concept:no" and unsure.confidence < 0.5
    assert "unlikely" in unsure.detail


def test_negated_question_flips_the_answer(tiny_services):
    a = answer(tiny_services, "Is there not a dog in the image?", {GOLDEN_RETRIEVER: 0.9})
    assert (a.text, a.route) == ("no", "presence:concept:yes")


def test_noun_without_concept_never_says_no(tiny_services):
    a = answer(tiny_services, "Is there a fork?", {GOLDEN_RETRIEVER: 0.9})
    assert a.route.startswith("presence:zeroshot:")
    assert a.abstained or a.text == "yes"


def test_people_and_finer_words(tiny_services):
    yes = answer(tiny_services, "Are there people?", _people(0.9), faces=1)
    assert (yes.text, yes.route) == ("yes", "presence:people:yes")
    assert any(c.locator == "image:1#faces" and len(c.boxes) == 1 for c in yes.citations)
    woman = answer(tiny_services, "Is there a woman?", _people(0.9), faces=1)
    assert woman.abstained and "cannot tell whether any is a woman" in woman.detail
    nobody = answer(tiny_services, "Is there a woman?", _people(1e-4))
    assert (nobody.text, nobody.route, nobody.abstained) == ("no", "presence:people:no", False)


def test_people_count(tiny_services):
    two = answer(tiny_services, "How many people are there?", _people(0.9), faces=2)
    assert (two.text, two.route, two.abstained) == ("2", "count:people", False)
    zero = answer(tiny_services, "How many people are there?", _people(1e-4))
    assert (zero.text, zero.route, zero.abstained) == ("0", "count:people:zero", False)
    uncounted = answer(tiny_services, "How many people are there?", _people(0.9))
    assert uncounted.abstained and "none shows a face" in uncounted.detail
    unsure_zero = answer(tiny_services, "How many people are there?", _people(0.5))  # P = 0.32
    assert unsure_zero.abstained and unsure_zero.route == "count:people:zero"


def test_without_models_raw_drafts_keep_their_signals(tiny_services):
    a = answer(tiny_services, "Is there a dog?", {GOLDEN_RETRIEVER: 0.9}, calibration=Calibration.identity())
    assert a.route == "presence:concept:yes" and set(a.signals) >= {"log_mass_best_region", "log_classes"}
    c = answer(tiny_services, "How many people?", _people(0.9), faces=1, calibration=Calibration.identity())
    assert c.signals["faces"] == 1.0 and c.route == "count:people"


def test_scene_summary_is_marked_and_not_an_answer(tiny_services):
    a = answer(tiny_services, "What is happening in this picture?", {GOLDEN_RETRIEVER: 0.9})
    assert a.abstained and a.confidence == 0.0 and a.route == "describe"
    assert a.text.startswith("Scene summary") and "golden retriever 0.90" in a.text and "colours:" in a.text


def test_identify_within_a_category(tiny_services):
    a = answer(tiny_services, "What animal is this?", {GOLDEN_RETRIEVER: 0.6, TABBY: 0.3})
    assert (a.text, a.route, a.abstained) == ("golden retriever", "identify:category", False)
    assert a.citations[0].boxes


def test_regions_classified_once_per_image(tiny_services):
    regions = Regions({GOLDEN_RETRIEVER: 0.9})
    tools = replace(tiny_services.fact_tools(), regions=regions, faces=Faces(0))
    LiteAnswerer(tools, calibration=CAL).answer("Is there a dog or a cat?", [IMG], [])
    assert regions.calls == 2  # the 13 crops in one call, the padded view in another
