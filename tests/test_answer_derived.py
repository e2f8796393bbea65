"""Derived evidence is a field of the answer, and citing a fact has no side effect (issue 13, item 4)."""

from __future__ import annotations

from PIL import Image, ImageDraw

from multimodal.ask.answers import Evidence
from multimodal.ask.pipeline import AskRequest, ask
from multimodal.ask.scene_facts import SceneFacts


def red_circle() -> Image.Image:
    img = Image.new("RGB", (96, 96), (245, 245, 240))
    ImageDraw.Draw(img).ellipse((20, 20, 76, 76), fill=(220, 30, 30))
    return img


def test_cite_is_pure(tiny_services):
    facts = SceneFacts(red_circle(), 1, tiny_services.fact_tools())
    first = facts.cite("object1", "a red circle", 0.9)
    assert first == Evidence("image", "image:1#object1", "a red circle", 0.9)
    assert facts.cite("object1", "a red circle", 0.9) == first and not hasattr(facts, "evidence")


def test_answers_carry_the_facts_they_rest_on(tiny_services):
    given = [Evidence("image", "image:1", "circle.png")]
    answer = tiny_services.answerer().answer("what color is the circle?", [red_circle()], given)
    assert answer.text == "red" and answer.derived
    assert all(e.locator.startswith("image:1#") for e in answer.derived)
    assert set(answer.citations) <= set(given) | set(answer.derived)
    result = ask(tiny_services, AskRequest("what color is the circle?", (red_circle(),), ("circle.png",)))
    assert [e.locator for e in result.evidence][:1] == ["image:1"]
    assert {e.locator for e in answer.derived} <= {e.locator for e in result.evidence}
