"""multimodal.explain: pure pre/post-processing (golden cases), Grad-CAM on a CNN whose evidence is known (oracle),
and the ViT explainer through the tiny twin (invariants, brute-force patch similarity)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from multimodal.errors import ConfigError, EmptyInputError
from multimodal.explain.api import capped, explain_targets, locate, slug
from multimodal.explain.base import ExplainConfig, InvalidPhraseError, check_phrase
from multimodal.explain.boxes import Box, boxes_from_heatmap, describe, iou
from multimodal.explain.post import normalise, to_image
from multimodal.explain.prep import letterbox, thin_note
from multimodal.explain.render import colour_ramp, overlay

# ---- pure parts ---------------------------------------------------------------------------------------


def test_letterbox_keeps_aspect_pads_with_zero_and_records_the_content():
    img = Image.new("RGB", (200, 100), (255, 255, 255))
    p = letterbox(img, long_side=64, min_side=48, mean=(0.5,) * 3, std=(0.5,) * 3)
    assert p.pixels.shape == (48, 64, 3) and p.pixels.dtype == np.float32
    assert p.content == (0, 8, 64, 40) and p.size == (200, 100)
    assert np.allclose(p.pixels[8:40], 1.0) and np.all(p.pixels[:8] == 0) and np.all(p.pixels[40:] == 0)
    sq = letterbox(img, long_side=32, min_side=32, mean=(0.5,) * 3, std=(0.5,) * 3, square=True)
    assert sq.pixels.shape == (32, 32, 3) and sq.content == (0, 8, 32, 24)


def test_letterbox_of_a_1xN_strip_and_an_alpha_image():
    strip = letterbox(Image.new("RGB", (500, 1)), long_side=64, min_side=32, mean=(0,) * 3, std=(1,) * 3)
    assert strip.pixels.shape == (32, 64, 3) and strip.content[3] - strip.content[1] == 1
    assert thin_note((500, 1), 32) and thin_note((64, 64), 32) is None
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red: white once composited
    p = letterbox(rgba, long_side=10, min_side=10, mean=(0,) * 3, std=(1,) * 3)
    assert np.allclose(p.pixels, 1.0)


def test_normalise_scales_and_names_flat_maps():
    heat, reason = normalise(np.array([[0.0, 2.0], [1.0, 0.5]]))
    assert reason is None and heat.dtype == np.float32
    np.testing.assert_allclose(heat, [[0.0, 1.0], [0.5, 0.25]])
    heat, reason = normalise(np.array([[-1.0, 1.0], [0.0, 0.0]]))  # similarities: min-max
    np.testing.assert_allclose(heat, [[0.0, 1.0], [0.5, 0.5]])
    assert "zero everywhere" in normalise(np.zeros((3, 3)))[1]
    assert "uniform" in normalise(np.full((3, 3), -0.2))[1]
    assert "NaN" in normalise(np.array([[np.nan, 1.0]]))[1]
    with pytest.raises(ConfigError, match="2-D"):
        normalise(np.zeros(4))


def test_to_image_crops_the_padding_and_resizes():
    grid = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)  # right half hot
    out = to_image(grid, (4, 4), (0, 0, 4, 4), (40, 20))
    assert out.shape == (20, 40) and out.dtype == np.float32
    assert out[:, :10].max() < 0.3 and out[:, 30:].min() > 0.7
    top = to_image(np.array([[1.0, 1.0], [0.0, 0.0]], np.float32), (4, 4), (0, 0, 4, 2), (8, 4))
    assert top.min() > 0.7  # only the top rows (the content) survive the crop
    with pytest.raises(ConfigError, match="inside an input"):
        to_image(grid, (4, 4), (0, 0, 5, 4), (4, 4))


def test_boxes_golden_two_blobs_ordered_by_evidence():
    heat = np.zeros((50, 100), np.float32)
    heat[10:20, 10:30] = 1.0  # 200 px at 1.0
    heat[30:45, 60:90] = 0.8  # 450 px at 0.8: more evidence
    boxes = boxes_from_heatmap(heat, threshold=0.5, min_area=0.0)
    assert [(b.x0, b.y0, b.x1, b.y1) for b in boxes] == [(60, 30, 90, 45), (10, 10, 30, 20)]
    assert boxes[0].score == pytest.approx(0.8) and boxes[1].score == pytest.approx(1.0)
    assert sum(b.mass for b in boxes) == pytest.approx(1.0)
    only = boxes_from_heatmap(heat, threshold=0.9, min_area=0.0)  # only the peak blob
    assert [(b.x0, b.y0, b.x1, b.y1, b.mass) for b in only] == [(10, 10, 30, 20, 1.0)]
    assert boxes_from_heatmap(np.zeros((5, 5)), threshold=0.5) == []
    speck = heat.copy()
    speck[0, 0] = 0.9
    assert len(boxes_from_heatmap(speck, threshold=0.5, min_area=0.01)) == 2  # the 1-px speck is dropped


def test_describe_and_iou_golden():
    assert describe(Box(120, 150, 301, 331, 1.0, 1.0), (640, 480)) == "left half, around x=120..300, y=150..330"
    assert describe(Box(120, 80, 301, 261, 1.0, 1.0), (640, 480)) == "top left, around x=120..300, y=80..260"
    assert describe(Box(500, 10, 600, 60, 1.0, 1.0), (640, 480)).startswith("top right,")
    assert describe(Box(0, 0, 640, 480, 1.0, 1.0), (640, 480)).startswith("most of the image")
    assert describe(Box(300, 200, 340, 280, 1.0, 1.0), (640, 480)).startswith("centre,")
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_overlay_shape_dtype_and_zero_heat_keeps_the_image():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8))
    same = overlay(img, np.zeros((30, 40), np.float32))
    assert same.mode == "RGB" and same.size == (40, 30)
    assert np.array_equal(np.asarray(same), np.asarray(img))
    hot = overlay(img, np.ones((30, 40), np.float32), [Box(5, 5, 20, 20, 1.0, 1.0)])
    assert not np.array_equal(np.asarray(hot), np.asarray(img))
    assert colour_ramp(np.array([[0.0, 1.0]])).tolist() == [[[0, 0, 128], [255, 0, 0]]]
    with pytest.raises(ConfigError, match="does not match"):
        overlay(img, np.zeros((40, 30), np.float32))


def test_phrases_of_0_and_500_characters_are_refused():
    assert check_phrase("  the   red car ") == "the red car"
    with pytest.raises(EmptyInputError, match="phrase is empty"):
        check_phrase("   ")
    with pytest.raises(InvalidPhraseError, match="500 characters; at most 200"):
        check_phrase("x" * 500)
    with pytest.raises(InvalidPhraseError, match="no letter or digit"):
        check_phrase("?!")


def test_cap_on_explanations_is_said():
    assert capped(3, ExplainConfig(max_explanations=8), "hits") == (3, None)
    keep, note = capped(100, ExplainConfig(max_explanations=8), "hits")
    assert keep == 8 and "explained 8 of 100 hits" in note
    assert slug("A cup of coffee!") == "a-cup-of-coffee" and slug("???") == "label"


# ---- Grad-CAM oracle: a CNN whose only evidence for class 0 is red ----------------------------------------


class RedBlueNet:
    """timm-style: ``stem`` (identity, full resolution), 2x2 average pooling, then ``conv_head`` maps RGB to
    (red-ness, blue-ness) at half resolution; logits are their spatial means."""

    def __new__(cls):
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = torch.nn.Conv2d(3, 3, kernel_size=1, bias=False)
                self.conv_head = torch.nn.Conv2d(3, 2, kernel_size=1, bias=False)
                self.fc = torch.nn.Identity()
                with torch.no_grad():
                    self.stem.weight[:, :, 0, 0] = torch.eye(3)
                    self.conv_head.weight[:, :, 0, 0] = torch.tensor([[1.0, -0.5, -0.5], [-0.5, -0.5, 1.0]])

            def forward_features(self, x):
                return self.conv_head(torch.nn.functional.avg_pool2d(self.stem(x), 2))

            def forward_head(self, f, pre_logits=False):
                return self.fc(torch.relu(f).mean(dim=(2, 3)))

            def get_classifier(self):
                return self.fc

        return Net().eval()


def red_blue_explainer(layer="conv_head", detail_layer="stem", long_side=64, score="logit"):
    """Grad-CAM over :class:`RedBlueNet` (2 concepts + 2 visual dims, as lite's embedding is laid out)."""
    from multimodal.explain.lite import CnnExplainConfig, CnnExplainer

    config = CnnExplainConfig(layer=layer, detail_layer=detail_layer, long_side=long_side, score=score)
    return CnnExplainer(RedBlueNet(), num_concepts=2, visual_dim=2, temperature=1.0, semantic_weight=0.5, config=config)


def _red_square_image() -> Image.Image:
    a = np.full((96, 128, 3), 128, np.uint8)
    a[16:48, 80:112] = (255, 0, 0)
    return Image.fromarray(a)


@pytest.mark.parametrize("score, detail", [("logit", None), ("cosine", None), ("logprob", None), ("logit", "stem")])
def test_gradcam_points_at_the_red_square(score, detail):
    ex = red_blue_explainer(detail_layer=detail, score=score)
    assert ex.name == f"gradcam:conv_head{'*hirescam:stem' if detail else ''}:{score}"
    red = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
    exp = ex.explain(ex.prepare(_red_square_image()), red)
    assert exp.heatmap.shape == (96, 128) and exp.heatmap.dtype == np.float32
    assert 0.0 <= exp.heatmap.min() and exp.heatmap.max() == pytest.approx(1.0)
    x, y = exp.peak
    assert 80 <= x < 112 and 16 <= y < 48
    assert exp.heatmap[60:, :60].max() < 0.05  # far from the square: nothing
    found = locate(ex, _red_square_image(), "red", red, ExplainConfig(box_threshold=0.5))
    b = found.boxes[0]
    assert iou((b.x0, b.y0, b.x1, b.y1), (80, 16, 112, 48)) > 0.5
    assert found.description.startswith("top right")


def test_gradcam_flat_when_the_class_has_no_evidence():
    ex = red_blue_explainer()
    blue = np.array([0.0, 1.0, 0.0, 0.0], np.float32)  # no blue anywhere
    exp = ex.explain(ex.prepare(_red_square_image()), blue)
    assert exp.flat and "zero everywhere" in exp.reason and exp.peak is None
    assert exp.heatmap.shape == (96, 128) and not exp.heatmap.any()
    located = locate(ex, _red_square_image(), "blue", blue)
    assert located.boxes == () and located.description.startswith("not found")
    with pytest.raises(ConfigError, match="target has dim 3"):
        ex.explain(ex.prepare(_red_square_image()), np.ones(3))


def test_unknown_layer_lists_the_known_ones():
    from multimodal.errors import UnknownNameError
    from multimodal.explain.lite import CnnExplainConfig, CnnExplainer

    for config, bad in (
        (CnnExplainConfig(layer="blocks.9"), "blocks.9"),
        (CnnExplainConfig(layer="conv_head"), "blocks.4"),
    ):
        with pytest.raises(UnknownNameError, match=f"layer '{bad}' not found.*conv_head"):
            CnnExplainer(
                RedBlueNet(), num_concepts=2, visual_dim=2, temperature=1.0, semantic_weight=0.5, config=config
            )


def test_fuse_geometric_oracle_and_flat_cases():
    from multimodal.explain.post import fuse_geometric

    coarse = np.array([[0.0, 2.0], [1.0, 0.0]], np.float32)  # scaled to [[0, 1], [.5, 0]]
    fine = np.zeros((4, 4), np.float32)
    fine[0, 3], fine[3, 0] = 1.0, 4.0  # scaled: 0.25 top right, 1.0 bottom left
    fused = fuse_geometric(coarse, fine)
    assert fused.shape == (4, 4) and fused.dtype == np.float32
    from multimodal.explain.post import _resize

    up = _resize(np.array([[0.0, 1.0], [0.5, 0.0]], np.float32), (4, 4))
    expected = np.sqrt(np.maximum(up, 1e-6) * np.maximum(fine / 4.0, 1e-6))
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-7)
    assert np.unravel_index(np.argmax(fused), fused.shape) == (3, 0)  # both maps agree there more than at (0, 3)
    np.testing.assert_allclose(fuse_geometric(coarse, np.zeros((4, 4))), up, rtol=1e-6)  # flat detail: coarse only
    assert not fuse_geometric(np.zeros((2, 2)), fine).any()  # flat class evidence stays flat


