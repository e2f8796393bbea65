"""Why an answer (issue 17): the Ask tab's "Show why" toggle (off by default, no model work while unticked,
capped and said so; /ask keeps its API inputs and outputs) and ``explain=true`` on /v1/ask (an ``explanation``
with base64 PNG overlays per image; refused with ``stream=true``). Tiny tier, generated images."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import gradio as gr
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demos.ui import ask_tab
from demos.ui.ask_tab import WHY_IMAGES, ask_why, do_ask, remember
from tests.image_corpus import gradient
from tests.test_explain_ui import no_model_work
from tests.test_ui_handlers import upload


def png_bytes(w=120, h=80) -> bytes:
    buf = io.BytesIO()
    gradient(w=w, h=h).save(buf, "PNG")
    return buf.getvalue()


def answered(ctx, paths, question="where is the cat?"):
    *_, shown = list(do_ask(ctx, paths, question, [], "", False))[-1]
    return remember(shown)


def test_ask_why_is_off_by_default_and_does_no_work(ctx, monkeypatch):
    monkeypatch.setattr(ask_tab, "answer_overlays", no_model_work)
    monkeypatch.setattr(type(ctx), "gated", no_model_work)
    gallery, note = ask_why(ctx, None)  # the toggle's default: unticked
    assert gallery["visible"] is False and gallery["value"] is None and note["visible"] is False
    import inspect

    assert inspect.signature(ask_why).parameters["why"].default is False


def test_ask_why_shows_the_evidence_behind_the_answer(ctx):
    path = upload(ctx, "scene.png", png_bytes())
    asked = answered(ctx, [path])
    assert asked.question == "where is the cat?" and len(asked.paths) == 1
    gallery, note = ask_why(ctx, asked, True)
    ((picture, caption),) = gallery["value"]
    assert gallery["visible"] and isinstance(picture, Image.Image) and picture.size == (120, 80)
    assert caption.startswith("image 1: ") and "heatmap of 'cat'" in caption
    assert note["visible"] and "1 of 1 image(s)" in note["value"] and "at most" not in note["value"]


def test_ask_why_caps_the_images_and_says_so(ctx):
    paths = [upload(ctx, f"s{i}.png", png_bytes(60 + i, 40)) for i in range(WHY_IMAGES + 1)]
    gallery, note = ask_why(ctx, answered(ctx, paths, "what colour is the car?"), True)
    assert len(gallery["value"]) == WHY_IMAGES
    assert f"{WHY_IMAGES} of {WHY_IMAGES + 1} image(s)" in note["value"] and f"at most {WHY_IMAGES}" in note["value"]


def test_ask_why_without_images_or_subject_says_why(ctx):
    *_, shown = list(do_ask(ctx, [], "what colour is the valve?", [], "valve 3 is blue", False))[-1]
    assert remember(shown) is None and remember(None) == gr.skip()
    gallery, note = ask_why(ctx, None, True)
    assert gallery["visible"] is False and "ask a question about images" in note["value"]
    path = upload(ctx, "plain.png", png_bytes(60, 40))
    gallery, note = ask_why(ctx, answered(ctx, [path], "describe the image"), True)
    assert gallery["visible"] is False and "without cited boxes or a subject: nothing to show" in note["value"]


def test_ask_event_keeps_its_api_and_the_toggle_is_internal(tiny_services, tmp_path):
    from demos.server import create_app
    from demos.web_config import WebConfig

    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))
    app = create_app(services, WebConfig(index=tmp_path / "idx", inspectors_dir=tmp_path / "insp"))
    fns = {fn.api_name: fn for fn in app.state.demo.fns.values()}
    assert (len(fns["ask"].inputs), len(fns["ask"].outputs)) == (7, 5) and "ask_why" not in fns
    why = [b for b in app.state.demo.blocks.values() if getattr(b, "elem_id", None) == "ask-why"]
    assert len(why) == 1 and isinstance(why[0], gr.Checkbox) and why[0].value is False
    internal = [fn for fn in app.state.demo.fns.values() if fn.name in ("ask_why", "remember")]
    assert len(internal) == 3 and all(fn.api_visibility == "private" for fn in internal)


# ---- /v1/ask with explain=true ------------------------------------------------------------------------


@pytest.fixture()
def client(tiny_services, tmp_path):
    from demos.server import create_app
    from demos.web_config import WebConfig

    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", max_upload_mb=4.0))
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        yield c


def test_api_ask_explanation_overlays(client):
    from demos.explain_api import MAX_OVERLAYS

    body = {"image": base64.b64encode(png_bytes()).decode(), "question": "where is the cat?"}
    r = client.post("/v1/ask", json={**body, "explain": True})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["answer"] and out["explanation"]["subject"] == "cat"
    (row,) = out["explanation"]["overlays"]
    assert row["image"] == 1 and row["subject"] == "cat" and isinstance(row["flat"], bool)
    assert row["method"].startswith("vit-gradcam") and "heatmap of 'cat'" in row["summary"]
    with Image.open(io.BytesIO(base64.b64decode(row["overlay"]["png"]))) as im:
        assert im.format == "PNG" and im.size == (120, 80) == tuple(row["overlay"]["size"])
    assert "explanation" not in client.post("/v1/ask", json=body).json()  # off by default
    many = {"images": [body["image"]] * (MAX_OVERLAYS + 2), "question": "what colour is the car?", "explain": True}
    ex = client.post("/v1/ask", json=many).json()["explanation"]
    assert (
        len(ex["overlays"]) == MAX_OVERLAYS and f"explained {MAX_OVERLAYS} of {MAX_OVERLAYS + 2} images" in ex["note"]
    )


def test_api_ask_explain_refuses_streams_and_says_when_there_is_nothing(client):
    r = client.post("/v1/ask", json={"question": "what is it?", "stream": True, "explain": True})
    assert r.status_code == 400 and "explain=true needs stream=false" in r.json()["error"]
    records = {"question": "what colour is the valve?", "context_text": "valve 3 is blue", "explain": True}
    ex = client.post("/v1/ask", json=records).json()["explanation"]
    assert ex["overlays"] == [] and "no images" in ex["note"]
