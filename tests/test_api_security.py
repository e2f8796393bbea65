"""Issue 12 regressions on the HTTP API (in-process app, every guard in place): content types, foreign origins
and hosts, streamed body caps, per-request caps, ids that never silently replace, no server paths, one error
shape, 405s, stored upload types. Real-server runs are in tests/test_serve_adversarial.py."""

from __future__ import annotations

import base64
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demos.server import create_app
from demos.web_config import WebConfig

LOCAL = "http://127.0.0.1:7860"


def png(colour=(200, 40, 40), size=64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture()
def app_client(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", max_upload_mb=1.0, max_request_megapixels=2.0))
    with TestClient(app, base_url=LOCAL) as c:
        yield app, c


@pytest.fixture()
def client(app_client):
    return app_client[1]


def test_json_only_as_application_json(client):
    body = json.dumps({"metadata": {"a": 1}, "images": [b64(png())]})
    r = client.post("/v1/items", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]
    assert client.get("/v1/index").json()["count"] == 0


def test_cross_site_writes_and_foreign_hosts_are_refused(client):
    evil = {"origin": "http://evil.example"}
    r = client.post("/v1/items", json={"images": [b64(png())]}, headers=evil)
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    assert client.post("/gradio_api/upload", files={"files": ("a.png", png())}, headers=evil).status_code == 403
    assert client.get("/v1/index").json()["count"] == 0
    r = client.get("/v1/index", headers={"host": "rebind.evil.example"})
    assert r.status_code == 400 and "not served here" in r.json()["error"]
    assert client.get("/config", headers={"host": "rebind.evil.example:7860"}).status_code == 400


def test_chunked_bodies_are_capped_while_streaming(client):
    def chunks():
        for _ in range(64):
            yield b"a" * 65536  # 4 MB, no Content-Length

    for ctype in ("application/json", "multipart/form-data; boundary=xx"):
        r = client.post("/v1/items", content=chunks(), headers={"content-type": ctype})
        assert r.status_code == 413 and "upload limit" in r.json()["error"]


def test_per_request_caps(client):
    r = client.post("/v1/classify", json={"images": [b64(png())] * 17, "labels": ["a"]})
    assert r.status_code == 413 and "at most 16" in r.json()["error"]
    big = io.BytesIO()
    Image.new("1", (1500, 1500)).save(big, "PNG")  # 2.25 MP declared, a few KB of bytes
    r = client.post("/v1/classify", json={"images": [b64(big.getvalue())], "labels": ["a"]})
    assert r.status_code == 413 and "budget" in r.json()["error"]
    r = client.post("/v1/search", json={"text": "x", "filters": [f"a={i}" for i in range(40)]})
    assert r.status_code == 400 and "at most 32" in r.json()["error"]
    r = client.post("/v1/ask", json={"question": "what?", "contexts": [{"name": "a.log", "text": "x" * 900_000}] * 7})
    assert r.status_code == 413


def test_uploads_never_replace_silently(client):
    first = client.post("/v1/items", json={"images": [b64(png((10, 10, 10)))]}).json()
    second = client.post("/v1/items", json={"images": [b64(png((250, 250, 250)))]}).json()
    assert first["added"] == 1 and second["added"] == 1  # no shared "image-1" id
    assert client.get("/v1/index").json()["count"] == 2
    assert client.post("/v1/items", json={"images": [b64(png((1, 2, 3)))], "id": "valve-7"}).status_code == 200
    r = client.post("/v1/items", json={"images": [b64(png((3, 2, 1)))], "id": "valve-7"})
    assert r.status_code == 409 and "replace" in r.json()["error"]
    r = client.post("/v1/items", json={"images": [b64(png((3, 2, 1)))], "id": "valve-7", "replace": True})
    assert r.status_code == 200 and r.json()["updated"] == 1
    for bad in ("", "a/b", "nul\x00", "x" * 300):
        r = client.post("/v1/items", json={"images": [b64(png())], "id": bad})
        assert r.status_code == 400 and "id" in r.json()["error"], bad


def test_delete_removes_the_stored_file_and_types_are_served_right(app_client, tmp_path):
    app, client = app_client
    jpeg = io.BytesIO()
    Image.new("RGB", (32, 32), (9, 99, 199)).save(jpeg, "JPEG")
    client.post("/v1/items", json={"images": [b64(jpeg.getvalue())], "id": "j1"})
    r = client.get("/v1/items/j1/image")
    assert r.headers["content-type"] == "image/jpeg" and r.headers["x-content-type-options"] == "nosniff"
    uploads = tmp_path / "idx" / "uploads"
    assert [p.suffix for p in uploads.iterdir()] == [".jpg"]
    assert client.delete("/v1/items/j1").json() == {"removed": ["j1"]}
    assert list(uploads.iterdir()) == []


def test_no_server_paths_and_one_error_shape(client, tmp_path):
    client.post("/v1/items", json={"images": [b64(png())], "id": "a"})
    texts = [
        client.get("/v1/index").text,
        client.post("/v1/search", json={"text": "red"}).text,
        client.post("/v1/search", json={"like": "missing-id"}).text,
    ]
    for text in texts:
        assert str(tmp_path) not in text and "/tmp" not in text
    for method, path in [("GET", "/v1/classify"), ("PUT", "/v1/items/a"), ("POST", "/v1/index")]:
        r = client.request(method, path)
        assert r.status_code == 405 and "error" in r.json() and r.headers["allow"], (method, path)
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and "error" in r.json()
    r = client.post("/v1/classify", json={"images": [b64(png())], "labels": ["a"], "top_k": "many"})
    assert r.status_code == 422 and "top_k: expected an integer" in r.json()["error"]


def test_stream_obeys_the_request_timeout(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", request_timeout_s=0.001))
    with TestClient(app, base_url=LOCAL) as c:
        body = {"question": "what colour is it?", "images": [b64(png())], "stream": True}
        with c.stream("POST", "/v1/ask", json=body) as r:
            text = "".join(r.iter_text())
    assert "event: error" in text and "event: answer" not in text


def test_ui_login_backs_off_after_wrong_passwords(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", ui_auth=("ann", "pw1")))
    with TestClient(app, base_url=LOCAL) as c:
        codes = [c.post("/login", data={"username": "ann", "password": f"guess{i}"}).status_code for i in range(8)]
        assert codes[:5] == [400] * 5 and 429 in codes[5:]
        r = c.post("/login", data={"username": "ann", "password": "pw1"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # no free guesses, even right ones
