"""The HTTP API against the real app (FastAPI TestClient), tiny encoder, scene-facts answerer."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from demos.server import create_app
from demos.web_config import WebConfig

LOCAL = "http://127.0.0.1:7860"


def png(colour=(220, 30, 30), shape="circle", size=96) -> bytes:
    img = Image.new("RGB", (size, size), (245, 245, 240))
    d = ImageDraw.Draw(img)
    (d.ellipse if shape == "circle" else d.rectangle)((20, 20, size - 20, size - 20), fill=colour)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def client(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", max_upload_mb=1.0))
    with TestClient(app, base_url=LOCAL) as c:
        yield c


def test_health_docs_and_empty_index(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/openapi.json").status_code == 200 and client.get("/docs").status_code == 200
    assert client.get("/v1/index").json()["count"] == 0
    r = client.post("/v1/search", json={"text": "red"})
    assert r.status_code == 404 and "catalog is empty" in r.json()["error"]


def test_classify_json_and_multipart(client):
    body = {"image": base64.b64encode(png()).decode(), "labels": ["a cat", "a dog"], "multi_label": False}
    out = client.post("/v1/classify", json=body).json()
    assert set(out) >= {"image", "labels", "abstained", "encoder", "tier"} and out["tier"] == "tiny"
    assert {x["label"] for x in out["labels"]} == {"a cat", "a dog"}
    out = client.post(
        "/v1/classify",
        files={"image": ("c.png", png(), "image/png")},
        data={"labels": "red, blue", "multi_label": "true"},
    ).json()
    assert out["multi_label"] is True and out["image"] == "c.png"


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"image": "not base64!!", "labels": ["a"]}}, 400, "not valid base64"),
        ({"json": {"labels": ["a"]}}, 400, "no image"),
        ({"json": {"image": base64.b64encode(b"hello, not an image").decode(), "labels": ["a"]}}, 200, "not an image"),
        ({"content": b"x" * (2 * 2**20), "headers": {"content-type": "application/json"}}, 413, "upload limit"),
        ({"content": b"{broken", "headers": {"content-type": "application/json"}}, 400, "not JSON"),
        ({"json": {"image": "/etc/passwd", "labels": ["a"]}}, 400, "not valid base64"),  # never a server path
    ],
)
def test_bad_requests(client, kwargs, status, message):
    r = client.post("/v1/classify", **kwargs)
    assert r.status_code == status and message in json.dumps(r.json())


def test_items_search_image_and_delete(client):
    for n, c, s in (
        ("red-circle", (220, 30, 30), "circle"),
        ("blue-square", (30, 60, 210), "square"),
        ("green-circle", (40, 160, 60), "circle"),
    ):
        files = [("image", (f"{n}.png", png(c, s), "image/png"))]
        data = {"metadata": json.dumps({"kind": "sticker"}), "id": n}
        added = client.post("/v1/items", files=files, data=data).json()
        assert added["added"] == 1 and added["failed"] == []
    info = client.get("/v1/index").json()
    # clients cannot grow the schema: their keys live in the item's extra JSON, still filterable (S4)
    assert info["count"] == 3 and info["schema"] == {} and info["folder"] == "idx"
    res = client.post("/v1/search", json={"text": "a red circle", "k": 2, "filters": ["kind=sticker"]}).json()
    assert len(res["results"]) == 2 and res["results"][0]["image"].startswith("/v1/items/")
    img = client.get(res["results"][0]["image"])
    assert img.status_code == 200 and Image.open(io.BytesIO(img.content)).size == (96, 96)
    like = client.post("/v1/search", data={"like": "red-circle", "k": "5"}).json()
    assert "red-circle" not in [h["id"] for h in like["results"]]
    assert client.delete("/v1/items/red-circle").json() == {"removed": ["red-circle"]}
    assert client.delete("/v1/items/red-circle").status_code == 404
    assert client.get("/v1/items/red-circle/image").status_code == 404
    assert client.post("/v1/items", files=[("image", ("t.txt", b"text", "text/plain"))]).json()["failed"]


def test_ask_json_multipart_and_stream(client):
    body = {
        "question": "what color is the circle?",
        "images": [base64.b64encode(png()).decode()],
        "contexts": [{"name": "notes.log", "text": "line one\nsticker 7 is red"}],
    }
    out = client.post("/v1/ask", json=body).json()
    assert out["answer"] == "red" and out["citations"][0]["locator"] == "image:1#object1"
    out = client.post(
        "/v1/ask",
        data={"question": "what is sticker 7?"},
        files=[("context", ("notes.log", b"line one\nsticker 7 is red", "text/plain"))],
    ).json()
    assert out["citations"][0]["locator"] == "notes.log:L2"
    with client.stream("POST", "/v1/ask", json={**body, "stream": True}) as r:
        text = "".join(r.iter_text())
    assert "event: token" in text and "event: answer" in text
    bad = client.post("/v1/ask", json={"question": "", "images": body["images"]})
    assert bad.status_code == 400 and "the question is empty" in bad.json()["error"]


def test_api_token(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", api_token="s3cret"))
    with TestClient(app, base_url=LOCAL) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/v1/index")
        assert r.status_code == 401 and "Authorization: Bearer" in r.json()["error"]
        assert c.get("/v1/index", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/v1/index", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_request_time_limit(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", request_timeout_s=0.001))
    with TestClient(app, base_url=LOCAL) as c:
        body = {"image": base64.b64encode(png()).decode(), "labels": [f"label {i}" for i in range(300)]}
        r = c.post("/v1/classify", json=body)
        stop = time.monotonic() + 5
        while app.state.gate.stats()["busy"] and time.monotonic() < stop:
            time.sleep(0.05)
        assert app.state.gate.stats()["busy"] == 0  # the abandoned call ended; nothing holds the gate
    assert r.status_code == 504 and ("longer than" in r.json()["error"] or "gave up" in r.json()["error"])


def test_no_cross_origin_access(client):
    """Served on loopback (the default), neither the API nor the UI answers other origins' browsers."""
    evil = {"Origin": "http://evil.example", "Host": "127.0.0.1:7860"}
    assert "access-control-allow-origin" not in client.get("/v1/index", headers=evil).headers
    assert client.get("/config", headers=evil).headers.get("access-control-allow-origin") != "http://evil.example"
    local = {"Origin": "http://127.0.0.1:7860", "Host": "127.0.0.1:7860"}
    assert client.get("/config", headers=local).status_code == 200


def test_every_v1_route_needs_the_token_and_the_ui_its_login(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", api_token="s3cret", ui_auth=("ann", "pw1")))
    paths = app.openapi()["paths"]
    routes = [(m.upper(), p) for p, ops in paths.items() if p.startswith("/v1/") for m in ops]
    assert len(routes) >= 7
    with TestClient(app, base_url=LOCAL) as c:
        for method, path in routes:
            r = c.request(method, path.replace("{item_id}", "x"), headers={"Authorization": "Bearer s3cre"})
            assert r.status_code == 401, (method, path)
        assert c.get("/config").status_code == 401
        assert c.post("/login", data={"username": "ann", "password": "wrong"}).status_code == 400
        assert c.get("/gradio_api/info").status_code == 401
        assert c.post("/login", data={"username": "ann", "password": "pw1"}).status_code == 200
        assert c.get("/config").status_code == 200
