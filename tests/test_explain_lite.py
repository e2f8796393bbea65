"""The lite explainer on a real photo with packaged weights (slow): the cat pasted into one side of a grey canvas
is where the heatmap points and where locate boxes it (an oracle: we put it there)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from multimodal.explain.boxes import iou


@pytest.mark.slow
def test_lite_heatmap_finds_the_pasted_cat(lite_services, photos):
    from multimodal.explain.api import locate
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets

    canvas = Image.new("RGB", (900, 450), (128, 128, 128))
    canvas.paste(photos["cat"].resize((400, 266)), (480, 100))  # the cat: x 480..880, y 100..366
    explainer = create_explainer(lite_services.encoder)
    targets, sources = phrase_targets(lite_services.encoder, lite_services.zeroshot, ["cat", "a bright cloud"])
    assert sources[0] == "concepts:cat" and sources[1] == "text"
    assert np.allclose(np.linalg.norm(targets, axis=1), 1.0, atol=1e-5)
    found = locate(explainer, canvas, "cat", targets[0])
    x, y = found.explanation.peak
    assert 480 <= x < 880 and 100 <= y < 366
    b = found.boxes[0]
    assert iou((b.x0, b.y0, b.x1, b.y1), (480, 100, 880, 366)) > 0.3
    assert found.description.startswith("right")
    assert found.method == "heatmap" and found.explanation.heatmap.shape == (450, 900)
    assert found.explanation.method == "gradcam:bn2*hirescam:blocks.4:logit"


@pytest.mark.slow
def test_locate_with_the_packaged_detector_boxes_the_pasted_cat(lite_services, photos):
    """The detector answers "where is the cat?" (a COCO category) with a box on the pasted cat; a phrase it has
    no category for still gets heatmap boxes."""
    from multimodal.explain.api import locate
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets
    from multimodal.explain.where import detector_for

    canvas = Image.new("RGB", (900, 450), (128, 128, 128))
    canvas.paste(photos["cat"].resize((400, 266)), (480, 100))
    explainer = create_explainer(lite_services.encoder)
    detector = detector_for(lite_services)
    targets, _ = phrase_targets(lite_services.encoder, lite_services.zeroshot, ["the cat", "a tabby"])
    found = locate(explainer, canvas, "the cat", targets[0], detector=detector)
    assert found.method == "detector" and found.explanation is None and "cat" in found.source
    b = found.boxes[0]
    assert iou((b.x0, b.y0, b.x1, b.y1), (480, 100, 880, 366)) > 0.5
    other = locate(explainer, canvas, "a tabby", targets[1], detector=detector)
    assert other.method == "heatmap" and other.explanation is not None
