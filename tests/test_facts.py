"""Scene facts: colour naming, objects on plain backgrounds, face counting, OCR (slow)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from multimodal.ask.facts.colours import dominant_colours, name_colour
from multimodal.ask.facts.faces import Box, CascadeFaceDetector, merge_boxes
from multimodal.ask.facts.objects import find_objects


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((250, 10, 10), "red"),
        ((0, 128, 128), "teal"),
        ((120, 120, 120), "gray"),
        ((20, 20, 20), "black"),
        ((30, 60, 210), "blue"),
        ((139, 69, 19), "brown"),
        ((250, 240, 50), "yellow"),
        ((30, 170, 50), "green"),
    ],
)
def test_colour_names(rgb, name):
    got, conf = name_colour(rgb)
    assert got == name and 0.0 < conf <= 1.0


def test_dominant_colours_by_share():
    px = np.array([[255, 0, 0]] * 75 + [[0, 0, 255]] * 25, np.uint8)
    got = dominant_colours(px)
    assert [n for n, _ in got] == ["red", "blue"] and got[0][1] == pytest.approx(0.75)


def draw(shape: str, colour=(220, 30, 30), bg=(245, 245, 240), size=128) -> Image.Image:
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    if shape == "circle":
        d.ellipse((30, 30, 90, 90), fill=colour)
    elif shape == "rectangle":
        d.rectangle((20, 40, 100, 80), fill=colour)
    elif shape == "triangle":
        d.polygon([(64, 20), (20, 100), (108, 100)], fill=colour)
    elif shape == "diamond":
        d.polygon([(64, 14), (114, 64), (64, 114), (14, 64)], fill=colour)
    return img


@pytest.mark.parametrize(
    ("shape", "expected"),
    [("circle", "circle"), ("rectangle", "rectangle"), ("triangle", "triangle"), ("diamond", "rectangle")],
)
def test_shapes_on_plain_backgrounds(shape, expected):
    objs = find_objects(draw(shape))
    assert len(objs) == 1 and objs[0].shape == expected and objs[0].colour == "red"
    assert objs[0].shape_confidence > 0.5


def test_two_objects_and_a_busy_background():
    img = draw("circle")
    ImageDraw.Draw(img).rectangle((100, 5, 124, 20), fill=(30, 60, 210))
    objs = find_objects(img)
    assert [(o.shape, o.colour) for o in objs] == [("circle", "red"), ("rectangle", "blue")]
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 96, 3), np.uint8))
    assert find_objects(noise) == []


def test_merge_boxes():
    boxes = [Box(10, 10, 50, 50), Box(12, 12, 52, 52), Box(200, 200, 240, 240)]
    assert len(merge_boxes(boxes)) == 2
    assert merge_boxes(boxes, min_hits=2) == [Box(11, 11, 51, 51)]


def test_faces_in_package_photos(photos):
    detector = CascadeFaceDetector()
    assert len(detector.detect(photos["astronaut"])) == 1
    assert detector.detect(photos["cat"]) == [] and detector.detect(photos["coffee"]) == []


@pytest.mark.slow
def test_ocr_reads_a_printed_page():
    from skimage import data

    from multimodal.ask.facts.ocr import RapidOcrReader

    lines = RapidOcrReader().read(Image.fromarray(data.page()))
    text = " ".join(t.text for t in lines).lower()
    assert "markers" in text and "background" in text
    assert all(0.0 <= t.confidence <= 1.0 for t in lines)
