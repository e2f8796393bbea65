"""Question routing (pure): every easy-vqa phrasing and the everyday forms the lite answerer handles."""

from __future__ import annotations

import pytest

from multimodal.ask.questions import parse_question
from multimodal.errors import ConfigError, EmptyInputError


@pytest.mark.parametrize(
    ("text", "kind", "subject", "negated"),
    [
        ("is no red shape present?", "presence", "red shape", True),
        ("does the image not contain a circle shape?", "presence", "circle shape", True),
        ("is there not a triangle in the image?", "presence", "triangle", True),
        ("is there a blue rectangle?", "presence", "blue rectangle", False),
        ("does the image contain a gray shape?", "presence", "gray shape", False),
        ("is a teal circle present?", "presence", "teal circle", False),
        ("Is there a cat in the picture?", "presence", "cat", False),
        ("what color is the shape?", "colour", "shape", False),
        ("What colour is the car?", "colour", "car", False),
        ("what is the color of the triangle?", "colour", "triangle", False),
        ("what shape is in the image?", "shape", "", False),
        ("what is the red shape?", "shape", "red", False),
        ("how many people are there?", "count", "people", False),
        ("how many circles?", "count", "circles", False),
        ("what does the sign say?", "text", "", False),
        ("read the text", "text", "", False),
        ("what is this?", "identify", "", False),
        ("is the seal on this valve intact?", "open", "", False),
        ("when was valve 3 inspected?", "open", "", False),
    ],
)
def test_routes(text, kind, subject, negated):
    q = parse_question(text)
    assert (q.kind, q.subject, q.negated) == (kind, subject, negated)


def test_bad_questions():
    with pytest.raises(EmptyInputError, match="the question is empty"):
        parse_question("   ")
    with pytest.raises(ConfigError, match="1001 characters; the limit is 1000"):
        parse_question("x" * 1001)
