"""The bad inputs issue 17 lists, on every surface not covered elsewhere (tests/test_explain*.py cover 0- and
500-character phrases for locate, RGBA and 300x1 / 400x1 images at the ViT explainer and ``locate``):

- labels that score zero everywhere: a flat map, said so by the CLI (stderr), the API (``flat`` + ``reason``)
  and the UI (the caption; the Ask tab's note);
- 1xN strips, 1x400 and 400x1: a map of the strip's size with a "thin strip" note from both explainers; the
  loader's aspect cap refuses them by name at the CLI and the API, and a strip within the cap gets the note;
- alpha: LA and P with a transparent palette entry, composited on white, through the explainer and the API;
- explain asked for 100 search hits: capped, and said so (library, API, UI).
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from multimodal.explain.linear import LinearTarget
from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.test_explain import red_blue_explainer
from tests.test_explain_api import LOCAL, decoded, png
from tests.test_explain_ui import drawing, trusted_add, upload

ZERO_REASON = "no region raises this target's score: the map is zero everywhere"


@pytest.fixture()
def zero_labels(monkeypatch):
    """Every label's target is the zero vector: it scores 0 on every image region."""
    import multimodal.explain.targets as targets

    real = targets.phrase_targets

    def zeros(encoder, zeroshot, phrases):
        rows, sources = real(encoder, zeroshot, phrases)
        return np.zeros_like(rows), sources

    monkeypatch.setattr(targets, "phrase_targets", zeros)


@pytest.fixture(scope="module")
def tiny_vit(cpu32, options):
    from multimodal.encoders.factory import create_encoder
    from multimodal.explain.factory import create_explainer

    encoder = create_encoder("tiny:open_clip", cpu32, options)
    return encoder, create_explainer(encoder)


@pytest.fixture()
def client(tiny_services, tmp_path):
    from fastapi.testclient import TestClient

    from demos.server import create_app
    from demos.web_config import WebConfig

    with TestClient(create_app(tiny_services, WebConfig(index=tmp_path / "idx")), base_url=LOCAL) as c:
        yield c


