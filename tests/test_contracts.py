"""Issue 18 item 5: typed request contracts. Malformed requests on every route are answered 4xx in the
``{"error": ...}`` shape (422 naming the field and the expected type), never 500; /openapi.json describes
every POST body (JSON and multipart) and the error answers."""

from __future__ import annotations

import base64
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demos.api_models import BODIES
from demos.server import create_app
from demos.web_config import WebConfig

LOCAL = "http://127.0.0.1:7860"
ROUTES = sorted(BODIES)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


B64 = base64.b64encode(png()).decode()
IMG = {"image": B64}


@pytest.fixture(scope="module")
def client(tiny_services, tmp_path_factory):
    app = create_app(tiny_services, WebConfig(index=tmp_path_factory.mktemp("contracts") / "idx", max_upload_mb=1.0))
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


def raw_json(route_body: dict, extra: str) -> dict:
    """A JSON body with ``extra`` (raw JSON text such as ``"k": 1e400``) spliced in."""
    return {"content": json.dumps(route_body)[:-1].encode() + b", " + extra.encode() + b"}",
            "headers": {"content-type": "application/json"}}  # fmt: skip


CLASSIFY = {**IMG, "labels": ["a", "b"]}
ASK = {"question": "what colour is it?"}
MALFORMED = [
    # (route, request kwargs, message start)
    *[
        ("/v1/classify", {"json": {**CLASSIFY, f: v}}, f"{f}: expected {t}")
        for f, t in (("top_k", "an integer"), ("threshold", "a number"))
        for v in ("abc", None, True, [1])
    ],  # fmt: skip
    *[
        ("/v1/search", {"json": {"text": "red", f: v}}, f"{f}: expected {t}")
        for f, t in (("k", "an integer"), ("weight", "a number"))
        for v in ("abc", None, {})
    ],  # fmt: skip
    ("/v1/classify", raw_json(CLASSIFY, '"top_k": 1e400'), "top_k: expected a finite integer"),
    ("/v1/search", raw_json({"text": "red"}, '"k": 1e400'), "k: expected a finite integer"),
    ("/v1/search", raw_json({"text": "red"}, '"weight": 1e400'), "weight: expected a finite number"),
    ("/v1/classify", {"json": {**CLASSIFY, "top_k": 1.5}}, "top_k: expected an integer, got the number 1.5"),
    *[
        ("/v1/search", {"json": {"text": "red", f: v}}, f"{f}: expected text")
        for f in ("text", "negative")
        for v in (5, ["a"], {"a": 1})
    ],  # fmt: skip
    ("/v1/search", {"json": {"text": "red", "filters": {"colour": "red"}}}, "filters: expected a list of expressions"),
    ("/v1/search", {"json": {"text": "red", "filters": [1, 2]}}, "filters[0]: expected an expression"),
    ("/v1/search", {"json": {"text": "red", "where": [1]}}, "where: expected a JSON object, got a JSON list"),
    ("/v1/ask", {"json": {**ASK, "context_text": 5}}, "context_text: expected text, got the number 5"),
    ("/v1/ask", {"json": {**ASK, "contexts": 5}}, "contexts: expected a list of"),
    ("/v1/ask", {"json": {**ASK, "contexts": [1]}}, "contexts[0]: expected an object"),
    ("/v1/ask", {"json": {**ASK, "contexts": [{"name": "a", "text": 7}]}}, "contexts[0].text: expected text"),
    ("/v1/ask", {"json": {"question": 5}}, "question: expected text, got the number 5"),
    ("/v1/ask", {"json": {**ASK, "stream": "maybe"}}, "stream: expected true or false, got the text 'maybe'"),
    *[
        (route, {"json": {**body, "explain": "abc"}}, "explain: expected true or false, got the text 'abc'")
        for route, body in (("/v1/ask", {**ASK, **IMG}), ("/v1/classify", CLASSIFY), ("/v1/search", {"text": "red"}))
    ],  # fmt: skip
    ("/v1/items", {"json": {"images": [B64], "metadata": [1]}}, "metadata: expected a JSON object, got a JSON list"),
    ("/v1/items", {"json": {"images": [B64], "metadata": 5}}, "metadata: expected a JSON object, got the number 5"),
    ("/v1/items", {"json": {"images": [B64], "metadata": {"a": {"b": 1}}}}, "metadata.a: expected text, a number"),
    ("/v1/items", {"json": {"images": [B64], "id": True}}, "id: expected text, got true"),
    ("/v1/classify", {"json": {"image": 5, "labels": ["a"]}}, "image: expected base64 text"),
    ("/v1/classify", {"json": {**IMG, "labels": [1]}}, "labels[0]: expected text"),
    ("/v1/inspect", {"json": {**IMG, "inspector": ["tex"]}}, "inspector: expected text, got a JSON list"),
    ("/v1/inspectors", {"json": {"name": "x", "images": [B64, B64], "size": [1]}}, "size: expected an integer"),
    ("/v1/labelsets", {"json": {"name": 5, **IMG, "labels": ["a"]}}, "name: expected text, got the number 5"),
    ("/v1/labelsets", {"json": {"name": "ok", **IMG, "labels": 5}}, "labels: expected a list of texts"),
    ("/v1/index/tune", {"json": {"text_columns": 5}}, "text_columns: expected a list of texts"),
    ("/v1/index/tune", {"json": {"text_columns": "name", "holdout": "abc"}}, "holdout: expected a number"),
    ("/v1/locate", {"json": {**IMG, "phrase": 5}}, "phrase: expected text, got the number 5"),
    ("/v1/classify", {"json": [1]}, "the JSON body must be an object, got a JSON list"),
]


