"""API errors name the request's fields, not CLI options (demos/api_wording.py): the library's messages keep
their CLI wording for the CLI; the API's answers (error handlers, streamed error events) reword them."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demos.api_wording import api_wording
from multimodal.errors import SceneQAError
from multimodal.zeroshot import parse_labels


def png() -> str:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def client(tiny_services, tmp_path_factory):
    from demos.server import create_app
    from demos.web_config import WebConfig

    tmp = tmp_path_factory.mktemp("wording")
    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp / "cache"))
    app = create_app(services, WebConfig(index=tmp / "idx"))
    with TestClient(app, base_url="http://127.0.0.1:7860", raise_server_exceptions=False) as c:
        assert c.post("/v1/items", json={"images": [png()], "metadata": {"name": "a red thing"}}).status_code == 200
        yield c


IMG = png()
CASES = [
    # (route, body, the API's words)
    ("/v1/classify", {"image": IMG, "labels": " , "}, "no labels given; send labels: a list such as"),
    ("/v1/index/tune", {"text_columns": []}, "text_columns is empty; name the metadata columns holding item text"),
    ("/v1/search", {"image": IMG, "hybrid": True}, "hybrid=true fuses keyword matches of text; give text too"),
    ("/v1/ask", {"question": "what is it?"}, "nothing to look at: send an image, contexts or context_text"),
    (
        "/v1/labelsets",
        {"name": "x", "images": [IMG, IMG], "labels": ["a", "b"], "add": True, "replace": True},
        "add=true and replace=true exclude each other",
    ),
]


@pytest.mark.parametrize(("route", "body", "words"), CASES, ids=[c[0] for c in CASES])
def test_api_errors_name_the_json_field(client, route, body, words):
    r = client.post(route, json=body)
    assert r.status_code == 400 and r.json()["error"].startswith(words), r.text
    assert "--" not in r.json()["error"]


def test_a_streamed_error_event_is_reworded_too(client):
    r = client.post("/v1/ask", json={"question": "what is it?", "stream": True})
    assert "nothing to look at: send an image, contexts or context_text" in r.text and "--context" not in r.text


def test_the_cli_keeps_its_wording():
    with pytest.raises(SceneQAError, match="pass --labels 'cat, dog' or --labels-file FILE"):
        parse_labels(" , ")
    assert api_wording("--text-columns: 'x' not in <index>") == "text_columns: 'x' not in <index>"
    assert api_wording("--text is empty") == "text is empty"
    assert api_wording("serve with --encoder tiny:open_clip") == "serve with --encoder tiny:open_clip"  # the operator's
    assert api_wording("label '--textile' and --text-columns") == "label '--textile' and text_columns"