def encoded(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


# ---- labels that score zero everywhere ----------------------------------------------------------------------


def test_zero_targets_give_a_flat_map_with_the_reason(tiny_vit):
    encoder, ex = tiny_vit
    prepared = ex.prepare(Image.new("RGB", (40, 30), (200, 40, 40)))
    for target in (np.zeros(encoder.dim, np.float32), LinearTarget("nothing", np.zeros(encoder.dim), 0.0)):
        e = ex.explain(prepared, target)
        assert e.flat and e.reason == ZERO_REASON and e.peak is None
        assert e.heatmap.shape == (30, 40) and e.heatmap.dtype == np.float32 and not e.heatmap.any()


def test_cli_says_a_map_is_flat(capsys, cache_dir, tmp_path, zero_labels):
    photo = tmp_path / "red.png"
    Image.new("RGB", (40, 30), (200, 40, 40)).save(photo)
    code = main([*tiny_argv(cache_dir), "classify", str(photo), "--labels", "a, b", "--explain", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 0 and f"{photo}: a: flat heatmap: {ZERO_REASON}" in err and f"b: flat heatmap: {ZERO_REASON}" in err


def test_api_says_a_map_is_flat(client, zero_labels):
    body = {"image": base64.b64encode(png()).decode(), "labels": ["a", "b"], "explain": True}
    overlays = client.post("/v1/classify", json=body).json()["explanation"]["overlays"]
    assert len(overlays) == 2 and all(o["flat"] and o["reason"] == ZERO_REASON and o["peak"] is None for o in overlays)


def test_ui_says_a_map_is_flat(ctx, zero_labels):
    from demos.ui.ask_tab import Asked, ask_why
    from demos.ui.classify_tab import show_why
    from multimodal.ask.answers import Answer

    path = upload(ctx, "red.png", drawing("red"))
    gallery, _ = show_why(ctx, path, "a, b", False, "", True)
    captions = sorted(c for _, c in gallery["value"])
    assert captions == [f"a: flat heatmap ({ZERO_REASON})", f"b: flat heatmap ({ZERO_REASON})"]
    asked = Asked(Answer("no cat", 0.9, False, ()), "where is the cat?", (path,))
    _, note = ask_why(ctx, asked, True)
    assert f"flat heatmap of 'cat': {ZERO_REASON}" in note["value"]


# ---- 1xN strips -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 400), (400, 1)])
def test_strips_get_a_map_of_their_size_and_a_note(tiny_vit, size):

    encoder, vit = tiny_vit
    cnn = red_blue_explainer()
    strip = Image.new("RGB", size, (230, 20, 20))
    targets = ((vit, encoder.embed_texts(["red"])[0]), (cnn, np.array([1.0, 0, 0, 0], np.float32)))
    for ex, target in targets:
        e = ex.explain(ex.prepare(strip), target)
        assert e.heatmap.shape == (size[1], size[0]) and e.heatmap.dtype == np.float32
        assert np.all(np.isfinite(e.heatmap)) and 0.0 <= e.heatmap.min() and e.heatmap.max() <= 1.0
        assert any(f"{size[0]}x{size[1]}, a thin strip" in n for n in e.notes)


@pytest.mark.parametrize("size", [(1, 400), (400, 1)])
def test_strips_over_the_aspect_cap_are_refused_by_name(capsys, cache_dir, tmp_path, client, size):
    path = tmp_path / "strip.png"
    Image.new("RGB", size, (230, 20, 20)).save(path)
    code = main([*tiny_argv(cache_dir), "classify", str(path), "--labels", "red, blue", "--explain", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and f"{size[0]}x{size[1]} has an aspect ratio of 400:1, over the 50:1 limit" in err
    body = {"image": encoded(Image.new("RGB", size)), "labels": ["red", "blue"], "explain": True}
    out = client.post("/v1/classify", json=body).json()
    assert "50:1 limit" in out["error"] and out["explanation"]["overlays"] == []


def test_a_strip_within_the_cap_is_explained_with_a_note(client):
    body = {"image": encoded(Image.new("RGB", (2, 90), (230, 20, 20))), "labels": ["red"], "explain": True}
    (overlay,) = client.post("/v1/classify", json=body).json()["explanation"]["overlays"]
    assert decoded(overlay["overlay"]).size == (2, 90) and any("thin strip" in n for n in overlay["notes"])


# ---- images with alpha --------------------------------------------------------------------------------------


def alpha_images() -> dict[str, Image.Image]:
    la = Image.new("LA", (40, 30), (90, 0))  # fully transparent grey: white once composited
    pal = Image.new("P", (40, 30), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (0, 0, 20, 30))
    pal.info["transparency"] = 0  # palette entry 0 (red) is transparent: the right half is white
    return {"LA": la, "P": pal}


@pytest.mark.parametrize("mode", ["LA", "P"])
def test_alpha_is_composited_on_white_for_the_explainer(tiny_vit, mode):
    from multimodal.explain.prep import letterbox
    from multimodal.explain.render import overlay

    img = alpha_images()[mode]
    prepared = letterbox(img, long_side=40, min_side=8, mean=(0,) * 3, std=(1,) * 3)
    np.testing.assert_allclose(prepared.pixels[:, 30], 1.0, atol=1e-6)  # transparent: white
    if mode == "P":
        np.testing.assert_allclose(
            prepared.pixels[:, 5], np.tile([0.0, 0.0, 1.0], (30, 1)), atol=1e-6
        )  # opaque blue stays blue
    encoder, ex = tiny_vit
    e = ex.explain(ex.prepare(img), encoder.embed_texts(["blue"])[0])
    assert e.heatmap.shape == (30, 40) and 0.0 <= e.heatmap.min() and e.heatmap.max() <= 1.0
    assert overlay(img, e.heatmap).mode == "RGB" and overlay(img, e.heatmap).size == (40, 30)


def test_alpha_images_through_the_api(client):
    for img in alpha_images().values():
        body = {"image": encoded(img), "labels": ["blue", "white"], "explain": True}
        r = client.post("/v1/classify", json=body)
        assert r.status_code == 200, r.text
        overlays = r.json()["explanation"]["overlays"]
        assert len(overlays) == 2 and all(decoded(o["overlay"]).size == (40, 30) for o in overlays)


# ---- explain asked for 100 search hits -------------------------------------------------------------------


def test_100_hits_are_capped_and_said_so_by_the_library(tiny_vit, tmp_path):
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.hits import explain_hits

    encoder, ex = tiny_vit
    path = tmp_path / "hit.png"
    Image.new("RGB", (32, 24), (200, 40, 40)).save(path)
    rows, note = explain_hits(ex, [(f"i{n}", path) for n in range(100)], encoder.embed_texts(["red"])[0])
    cap = ExplainConfig().max_explanations
    assert [r.item_id for r in rows] == [f"i{n}" for n in range(cap)] and all(r.explanation for r in rows)
    assert note == f"explained {cap} of 100 hits: at most {cap} per request (each costs a backward pass)"


def test_100_hits_are_capped_and_said_so_by_the_api(tiny_services, tmp_path):
    from demos.api_payload import Payload
    from demos.explain_api import MAX_OVERLAYS, search_explanations

    path = tmp_path / "hit.png"
    Image.new("RGB", (32, 24), (200, 40, 40)).save(path)

    class OneImage:
        def image_path(self, item_id):
            return path

    response = {"results": [{"id": f"i{n}", "score": 1.0 - n / 100} for n in range(100)]}
    out = search_explanations(tiny_services, OneImage(), Payload({"text": "red"}, []), [], response)
    explained = [h["id"] for h in out["results"] if "explanation" in h]
    assert explained == [f"i{n}" for n in range(MAX_OVERLAYS)]
    assert out["explanation_note"].startswith(f"explained {MAX_OVERLAYS} of 100 hits: at most {MAX_OVERLAYS}")


def test_100_hits_are_capped_and_said_so_by_the_ui(ctx):
    from demos.ui.search_tab import WHY_HITS, search_why

    trusted_add(ctx, [(f"item{i}", c, {}) for i, c in enumerate(["red", "blue", "green"])])
    ids = [f"item{i}" for i in range(3)] + [f"gone{i}" for i in range(97)]  # only the top results are read
    gallery, note = search_why(ctx, "a red circle", None, ids, True)
    assert len(gallery["value"]) == WHY_HITS
    assert f"top {WHY_HITS} of 100 results" in note["value"] and f"at most {WHY_HITS}" in note["value"]
    assert json.dumps(note["value"]).count("gone") == 0