@pytest.mark.parametrize(("route", "kwargs", "message"), MALFORMED, ids=[m[2][:50] for m in MALFORMED])
def test_a_wrong_type_is_422_naming_the_field_and_the_expected_type(client, route, kwargs, message):
    r = client.post(route, **kwargs)
    assert r.status_code == 422 and r.json()["error"].startswith(message), r.text


REPEATED = [("top_k", "/v1/classify"), ("text", "/v1/search"), ("k", "/v1/search"), ("question", "/v1/ask"),
            ("stream", "/v1/ask"), ("metadata", "/v1/items"), ("id", "/v1/items"), ("inspector", "/v1/inspect"),
            ("name", "/v1/labelsets"), ("phrase", "/v1/locate"), ("where", "/v1/search")]  # fmt: skip


@pytest.mark.parametrize(("field", "route"), REPEATED)
def test_a_single_valued_form_field_sent_twice_is_422(client, field, route):
    files = [("image", ("a.png", png(), "image/png")), (field, (None, "1")), (field, (None, "2"))]
    if route == "/v1/ask" and field != "question":
        files.append(("question", (None, "what colour is it?")))
    r = client.post(route, files=files)
    assert r.status_code == 422 and r.json()["error"].startswith(f"{field}: expected "), r.text
    assert r.json()["error"].endswith("got the field 2 times (send it once)")


def test_repeated_list_fields_are_lists(client):
    files = [("image", ("a.png", png(), "image/png")), ("labels", (None, "red")), ("labels", (None, "blue"))]
    out = client.post("/v1/classify", files=files).json()
    assert {x["label"] for x in out["labels"]} == {"red", "blue"}


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_that_is_not_utf8_is_400_on_every_route(client, route):
    r = client.post(route, content=b'\xff\xfe{"a": 1}', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not UTF-8" in r.json()["error"]


def test_limits_keep_their_status(client):
    r = client.post("/v1/search", json={"text": "red", "filters": ["a=1"] * 5000})
    assert r.status_code == 400 and "5000 filters; at most 32" in r.json()["error"]
    r = client.post("/v1/classify", json={**CLASSIFY, "top_k": 0})
    assert r.status_code == 422 and "top_k: 0 is outside 1..1000" in r.json()["error"]


def test_form_text_is_read_as_its_type(client):
    out = client.post(
        "/v1/classify", files={"image": ("c.png", png(), "image/png")},
        data={"labels": "red, blue", "top_k": "1", "threshold": "0.25", "multi_label": "on"},
    ).json()  # fmt: skip
    assert out["multi_label"] is True and len(out["labels"]) == 1


def test_a_bad_label_set_in_a_stream_is_an_error_event(client):
    r = client.post("/v1/ask", json={**ASK, **IMG, "stream": True, "labelset": "nope"})
    assert r.status_code == 200 and 'event: error\ndata: {"error": "no label set \'nope\'' in r.text


def test_openapi_describes_every_post_body_and_the_error_shape(client):
    doc = client.get("/openapi.json").json()
    posts = {p for p, ops in doc["paths"].items() if "post" in ops and p.startswith("/v1/")}
    assert posts == set(BODIES)
    for path in posts:
        content = doc["paths"][path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "multipart/form-data"}, path
        assert "$ref" not in json.dumps(content), path  # inlined: nothing to resolve
        error = doc["paths"][path]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
        assert error["required"] == ["error"]
    classify = doc["paths"]["/v1/classify"]["post"]["requestBody"]["content"]
    top_k = classify["application/json"]["schema"]["properties"]["top_k"]
    assert (top_k["type"], top_k["minimum"], top_k["maximum"]) == ("integer", 1, 1000)
    assert classify["multipart/form-data"]["schema"]["properties"]["image"]["items"]["format"] == "binary"
    for path in ("/v1/ask", "/v1/classify", "/v1/search"):  # explain=true adds overlays; off by default
        for kind in ("application/json", "multipart/form-data"):
            explain = doc["paths"][path]["post"]["requestBody"]["content"][kind]["schema"]["properties"]["explain"]
            assert (explain["type"], explain["default"]) == ("boolean", False), (path, kind)


# ---- regressions found by the live schema fuzz (tests/test_contracts_live.py) --------------------------------


@pytest.mark.parametrize("path", ["/gradio_api/call/classify/not-an-event", "/gradio_api/queue/data?session_hash=nope"])
def test_an_unknown_gradio_event_stream_is_a_404_not_a_stream_that_breaks(client, path):
    r = client.get(path)  # Gradio opened a 200 event stream, then raised inside it: a truncated response
    assert r.status_code == 404 and r.json()["error"].startswith("no such event"), r.text[:300]


def test_a_started_gradio_call_still_streams(client):
    info = client.get("/gradio_api/info").json()
    params = info["named_endpoints"]["/classify"]["parameters"]
    data = [None, "cat", False] + [p.get("parameter_default") for p in params[3:]]
    r = client.post("/gradio_api/call/classify", json={"data": data})
    assert r.status_code == 200, r.text
    stream = client.get(f"/gradio_api/call/classify/{r.json()['event_id']}")
    assert stream.status_code == 200 and "upload an image first" in stream.text