# ---- the ViT explainer through the tiny twin -------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_clip(cpu32, options):
    from multimodal.encoders.factory import create_encoder

    return create_encoder("tiny:open_clip", cpu32, options)


@pytest.mark.parametrize("method", ["gradcam", "similarity"])
def test_vit_heatmap_invariants_through_the_factory(tiny_clip, method):
    from multimodal.explain.factory import ExplainerOptions, create_explainer
    from multimodal.explain.vit import VitExplainConfig

    ex = create_explainer(tiny_clip, ExplainerOptions(vit=VitExplainConfig(method=method)))
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (50, 70, 3), dtype=np.uint8))
    target = tiny_clip.embed_texts(["a photo of a cat"])[0]
    exps, note = explain_targets(ex, img, np.stack([target, -target]))
    assert note is None and len(exps) == 2
    for e in exps:
        assert e.heatmap.shape == (50, 70) and e.heatmap.dtype == np.float32
        assert np.all(np.isfinite(e.heatmap)) and 0.0 <= e.heatmap.min() and e.heatmap.max() <= 1.0
        assert e.flat or e.heatmap.max() == pytest.approx(1.0)
    again = ex.explain(ex.prepare(img), target)
    np.testing.assert_allclose(again.heatmap, exps[0].heatmap, atol=1e-6)  # deterministic
    assert exps[0].score == pytest.approx(float(tiny_clip.embed_images([img])[0] @ target), abs=0.05)


