"""Issue 18 item 5: every route's real answers, as a client gets them from the app (tiny tier), match what
/openapi.json documents for their status: the JSON of every success (closed objects: no undocumented key),
the ``{"error": ...}`` shape of errors, the events of a streamed ask, the content types of /metrics and item
images. One walk through the API that reaches every documented answer shape (empty and full catalog, one
image and several, unreadable images, explain=true, label sets, inspectors, damaged ones, tuning)."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from demos.server import create_app
from demos.web_config import WebConfig
from tests.catalog_data import make_catalog, write_csv
from tests.cli_util import tiny_argv
from tests.inspect_data import texture

schemathesis = pytest.importorskip("schemathesis")

LOCAL = "http://127.0.0.1:7860"
JUNK = base64.b64encode(b"not an image").decode()


def png(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def swatch(i: int) -> str:
    """A distinct small picture per ``i`` (items of one catalog must not be duplicates)."""
    rng = np.random.default_rng(i)
    img = Image.new("RGB", (64, 48), tuple(int(v) for v in rng.integers(0, 256, 3)))
    x = int(rng.integers(0, 30))
    ImageDraw.Draw(img).rectangle([x, 8, x + 30, 40], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return png(img)


@pytest.fixture(scope="module")
def walk(tiny_services, tmp_path_factory):
    """``(client, check, dirs)``: ``check(method, path, status, **request)`` sends the request, asserts the
    status and that the answer conforms to the documented one, and returns the response."""
    base = tmp_path_factory.mktemp("answers")
    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=base / "cache"))
    config = WebConfig(index=base / "idx", max_upload_mb=2.0, inspectors_dir=base / "inspectors")
    app = create_app(services, config)
    with TestClient(app, base_url=LOCAL) as client:
        doc = client.get("/openapi.json").json()
        schema = schemathesis.openapi.from_dict(doc)

        def check(method: str, path: str, status: int, **request):
            r = client.request(method, path.format(**request.pop("params", {})), **request)
            assert r.status_code == status, (method, path, r.status_code, r.text[:500])
            declared = doc["paths"][path][method.lower()]["responses"][str(status)]["content"]
            media = r.headers["content-type"].split(";")[0]
            assert media in declared or f"{media.split('/')[0]}/*" in declared, (method, path, media, list(declared))
            schema[path][method].validate_response(r)
            return r

        yield client, check, {"base": base, "labelsets": base / "cache/labelsets", "inspectors": base / "inspectors"}


def test_status_and_catalog_answers(walk, cache_dir):
    from sceneqa.cli import main

    _, check, dirs = walk
    check("GET", "/healthz", 200)
    assert check("GET", "/metrics", 200).headers["content-type"].startswith("text/plain")
    assert check("GET", "/v1/index", 200).json()["count"] == 0
    check("POST", "/v1/search", 404, json={"text": "red"})  # an empty catalog
    check("POST", "/v1/index/tune", 404, json={"text_columns": ["title"]})
    rows = make_catalog(dirs["base"] / "src", 24)  # a catalog file with a text column: enough to tune on
    csv = write_csv(dirs["base"] / "src" / "cat.csv", rows)
    assert main([*tiny_argv(cache_dir), "index", "add", str(csv), "--index", str(dirs["base"] / "idx")]) == 0
    for i in range(20):
        item = {"image": swatch(i), "id": f"item-{i}", "metadata": {"name": f"thing {i}"}}
        check("POST", "/v1/items", 200, json=item)
    added = check("POST", "/v1/items", 200, json={"images": [swatch(0), swatch(99)], "metadata": {"n": 1.5}}).json()
    assert added["added"] + added["updated"] + added["metadata_updated"] + added["unchanged"] >= 1
    assert check("POST", "/v1/items", 200, json={"image": JUNK}).json()["failed"]
    assert check("GET", "/v1/index", 200).json()["count"] >= 20
    hits = check("POST", "/v1/search", 200, json={"text": "thing", "k": 3, "where": {"name": {"!=": "x"}}}).json()
    assert hits["results"] and "explanation_note" not in hits
    explained = check("POST", "/v1/search", 200, json={"text": "thing", "k": 5, "explain": True}).json()
    assert "explanation" in explained["results"][0] and "explanation_note" in explained
    check("POST", "/v1/search", 200, json={"image": swatch(3), "text": "thing", "hybrid": True, "negative": "dog"})
    check("POST", "/v1/search", 200, json={"like": "item-1", "explain": True})
    image = check("GET", "/v1/items/{item_id}/image", 200, params={"item_id": "item-1"})
    assert image.headers["content-type"].startswith("image/")
    check("GET", "/v1/items/{item_id}/image", 404, params={"item_id": "nope"})
    tuned = check("POST", "/v1/index/tune", 200, json={"text_columns": ["title"]}).json()
    assert "held_out_recall@10" in tuned
    check("POST", "/v1/index/tune", 400, json={"text_columns": ["nope"]})
    assert check("DELETE", "/v1/items/{item_id}", 200, params={"item_id": "item-19"}).json() == {"removed": ["item-19"]}
    check("DELETE", "/v1/items/{item_id}", 404, params={"item_id": "item-19"})


def test_classify_ask_and_locate_answers(walk):
    _, check, _ = walk
    one = check("POST", "/v1/classify", 200, json={"image": swatch(1), "labels": ["red", "blue"]}).json()
    assert "labels" in one
    bad = check("POST", "/v1/classify", 200, json={"image": JUNK, "labels": ["red"]}).json()
    assert "error" in bad
    several = {"images": [swatch(1), JUNK], "labels": "red, blue", "multi_label": True, "explain": True}
    rows = check("POST", "/v1/classify", 200, json=several).json()["results"]
    assert "error" in rows[1] and all("explanation" in row for row in rows)
    question = {"question": "what colour is the square?", "image": swatch(2)}
    check("POST", "/v1/ask", 200, json=question)
    check("POST", "/v1/ask", 200, json={**question, "context_text": "the square is red", "use_catalog": True})
    check("POST", "/v1/ask", 200, json={"question": "what is here?", "images": [swatch(2), swatch(3)]})
    two = {"question": "what colour is the square?", "images": [swatch(2), swatch(3)], "explain": True}
    assert check("POST", "/v1/ask", 200, json=two).json()["explanation"]["overlays"]
    streamed = check("POST", "/v1/ask", 200, json={**question, "stream": True})
    assert streamed.headers["content-type"].startswith("text/event-stream") and "event: answer" in streamed.text
    failed = check("POST", "/v1/ask", 200, json={**question, "stream": True, "labelset": "nope"})
    assert "event: error" in failed.text
    check("POST", "/v1/ask", 400, json={"question": ""})
    located = check("POST", "/v1/locate", 200, json={"image": swatch(4), "phrase": "the square"}).json()
    assert "overlay" in located
    located = check("POST", "/v1/locate", 200, json={"image": swatch(4), "phrase": "a dog", "overlay": False})
    assert "overlay" not in located.json()
    check("POST", "/v1/locate", 400, json={"images": [swatch(4), swatch(5)], "phrase": "x"})


def test_label_set_and_inspector_answers(walk):
    _, check, dirs = walk
    images = [swatch(i) for i in range(30, 36)]
    labels = ["red", "blue", "green"] * 2
    taught = check("POST", "/v1/labelsets", 201, json={"name": "colours", "images": images, "labels": labels})
    assert taught.json()["name"] == "colours"
    check("POST", "/v1/labelsets", 409, json={"name": "colours", "images": images, "labels": labels})
    row = check("POST", "/v1/classify", 200, json={"image": swatch(40), "labelset": "colours"}).json()
    assert row["labelset"] == "colours"
    check("POST", "/v1/classify", 200, json={"images": [swatch(40), JUNK], "labelset": "colours", "explain": True})
    check("POST", "/v1/classify", 404, json={"image": swatch(40), "labelset": "nope"})
    goods = [png(texture(i)) for i in range(6)]
    fitted = check("POST", "/v1/inspectors", 201, json={"name": "tex", "images": [*goods, JUNK], "size": 64}).json()
    assert fitted["skipped"] and fitted["skipped_count"] == 1
    check("POST", "/v1/inspect", 200, json={"inspector": "tex", "image": png(texture(50))})
    both = {"inspector": "tex", "images": [png(texture(51, blob=(30, 30, 12))), JUNK], "labelset": "colours"}
    rows = check("POST", "/v1/inspect", 200, json=both).json()["results"]
    assert "error" in rows[1]
    check("POST", "/v1/inspect", 200, json={"inspector": "tex", "image": png(texture(52)), "heatmap": False})
    check("POST", "/v1/inspect", 404, json={"inspector": "nope", "image": png(texture(52))})
    for folder in (dirs["labelsets"] / "broken", dirs["inspectors"] / "broken"):  # listed with their error
        folder.mkdir(parents=True)
        (folder / ("labelset.json" if folder.parent == dirs["labelsets"] else "inspector.json")).write_text("{")
    listed = check("GET", "/v1/labelsets", 200).json()["labelsets"]
    assert {row["name"] for row in listed if "error" in row} == {"broken"}
    listed = check("GET", "/v1/inspectors", 200).json()["inspectors"]
    assert {row["name"] for row in listed if "error" in row} == {"broken"}
    assert str(dirs["inspectors"]) not in str(listed) and "<inspectors>/broken is damaged" in str(listed)
    assert check("DELETE", "/v1/labelsets/{name}", 200, params={"name": "colours"}).json() == {"removed": "colours"}
    check("DELETE", "/v1/labelsets/{name}", 404, params={"name": "colours"})


def test_every_operation_documents_its_success_and_error_answers(walk):
    client, _, _ = walk
    doc = client.get("/openapi.json").json()
    assert "$ref" not in json.dumps(doc["paths"])  # inlined: nothing to resolve
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert len(ok) == 1, (method, path, ok)
            content = op["responses"][ok[0]]["content"]
            assert all(media.get("schema") for media in content.values()), (method, path)
            error = op["responses"]["400"]["content"]["application/json"]["schema"]
            assert error["required"] == ["error"] and error["additionalProperties"] is False, (method, path)
    assert set(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    assert set(doc["paths"]["/v1/ask"]["post"]["responses"]["200"]["content"]) == {
        "application/json",
        "text/event-stream",
    }
