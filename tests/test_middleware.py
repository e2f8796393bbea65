"""The server's ASGI guards on their own (issue 12: S2 Host and Origin, S3 streamed body cap, login back-off),
and the one error shape."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from demos.middleware import BodyLimit, HostGuard, LoginThrottle, OriginGuard, host_name


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request):
        body = await request.body()
        return {"n": len(body)}

    @app.get("/echo")
    async def get_echo():
        return {"ok": True}

    @app.post("/login")
    async def login(request: Request):
        form = await request.form()
        from fastapi import HTTPException

        if form.get("password") != "right":
            raise HTTPException(400, "Incorrect credentials.")
        return {"success": True}

    return app


def test_host_name_parsing():
    assert host_name("127.0.0.1:7860") == "127.0.0.1"
    assert host_name("[::1]:7860") == "::1"
    assert host_name("LocalHost") == "localhost"
    assert host_name("::1") == "::1"


def test_host_guard_refuses_rebinding_names():
    c = TestClient(HostGuard(echo_app(), ["127.0.0.1", "localhost"]), base_url="http://127.0.0.1:7860")
    assert c.get("/echo").status_code == 200
    r = c.get("/echo", headers={"host": "rebind.evil.example"})
    assert r.status_code == 400 and "rebind.evil.example" in r.json()["error"]
    assert c.get("/echo", headers={"host": "localhost:7860"}).status_code == 200


def test_origin_guard_refuses_cross_site_writes_only():
    c = TestClient(OriginGuard(echo_app()), base_url="http://127.0.0.1:7860")
    evil = {"origin": "http://evil.example"}
    r = c.post("/echo", content=b"{}", headers={**evil, "content-type": "text/plain"})
    assert r.status_code == 403 and "cross-site" in r.json()["error"]
    assert c.post("/echo", content=b"x", headers={"origin": "null"}).status_code == 403
    assert c.post("/echo", content=b"x", headers={"sec-fetch-site": "cross-site"}).status_code == 403
    assert c.get("/echo", headers=evil).status_code == 200  # reads are not writes
    assert c.post("/echo", content=b"x", headers={"origin": "http://127.0.0.1:7860"}).json() == {"n": 1}
    assert c.post("/echo", content=b"x").json() == {"n": 1}  # curl and SDKs send no Origin


def test_body_limit_counts_streamed_bytes():
    c = TestClient(BodyLimit(echo_app(), 1000), base_url="http://127.0.0.1:7860")
    assert c.post("/echo", content=b"x" * 1000).json() == {"n": 1000}
    declared = c.post("/echo", content=b"x" * 1001)
    assert declared.status_code == 413 and "upload limit" in declared.json()["error"]
    sent = []

    def chunks():  # chunked transfer: no Content-Length to check
        for _ in range(100):
            sent.append(1)
            yield b"y" * 300

    r = c.post("/echo", content=chunks())
    assert r.status_code == 413 and "upload limit" in r.json()["error"]


def test_login_back_off_per_client():
    now = [1000.0]
    c = TestClient(LoginThrottle(echo_app(), free=3, clock=lambda: now[0]), base_url="http://127.0.0.1:7860")
    for _ in range(3):
        assert c.post("/login", data={"password": "wrong"}).status_code == 400
    r = c.post("/login", data={"password": "right"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1  # even the right password waits
    now[0] += 1.5
    assert c.post("/login", data={"password": "right"}).status_code == 200
    assert c.post("/login", data={"password": "wrong"}).status_code == 400  # reset after success