def test_vit_patch_similarity_matches_brute_force(tiny_clip):
    import torch

    from multimodal.explain.vit import VitExplainConfig, VitExplainer

    model = tiny_clip._model
    ex = VitExplainer(model, VitExplainConfig(method="similarity"))
    img = Image.fromarray(np.random.default_rng(2).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    target = tiny_clip.embed_texts(["a dog"])[0]
    prepared = ex.prepare(img)
    v = model.visual
    with torch.no_grad():  # brute force: every patch token, one at a time, through ln_post and proj
        x = torch.from_numpy(prepared.pixels).permute(2, 0, 1)[None]
        x = v.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([v.class_embedding.expand(1, 1, -1), x], dim=1) + v.positional_embedding
        tokens = v.transformer(v.ln_pre(x))
        sims = [
            float(torch.nn.functional.normalize(v.ln_post(tokens[0, i]) @ v.proj, dim=0) @ torch.from_numpy(target))
            for i in range(1, tokens.shape[1])
        ]
    expect, _ = normalise(to_image(np.array(sims, np.float32).reshape(ex.grid), (32, 32), prepared.content, (32, 32)))
    np.testing.assert_allclose(ex.explain(prepared, target).heatmap, expect, atol=1e-4)


def test_vit_strip_and_alpha_images(tiny_clip):
    from multimodal.explain.factory import create_explainer

    ex = create_explainer(tiny_clip)
    target = tiny_clip.embed_texts(["a cat"])[0]
    strip = ex.explain(ex.prepare(Image.new("RGB", (300, 1), (200, 30, 30))), target)
    assert strip.heatmap.shape == (1, 300) and any("thin strip" in n for n in strip.notes)
    rgba = Image.new("RGBA", (40, 30), (0, 0, 255, 128))
    assert ex.explain(ex.prepare(rgba), target).heatmap.shape == (30, 40)


def test_hf_encoders_are_refused_with_the_supported_list():
    from multimodal.explain.factory import create_explainer

    class Fake:
        spec = "hf:openai/clip-vit-base-patch32"

        class info:  # noqa: N801 - stands in for EncoderInfo
            family = "hf"

    with pytest.raises(ConfigError, match="no explain method yet. Supported families: lite, open_clip"):
        create_explainer(Fake())


def test_overlays_of_labels_with_one_file_name_do_not_overwrite_each_other(tmp_path):
    from multimodal.explain.api import write_overlays
    from multimodal.explain.base import Explanation

    img = Image.new("RGB", (40, 30), (10, 20, 30))
    heat = np.zeros((30, 40), np.float32)
    heat[5:15, 5:15] = 1.0
    exp = Explanation(heat, False, None, "test", 1.0)
    paths = write_overlays(img, "shelf/photo.jpg", ["a cat", "a-cat", "A CAT", "dog"], [exp] * 4, tmp_path)
    assert [p.name for p in paths] == [
        "photo__a-cat.png",
        "photo__a-cat-2.png",
        "photo__a-cat-3.png",
        "photo__dog.png",
    ]
    assert all(p.is_file() for p in paths)
