"""The MTCNN face detector: packaged weights load strictly, a known face is found where it is, nothing is found
where there is nothing, odd sizes do not crash; the pure post-processing (Min NMS, pyramid) against brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from multimodal.ask.facts.mtcnn import (
    WEIGHTS_DIR,
    MtcnnConfig,
    MtcnnFaceDetector,
    ONet,
    PNet,
    RNet,
    load_mtcnn,
    nms_min,
    pyramid_scales,
)
from multimodal.errors import ConfigError, ModelUnavailableError
from multimodal.plan import FACE_DETECTORS


@pytest.fixture(scope="module")
def detector() -> MtcnnFaceDetector:
    return MtcnnFaceDetector(load_mtcnn())


@pytest.mark.parametrize(("name", "cls"), [("pnet", PNet), ("rnet", RNet), ("onet", ONet)])
def test_packaged_weights_load_strictly(name, cls):
    state = torch.load(WEIGHTS_DIR / f"{name}.pt", map_location="cpu", weights_only=True)
    net = cls()
    net.load_state_dict(state, strict=True)  # raises on any missing or unexpected key
    assert set(state) == set(net.state_dict())


def test_missing_weights_say_where(tmp_path):
    with pytest.raises(ModelUnavailableError, match="pnet.pt are missing"):
        load_mtcnn(tmp_path)


def test_astronaut_has_one_face_on_her_face(detector):
    # measured: Box(181, 62, 268, 172), P = 0.999998; the original facenet-pytorch gives the same box
    found = detector.detect_scored(Image.fromarray(data.astronaut()))
    assert len(found) == 1
    box, p = found[0]
    assert p > 0.99 and p >= detector.config.min_prob  # so detect() reports it
    assert 170 <= box.left <= 195 and 255 <= box.right <= 280
    assert 50 <= box.top <= 75 and 160 <= box.bottom <= 185


def test_large_image_is_downscaled_and_boxes_come_back_in_its_pixels():
    # a 256-px working side halves the 512-px astronaut; the box must still be in the input's pixels
    small_side = MtcnnFaceDetector(load_mtcnn(), MtcnnConfig(max_side=256))
    (box,) = small_side.detect(Image.fromarray(data.astronaut()))
    assert 165 <= box.left <= 200 and 250 <= box.right <= 285
    assert 45 <= box.top <= 80 and 155 <= box.bottom <= 190


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (128, 128, 128)])
def test_plain_images_have_no_face(detector, colour):
    assert detector.detect(Image.new("RGB", (320, 240), colour)) == []


@pytest.mark.parametrize("size", [(1, 500), (500, 1), (1, 1), (11, 11), (30, 2000), (0, 0)])
def test_odd_sizes_do_not_crash(detector, size):
    assert detector.detect(Image.new("RGB", size, (90, 90, 90))) == []


def test_grey_and_palette_modes_are_accepted(detector):
    astronaut = Image.fromarray(data.astronaut()).resize((128, 128))
    for img in (astronaut.convert("L"), astronaut.convert("P"), astronaut.convert("RGBA")):
        assert isinstance(detector.detect(img), list)


def test_registry_builds_it():
    component = FACE_DETECTORS["mtcnn"]
    built = component.build()
    assert isinstance(built, MtcnnFaceDetector)
    assert component.name == built.name == "MTCNN (facenet-pytorch weights, packaged)"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_face_size", 5, "min_face_size is 5"),
        ("factor", 1.2, "factor is 1.2"),
        ("thresholds", (0.6, 0.7), "three probabilities"),
        ("max_side", 10, "max_side is 10"),
        ("min_prob", 1.5, "min_prob is 1.5"),
    ],
)
def test_config_is_validated(field, value, message):
    with pytest.raises(ConfigError, match=message):
        MtcnnConfig(**{field: value})


def test_nms_min_against_brute_force():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (40, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (40, 2))], axis=1).astype(np.float32)
    scores = rng.permutation(40).astype(np.float32)
    keep = list(nms_min(boxes, scores, 0.7))

    def overlap_min(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
        area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
        return iw * ih / min(area(a), area(b))

    expected = []
    for i in np.argsort(-scores):
        if all(overlap_min(boxes[i], boxes[j]) <= 0.7 for j in expected):
            expected.append(i)
    assert keep == expected


def test_pyramid_scales():
    scales = pyramid_scales(480, 640, 20, 0.709)
    assert scales[0] == pytest.approx(0.6)
    assert all(b / a == pytest.approx(0.709) for a, b in zip(scales, scales[1:]))
    assert 480 * scales[-1] >= 12 > 480 * scales[-1] * 0.709
    assert pyramid_scales(10, 500, 20, 0.709) == []
