"""Heatmaps for a taught label set's labels (issue 17 on issue 15's heads): the head's centred logit as a linear
target over the encoder's features. Oracles: a head whose weight is a zero-shot label's text embedding gives that
label's map; the target's score is the numpy head formula; the targets rank labels as the head does. End to end:
``classify --labelset NAME --explain DIR`` and /v1/classify with ``labelset`` and ``explain=true`` (tiny tier)."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from multimodal.errors import ConfigError, UnknownNameError
from multimodal.explain.api import explain_targets
from multimodal.explain.linear import LinearTarget, head_targets, labelset_targets
from multimodal.teach.head import CvReport, Head, transform
from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.test_explain import _red_square_image, red_blue_explainer
from tests.test_teach_cli import COLOURS, drawn


@pytest.fixture(scope="module")
def tiny_clip(cpu32, options):
    from multimodal.encoders.factory import create_encoder

    return create_encoder("tiny:open_clip", cpu32, options)


def noise(h=50, w=70, seed=1) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


def synthetic_head(rows: np.ndarray, labels=("cat", "dog"), **kw) -> Head:
    d = rows.shape[1]
    parts = dict(
        labels=tuple(labels),
        coef=rows.astype(np.float32),
        intercept=np.zeros(len(labels), np.float32),
        prototypes=np.zeros((len(labels), d), np.float32),
        center=np.zeros(d, np.float32),
        power=1.0,
        c=1.0,
        proto_weight=0.0,
        text_weight=0.0,
        temperature=1.0,
        cv=CvReport(None, 0, 0),
    )
    return Head(**{**parts, **kw})


@pytest.mark.parametrize("method", ["gradcam", "similarity"])
def test_a_head_weighted_by_a_text_embedding_gives_the_zero_shot_map(tiny_clip, method):
    from multimodal.explain.factory import ExplainerOptions, create_explainer
    from multimodal.explain.vit import VitExplainConfig

    ex = create_explainer(tiny_clip, ExplainerOptions(vit=VitExplainConfig(method=method)))
    t = tiny_clip.embed_texts(["a photo of a cat"])[0]
    prepared = ex.prepare(noise())
    zero_shot = ex.explain(prepared, t)
    bias = 0.5 if method == "gradcam" else 0.0  # a bias moves no gradient; similarity maps are its values
    scaled = ex.explain(prepared, LinearTarget("cat", 3.0 * t, bias))
    np.testing.assert_allclose(scaled.heatmap, zero_shot.heatmap, atol=1e-5)
    assert scaled.score == pytest.approx(3.0 * zero_shot.score + bias, abs=1e-5)
    # through a two-label head: centred rows (t, -t), so "cat" is t and "dog" is -t
    cat, dog = head_targets(synthetic_head(np.stack([t, -t])), ["cat", "dog"])
    np.testing.assert_allclose(ex.explain(prepared, cat).heatmap, zero_shot.heatmap, atol=1e-5)
    np.testing.assert_allclose(ex.explain(prepared, dog).heatmap, ex.explain(prepared, -t).heatmap, atol=1e-5)


def test_the_target_score_is_the_numpy_head_formula(tiny_clip):
    import torch

    from multimodal.explain.factory import create_explainer

    ex = create_explainer(tiny_clip)
    rng = np.random.default_rng(3)
    d = tiny_clip.dim
    center = (rng.normal(size=d) * 0.05).astype(np.float32)
    target = LinearTarget("x", rng.normal(size=d).astype(np.float32), -0.3, power=0.5, center=center)
    prepared = ex.prepare(noise(40, 40, 4))
    with torch.no_grad():
        emb = tiny_clip._model.encode_image(torch.from_numpy(prepared.pixels).permute(2, 0, 1)[None]).numpy()
    expected = float(transform(emb.astype(np.float64), 0.5, center)[0] @ target.weight - 0.3)
    exp = ex.explain(prepared, target)
    assert exp.score == pytest.approx(expected, abs=1e-4)
    assert exp.heatmap.shape == (40, 40) and exp.heatmap.dtype == np.float32
    assert 0.0 <= exp.heatmap.min() and exp.heatmap.max() <= 1.0


def test_lite_views_target_points_at_the_red_square():

    ex = red_blue_explainer(detail_layer=None, score="cosine")
    prepared = ex.prepare(_red_square_image())
    red_concept = LinearTarget("red", np.array([0, 0, 0, 0, 1, 0], np.float32), features="lite-views")
    exp = ex.explain(prepared, red_concept)
    assert exp.heatmap.shape == (96, 128) and exp.heatmap.dtype == np.float32 and not exp.flat
    x, y = exp.peak
    assert 80 <= x < 112 and 16 <= y < 48
    red = np.array([1.0, 0.0, 0.0, 0.0], np.float32)  # "embedding" features: the lite cosine's map
    np.testing.assert_allclose(
        ex.explain(prepared, LinearTarget("red", 2 * red)).heatmap, ex.explain(prepared, red).heatmap, atol=1e-5
    )
    with pytest.raises(ConfigError, match="has dim 5 but 'lite-views' features have dim 6; re-teach"):
        ex.explain(prepared, LinearTarget("red", np.ones(5, np.float32), features="lite-views"))


def test_bad_heads_and_labels_are_named(tiny_clip):
    from multimodal.explain.factory import create_explainer

    ex = create_explainer(tiny_clip)
    views = LinearTarget("a", np.ones(7, np.float32), features="lite-views")
    with pytest.raises(ConfigError, match="reads 'lite-views' features, which this encoder does not make"):
        ex.explain(ex.prepare(noise()), views)
    with pytest.raises(UnknownNameError, match="label 'cow' is not in the label set. Available: cat, dog"):
        head_targets(synthetic_head(np.eye(2, 4)), ["cow"])
    with pytest.raises(ConfigError, match="NaN or infinite"):
        LinearTarget("a", np.array([np.nan, 1.0]))


# ---- a label set taught on the tiny tier -------------------------------------------------------------------


@pytest.fixture(scope="module")
def taught(cache_dir, tmp_path_factory):
    """``(labelsets dir, example images)``: the label set "colours" (red, blue, green; 4 drawn boxes each)."""
    root = tmp_path_factory.mktemp("taught")
    examples = root / "examples"
    for k, (label, colour) in enumerate(COLOURS.items()):
        for i in range(4):
            drawn(examples / label / f"{i}.png", colour, seed=10 * k + i)
    sets = root / "sets"
    code = main([*tiny_argv(cache_dir), "teach", "colours", "--examples", str(examples), "--labelsets-dir", str(sets)])
    assert code == 0
    return sets, [examples / label / "0.png" for label in COLOURS]


def test_head_targets_rank_the_labels_as_the_head_does(tiny_services, taught):
    from multimodal.teach.store import load_labelset

    ls = load_labelset(taught[0], "colours")
    targets = labelset_targets(ls, list(ls.labels))
    x = ls.memory.x.astype(np.float64)
    z = np.stack([transform(x, t.power, t.center) @ t.weight + t.bias for t in targets], axis=1)
    shift = ls.head.logits(x) - z  # the head's blended logit (no text) minus ours: one constant per example
    np.testing.assert_allclose(shift - shift[:, :1], 0.0, atol=1e-4)
    explainer_targets = labelset_targets(ls, ["blue", "red"])
    assert [t.label for t in explainer_targets] == ["blue", "red"] and explainer_targets[0].features == "embedding"
    from multimodal.explain.factory import create_explainer

    image = Image.open(taught[1][0])
    exps, note = explain_targets(create_explainer(tiny_services.encoder), image, explainer_targets)
    assert note is None and len(exps) == 2
    for e in exps:
        assert e.heatmap.shape == (48, 64) and e.heatmap.dtype == np.float32
        assert 0.0 <= e.heatmap.min() and e.heatmap.max() <= 1.0 and (e.flat or e.heatmap.max() == pytest.approx(1))


def test_classify_labelset_explain_writes_overlays(capsys, cache_dir, taught, tmp_path):
    sets, images = taught
    named = []
    for image in images[:2]:  # distinct stems: the overlays are named by the image's stem
        named.append(tmp_path / f"{image.parent.name}.png")
        named[-1].write_bytes(image.read_bytes())
    out_dir = tmp_path / "why"
    argv = ["classify", *map(str, named), "--labelset", "colours", "--explain", str(out_dir)]
    code = main([*tiny_argv(cache_dir), *argv, "--explain-max", "2", "--labelsets-dir", str(sets), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["labelset"] for r in rows] == ["colours", "colours"]
    pngs = sorted(out_dir.glob("*.png"))
    assert len(pngs) == 4 and "wrote 4 heatmap overlays" in err and "explained 2 of 3 targets" in err
    for r in rows:  # the two best labels of each image are the ones explained
        stem = r["image"].split("/")[-1].removesuffix(".png")
        for s in r["labels"][:2]:
            assert (out_dir / f"{stem}__{s['label']}.png").exists()
    with Image.open(pngs[0]) as im:
        assert im.size == (64, 48) and im.mode == "RGB"


def test_api_classify_with_a_labelset_explains_its_labels(tiny_services, taught, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from demos.server import create_app
    from demos.web_config import WebConfig

    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))
    shutil.copytree(taught[0], tmp_path / "cache" / "labelsets")
    app = create_app(services, WebConfig(index=tmp_path / "idx"))
    with TestClient(app, base_url="http://127.0.0.1:7860") as client:
        body = {"image": base64.b64encode(taught[1][0].read_bytes()).decode(), "labelset": "colours"}
        r = client.post("/v1/classify", json={**body, "explain": True, "top_k": 3})
        assert r.status_code == 200, r.text
        out = r.json()
        ex = out["explanation"]
        assert [o["label"] for o in ex["overlays"]] == [x["label"] for x in out["labels"]][:3] and ex["note"] is None
        for o in ex["overlays"]:
            assert isinstance(o["flat"], bool) and o["method"].startswith("vit-gradcam")
            with Image.open(io.BytesIO(base64.b64decode(o["overlay"]["png"]))) as im:
                assert im.size == (64, 48)
        assert "explanation" not in client.post("/v1/classify", json=body).json()  # off by default


def test_ui_show_why_with_a_picked_label_set_maps_its_head(tiny_services, taught, tmp_path, monkeypatch):
    """Classify tab, label set picked, "Show why" ticked: the labels ranked by the head, each overlay the map of
    the head's logit (what ``classify --labelset --explain`` draws), through the handler Gradio calls."""
    import shutil

    from demos.catalog_handle import CatalogHandle
    from demos.gate import ModelGate
    from demos.ui.classify_tab import WHY_MAX, show_why
    from demos.ui.context import UiContext, bind
    from multimodal.explain.api import captioned
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.factory import create_explainer
    from multimodal.teach.store import load_labelset
    from multimodal.teach.teach import classify_with_labelset
    from multimodal.zeroshot import ZeroShotOptions

    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))
    shutil.copytree(taught[0], tmp_path / "cache" / "labelsets")
    uploads = tmp_path / "uploads"
    (uploads / "abc").mkdir(parents=True)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    image = uploads / "abc" / "red.png"
    image.write_bytes(taught[1][0].read_bytes())
    handle = CatalogHandle(tmp_path / "idx", services)
    ctx = UiContext(services, handle, ModelGate.sized(1, 4), uploads, request_timeout_s=60)
    try:
        gallery, note = bind(show_why, ctx)(str(image), "ignored, labels", False, "colours", True)
    finally:
        handle.close()
    ls = load_labelset(tmp_path / "cache" / "labelsets", "colours")
    ranked = [
        s.label for s in classify_with_labelset(services, ls, [image], ZeroShotOptions(top_k=20))[0].result.labels
    ]
    items = gallery["value"]
    assert gallery["visible"] and [c.split(":")[0] for _, c in items] == ranked[:WHY_MAX]
    assert "label set colours" in note["value"] and f"{WHY_MAX} of 3 labels" in note["value"]
    assert "no heatmap" not in note["value"]
    config = ExplainConfig(max_explanations=WHY_MAX)
    pil = Image.open(image).convert("RGB")
    exps, _ = explain_targets(create_explainer(services.encoder), pil, labelset_targets(ls, ranked[:WHY_MAX]), config)
    for (picture, caption), label, e in zip(items, ranked, exps):
        expected, expected_caption = captioned(pil, label, e, config)
        assert caption == expected_caption
        np.testing.assert_array_equal(np.asarray(picture), np.asarray(expected))
