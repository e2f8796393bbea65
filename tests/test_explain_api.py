"""The explain routes against the real app (FastAPI TestClient, tiny tier: tiny:open_clip ViT, no detector):
POST /v1/locate, explain=true on /v1/classify and /v1/search (overlays capped and said so), bad phrases and
image counts; explanations off by default."""

from __future__ import annotations

import base64
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from demos.explain_api import MAX_OVERLAY_SIDE, MAX_OVERLAYS
from demos.server import create_app
from demos.web_config import WebConfig

LOCAL = "http://127.0.0.1:7860"


def png(size=(160, 96), colour=(220, 30, 30), mode="RGB") -> bytes:
    img = Image.new(mode, size, (245, 245, 240) if mode == "RGB" else (245, 245, 240, 0))
    ImageDraw.Draw(img).ellipse((20, 20, 70, 70), fill=colour)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def client(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", max_upload_mb=4.0))
    with TestClient(app, base_url=LOCAL) as c:
        yield c


def decoded(overlay: dict) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(overlay["png"])))
    assert img.format == "PNG" and list(img.size) == overlay["size"]
    return img


def test_locate_returns_boxes_method_description_and_overlay(client):
    r = client.post("/v1/locate", files={"image": ("s.png", png(), "image/png")}, data={"phrase": "a red circle"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["image"] == "s.png" and out["phrase"] == "a red circle" and out["target"] == "text"
    assert out["method"] == "heatmap" and out["source"].startswith("vit-gradcam")  # tiny tier: no detector
    assert out["flat"] or out["boxes"]
    for b in out["boxes"]:
        x0, y0, x1, y1 = b["box"]
        assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 96 and "around x=" in b["where"]
    assert isinstance(out["description"], str) and out["description"]
    assert decoded(out["overlay"]).size == (160, 96)
    no_overlay = client.post(
        "/v1/locate", json={"image": base64.b64encode(png()).decode(), "phrase": "red", "overlay": False}
    )
    assert no_overlay.status_code == 200 and "overlay" not in no_overlay.json()


def test_locate_shrinks_big_overlays_and_takes_alpha_and_strips(client):
    big = client.post(
        "/v1/locate", files={"image": ("b.png", png((1600, 900)), "image/png")}, data={"phrase": "a ball"}
    )
    assert big.status_code == 200
    assert decoded(big.json()["overlay"]).size == (MAX_OVERLAY_SIDE, 432)  # the boxes stay in image pixels
    alpha = client.post("/v1/locate", files={"image": ("a.png", png(mode="RGBA"), "image/png")}, data={"phrase": "red"})
    assert alpha.status_code == 200
    strip = client.post("/v1/locate", files={"image": ("s.png", png((300, 8)), "image/png")}, data={"phrase": "red"})
    assert strip.status_code == 200 and any("thin strip" in n for n in strip.json()["notes"])


@pytest.mark.parametrize(
    "data, message",
    [
        ({"phrase": "y" * 500}, "500 characters; at most 200"),
        ({"phrase": "!!"}, "no letter or digit"),
        ({"phrase": "   "}, "phrase is empty"),
        ({}, "phrase: missing"),
    ],
)
def test_locate_bad_phrases_are_400_with_the_reason(client, data, message):
    r = client.post("/v1/locate", files={"image": ("s.png", png(), "image/png")}, data=data)
    assert r.status_code == 400 and message in r.json()["error"]


def test_locate_needs_exactly_one_image(client):
    r = client.post("/v1/locate", data={"phrase": "red"})
    assert r.status_code == 400 and "exactly one 'image'" in r.json()["error"]
    files = [("image", ("a.png", png(), "image/png")), ("image", ("b.png", png(), "image/png"))]
    r = client.post("/v1/locate", files=files, data={"phrase": "red"})
    assert r.status_code == 400 and "got 2" in r.json()["error"]


def test_classify_explain_overlays_capped_and_said_so(client):
    labels = ["red", "blue", "green", "a cat", "a dog", "a car"]
    body = {"image": base64.b64encode(png()).decode(), "labels": labels, "top_k": 6, "explain": True}
    out = client.post("/v1/classify", json=body).json()
    reported = [x["label"] for x in out["labels"]]
    assert len(reported) == 6
    ex = out["explanation"]
    assert [o["label"] for o in ex["overlays"]] == reported[:MAX_OVERLAYS]
    assert f"explained {MAX_OVERLAYS} of 6 labels" in ex["note"]
    for o in ex["overlays"]:
        assert decoded(o["overlay"]).size == (160, 96) and o["method"].startswith("vit-gradcam")
        assert o["flat"] or (o["peak"] is not None and 0 <= o["peak"][0] < 160 and 0 <= o["peak"][1] < 96)
    few = client.post("/v1/classify", json={**body, "labels": ["red", "blue"], "top_k": 2}).json()
    assert len(few["explanation"]["overlays"]) == 2 and few["explanation"]["note"] is None


def test_classify_without_explain_has_no_explanation(client, monkeypatch):
    import demos.explain_api as explain_api

    def boom(*_a, **_k):
        raise AssertionError("explain work without explain=true")

    monkeypatch.setattr(explain_api, "classify_explanations", boom)
    out = client.post("/v1/classify", json={"image": base64.b64encode(png()).decode(), "labels": ["red", "blue"]})
    assert out.status_code == 200 and "explanation" not in out.json()


def test_search_explanations_per_hit_capped(client, tiny_services, tmp_path):
    """``search_explanations`` over a real catalog and /v1/search's response, then /v1/search with explain=true
    (the same, wired)."""
    from demos.api_payload import Payload
    from demos.catalog_handle import CatalogHandle
    from demos.explain_api import search_explanations

    for i in range(MAX_OVERLAYS + 1):
        files = [("image", (f"i{i}.png", png(colour=(40 * i, 30, 200 - 30 * i)), "image/png"))]
        added = client.post("/v1/items", files=files, data={"id": f"item{i}", "metadata": json.dumps({})}).json()
        assert added["added"] == 1
    catalog = CatalogHandle(tmp_path / "idx", tiny_services)
    query = {"text": "a red circle", "k": MAX_OVERLAYS + 1}
    res = search_explanations(
        tiny_services, catalog, Payload(query, []), [], client.post("/v1/search", json=query).json()
    )
    hits = res["results"]
    assert len(hits) == MAX_OVERLAYS + 1
    assert all("explanation" in h for h in hits[:MAX_OVERLAYS]) and "explanation" not in hits[-1]
    wired = client.post("/v1/search", json={**query, "explain": True}).json()
    assert [h["id"] for h in wired["results"]] == [h["id"] for h in hits]
    assert all(h["explanation"]["overlays"] for h in wired["results"][:MAX_OVERLAYS])
    assert "explanation" not in wired["results"][-1] and wired["explanation_note"]
    assert "explanation" not in client.post("/v1/search", json=query).json()["results"][0]  # off by default
    assert f"explained {MAX_OVERLAYS} of {MAX_OVERLAYS + 1} hits" in res["explanation_note"]
    first = hits[0]["explanation"]["overlays"][0]
    assert first["label"] == "a red circle" and decoded(first["overlay"]).size == (160, 96)
    one = client.post("/v1/search", json={"text": "red", "k": 1}).json()
    by_image = search_explanations(tiny_services, catalog, Payload({}, []), [("q.png", png())], one)
    assert by_image["results"][0]["explanation"]["overlays"][0]["label"] == "the query image"
    assert by_image["explanation_note"] is None
    like = search_explanations(tiny_services, catalog, Payload({"like": "item0"}, []), [], dict(one, results=[]))
    assert "like" in like["explanation_note"]
