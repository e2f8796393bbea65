"""Where is the X?: the detector answers for COCO categories it finds (score >= 0.15), the heatmap otherwise;
the method is said. A scripted detector stands in for CenterNet (the real one is tested in test_detect.py).
Also: Grad-CAM hooks leave other threads' forwards through the shared model alone."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from multimodal.detect.base import Detection
from multimodal.explain.api import locate
from multimodal.explain.where import WhereConfig, detector_boxes, phrase_category
from tests.test_explain import RedBlueNet, _red_square_image, red_blue_explainer


class ScriptedDetector:
    def __init__(self, detections):
        self.detections, self.calls = detections, 0

    def detect(self, img):
        self.calls += 1
        return list(self.detections)


def _explainer():
    return red_blue_explainer()


RED = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
DOGS = [
    Detection(16, "dog", 0.9, (10.4, 20.6, 50.2, 60.9)),
    Detection(16, "dog", 0.12, (70.0, 5.0, 90.0, 30.0)),  # under 0.15: ignored
    Detection(15, "cat", 0.95, (0.0, 0.0, 128.0, 96.0)),  # another category
    Detection(16, "dog", 0.3, (-5.0, 50.0, 140.0, 99.0)),  # outside the image: clipped
]


def test_detector_boxes_filter_order_clip_and_share():
    boxes = detector_boxes(DOGS, 16, (128, 96), min_score=0.15, max_boxes=3)
    assert [(b.x0, b.y0, b.x1, b.y1) for b in boxes] == [(10, 20, 50, 61), (0, 50, 128, 96)]
    assert [b.score for b in boxes] == [pytest.approx(0.9), pytest.approx(0.3)]
    assert sum(b.mass for b in boxes) == pytest.approx(1.0) and boxes[0].mass == pytest.approx(0.75)
    assert detector_boxes(DOGS, 16, (128, 96), min_score=0.15, max_boxes=1)[0].score == pytest.approx(0.9)
    assert detector_boxes(DOGS, 2, (128, 96), min_score=0.15, max_boxes=3) == []


def test_phrase_category_names_coco_categories_only():
    assert phrase_category("the dogs") == 16 and phrase_category("a wine glass") == 40
    assert phrase_category("a red square") is None


def test_locate_uses_the_detector_for_a_coco_category_it_finds():
    det = ScriptedDetector(DOGS)
    found = locate(_explainer(), _red_square_image(), "the dog", RED, detector=det)
    assert det.calls == 1 and found.method == "detector" and found.explanation is None
    assert "dog" in found.source and (found.boxes[0].x0, found.boxes[0].y0) == (10, 20)
    assert found.description == "left half, around x=10..49, y=20..60"
    row = found.as_dict()
    assert row["method"] == "detector" and row["boxes"][0]["box"] == [10, 20, 50, 61] and row["score"] is None


@pytest.mark.parametrize(
    "phrase, detections, config, calls",
    [
        ("red", DOGS, WhereConfig(), 0),  # not a COCO category: the detector is not run
        ("the dog", DOGS[1:2], WhereConfig(), 1),  # only a weak dog: the heatmap answers
        ("a bus", DOGS, WhereConfig(), 1),  # a COCO category the detector did not find
        ("the dog", DOGS, WhereConfig(use_detector=False), 0),
    ],
)
def test_locate_falls_back_to_the_heatmap(phrase, detections, config, calls):
    det = ScriptedDetector(detections)
    found = locate(_explainer(), _red_square_image(), phrase, RED, detector=det, where=config)
    assert det.calls == calls and found.method == "heatmap" and found.explanation is not None
    assert found.source.startswith("gradcam:conv_head*hirescam:stem")
    x, y = found.explanation.peak
    assert 80 <= x < 112 and 16 <= y < 48  # the red square, as without a detector


def test_where_config_checks_the_score():
    from multimodal.errors import ConfigError

    with pytest.raises(ConfigError, match="min_detector_score must be in"):
        WhereConfig(min_detector_score=1.5)


def test_hooks_leave_other_threads_forwards_alone():
    """While an explanation's hooks are on the model, a plain forward on another thread (a server's embedding
    worker) gets its normal output and no autograd graph, and the explanation is what it is alone."""
    import torch

    from multimodal.explain.gradcam import activations_and_gradients

    net = RedBlueNet()
    x = torch.from_numpy(np.asarray(_red_square_image(), np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        expected = net.forward_head(net.forward_features(x))
    seen = {}

    def other_thread():
        with torch.inference_mode():
            seen["out"] = net.forward_head(net.forward_features(x))

    def score(inp):
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        return net.forward_head(net.forward_features(inp))[0, 0]

    layers = [net.stem, net.conv_head]
    acts, grads, value = activations_and_gradients(score, x, layers)
    alone = activations_and_gradients(lambda inp: net.forward_head(net.forward_features(inp))[0, 0], x, layers)
    torch.testing.assert_close(seen["out"], expected)
    assert not seen["out"].requires_grad
    assert value == pytest.approx(alone[2])
    for g, g_alone in zip(grads, alone[1]):
        torch.testing.assert_close(g, g_alone)
    assert [a.shape[-2:] for a in acts] == [(96, 128), (48, 64)]


def test_a_layer_that_does_not_run_is_named():
    import torch

    from multimodal.errors import ConfigError
    from multimodal.explain.gradcam import activations_and_gradients

    net = RedBlueNet()
    unused = torch.nn.Conv2d(3, 3, 1)
    x = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ConfigError, match=r"layers \['Conv2d'\] did not run"):
        activations_and_gradients(lambda inp: net.forward_head(net.forward_features(inp))[0, 0], x, [net.stem, unused])


def test_overlay_of_a_detector_answer_draws_boxes_on_the_image():
    from multimodal.explain.render import located_overlay

    found = locate(_explainer(), _red_square_image(), "dog", RED, detector=ScriptedDetector(DOGS))
    img = located_overlay(_red_square_image(), found)
    assert img.size == (128, 96)
    a = np.asarray(img)
    assert (a[20, 30] == 255).all() or (a[20, 30] == 0).all()  # on the first box's top edge
    assert (a[80, 100] == np.asarray(_red_square_image())[80, 100]).all()  # no heat anywhere
    assert isinstance(img, Image.Image)
