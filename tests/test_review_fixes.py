"""Regressions for what an attacker's review of the issue 12 fixes found: the UI skipping the API's caps, values
that break every later JSON answer, clients widening declared columns, login back-off bypassed through
X-Forwarded-For, uploads growing the disk, CORS grants to other sites, 500s on odd input, hard links."""

from __future__ import annotations

import base64
import io
import json
import os
import time

import gradio as gr
import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demos.gate import ModelGate
from demos.server import create_app
from demos.upload_guard import ForbiddenPathError, confine, sweep_uploads
from demos.web_config import WebConfig
from retrieval.errors import MetadataLimitError
from retrieval.store import CatalogStore
from tests.server_util import running_server

LOCAL = "http://127.0.0.1:7860"


def png(colour=(200, 40, 40), size=48, mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (size, size), colour if mode == "RGB" else 0).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def client(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", max_request_megapixels=2.0))
    with TestClient(app, base_url=LOCAL) as c:
        yield c


def test_ui_handlers_apply_the_api_caps(tiny_services, tmp_path, monkeypatch):
    from demos.catalog_handle import CatalogHandle
    from demos.request_limits import RequestLimits
    from demos.ui import build_demo

    root = tmp_path / "ui"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    limits = RequestLimits(max_megapixels=2.0)
    demo = build_demo(
        tiny_services,
        CatalogHandle(tmp_path / "idx", tiny_services),
        ModelGate.sized(1, 4),
        upload_root=root,
        limits=limits,
    )
    fns = {f.fn.__name__: f.fn for f in demo.fns.values() if f.fn is not None}
    small, big, log = root / "small.png", root / "big.png", root / "big.log"
    small.write_bytes(png())
    big.write_bytes(png(size=1200, mode="1"))  # 1.44 MP declared, a few hundred bytes
    log.write_text("pump 1 ok\n" * 600_000)  # 6 MB of records
    with pytest.raises(gr.Error, match="at most 16"):
        list(fns["do_ask"]([str(small)] * 17, "what?", [], "", False))  # the same upload repeated
    with pytest.raises(gr.Error, match="budget"):
        fns["add_files"]([str(big)] * 2, "", None)
    with pytest.raises(gr.Error, match="MB together"):
        list(fns["do_ask"]([], "what was found?", [str(log)], "", False))
    rows = root / "rows.csv"
    rows.write_text("id,image\n" + "".join(f"r{i},small.png\n" for i in range(1500)))
    with pytest.raises(gr.Error, match="more than 1000 rows"):
        fns["add_files"]([str(small)], "", str(rows))
    assert not (tmp_path / "idx" / "store.sqlite").exists()


def test_values_json_cannot_carry_are_refused_and_search_keeps_working(client):
    img = base64.b64encode(png()).decode()
    body = '{"images": ["' + img + '"], "metadata": {"x": Infinity}}'
    r = client.post("/v1/items", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "Infinity" in r.json()["error"]
    for meta in ({"x": 1e999}, {"x": {"nested": 1}}, {"x": 10**30}):
        r = client.post(
            "/v1/items",
            content=json.dumps({"images": [img], "metadata": meta}).replace("inf", "1e999"),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == (422 if isinstance(meta["x"], dict) else 400), meta  # 422: a wrong type
    r = client.post(
        "/v1/items",
        content='{"images": ["' + img + '"], "id": "\\ud800"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "Unicode" in r.json()["error"]
    assert client.post("/v1/items", json={"images": [img], "id": "ok"}).status_code == 200
    assert client.post("/v1/search", json={"text": "red", "k": 200}).status_code == 200


def test_odd_numbers_and_filters_are_400s_not_500s(client):
    client.post("/v1/items", json={"images": [base64.b64encode(png()).decode()], "id": "a"})
    cases = [
        '{"text": "x", "k": 1e999}',
        '{"text": "x", "k": ' + "9" * 5000 + "}",
        json.dumps({"text": "x", "filters": ["year in (" + ",".join(map(str, range(3000))) + ")"]}),
    ]
    for body in cases:
        r = client.post("/v1/search", content=body, headers={"content-type": "application/json"})
        expected = 422 if "1e999" in body else 400  # 422: k is not a finite integer
        assert r.status_code == expected and len(r.text) < 2000, body[:60]
    r = client.post("/v1/search", json={"text": "x", "filters": ["y=" + "z" * 3_000_000]})
    assert r.status_code in (400, 413) and len(r.text) < 2000


def test_clients_cannot_widen_a_declared_column(tmp_path):
    store = CatalogStore(tmp_path / "s.sqlite", dim=4)
    from retrieval.records import ItemRecord

    vec = [1.0, 0.0, 0.0, 0.0]
    store.upsert([ItemRecord("a", "a.png", "h1", vec, {"year": 2012})])  # a trusted writer declares 'year'
    with pytest.raises(MetadataLimitError, match="declared integer column"):
        store.upsert([ItemRecord("b", "b.png", "h2", vec, {"year": "not-a-year"})], new_columns=False)
    assert store.schema() == {"year": "integer"}


def test_reads_from_other_sites_get_no_cors_grant(tiny_services, tmp_path):
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", host="::1"))
    with TestClient(app, base_url="http://[::1]:7860") as c:
        r = c.get("/config", headers={"origin": "http://evil.example"})
        assert not any(k.lower().startswith("access-control-") for k in r.headers)
        r = c.options(
            "/gradio_api/upload", headers={"origin": "http://evil.example", "access-control-request-method": "POST"}
        )
        assert "access-control-allow-origin" not in r.headers


def test_hard_links_and_old_uploads(tmp_path):
    root = tmp_path / "up"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    os.link(secret, root / "hard.txt")
    with pytest.raises(ForbiddenPathError):
        confine(root / "hard.txt", root)
    (root / "sub").mkdir()
    old, new = root / "sub" / "old.png", root / "new.png"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert sweep_uploads(root, older_than_s=3600) == 1 and new.exists() and not (root / "sub").exists()


@pytest.mark.slow
def test_login_back_off_ignores_forwarded_for(tmp_path):
    with running_server(tmp_path / "cache", tmp_path / "idx", "--ui-auth", "u:p") as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            codes = [c.post("/login", data={"username": "u", "password": f"x{i}"}).status_code for i in range(6)]
            assert codes[-1] == 429
            spoofed = {"X-Forwarded-For": "10.0.0.1", "X-Real-IP": "10.0.0.2", "Forwarded": "for=10.0.0.3"}
            r = c.post("/login", data={"username": "u", "password": "p"}, headers=spoofed)
            assert r.status_code == 429  # still the same client: the header is not trusted
