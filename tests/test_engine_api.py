"""The serving engine behind a real server (uvicorn on loopback, in this process; stand-in models that block
on an Event or generate forever), attacked as a client would: a full line answers 503 with Retry-After at
once while /healthz stays fast, a request whose deadline passes in the queue is a 504 the model never saw, a
client that leaves an SSE stream stops its generation, /metrics parses and counts (issue 18)."""

from __future__ import annotations

import base64
import dataclasses
import io
import logging
import threading
import time
from contextlib import contextmanager

import httpx
import numpy as np
import pytest
from PIL import Image

from demos.server import create_app
from demos.web_config import WebConfig
from eval.server_process import free_port
from multimodal.ask.answers import Answer
from multimodal.deadline import check_deadline
from multimodal.engine.config import EngineConfig
from multimodal.services import Lazy
from multimodal.zeroshot import ZeroShotClassifier

prometheus_parser = pytest.importorskip("prometheus_client.parser")


class HoldingEncoder:
    """The tiny encoder, recording image batches; while ``hold`` is clear, image passes wait for it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.image_batches: list[int] = []
        self.go = threading.Event()
        self.go.set()
        self.entered = threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_images(self, images):
        self.image_batches.append(len(images))
        self.entered.set()
        self.go.wait(30)
        return self.inner.embed_images(images)

    def embed_texts(self, texts):
        return self.inner.embed_texts(texts)


class EndlessAnswerer:
    """Streams tokens until stopped, checking the request's deadline before each (as the VLM's stopping
    criterion does between tokens); records how many it made and whether its generation was closed."""

    name = "endless"
    can_stream = True

    def __init__(self) -> None:
        self.tokens = 0
        self.closed = threading.Event()

    def answer(self, question, images, evidence):
        return Answer(text="never", confidence=0.0, abstained=True)

    def stream(self, question, images, evidence):
        try:
            while True:
                check_deadline("generating")
                time.sleep(0.01)
                self.tokens += 1
                yield "tok "
        finally:
            self.closed.set()


@pytest.fixture()
def stand_ins(tiny_services):
    encoder = HoldingEncoder(tiny_services.encoder)
    answerer = EndlessAnswerer()
    services = dataclasses.replace(
        tiny_services, encoder=encoder, zeroshot=ZeroShotClassifier(encoder, cache_dir=tiny_services.config.cache_dir)
    )
    object.__setattr__(services, "_answerer", Lazy(lambda: answerer))
    services.answerer()  # built: the server's services share it (they build only what was not built yet)
    return services, encoder, answerer


@contextmanager
def live(app):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    stop = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < stop and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def image_body() -> dict:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(buf, "PNG")
    return {"image": base64.b64encode(buf.getvalue()).decode(), "labels": ["a cat", "a dog"]}


def in_background(url: str, path: str, body: dict, out: list) -> threading.Thread:
    def post() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            out.append(c.post(path, json=body).status_code)

    t = threading.Thread(target=post)
    t.start()
    return t


def wait_until(cond, limit_s: float = 15.0) -> None:
    stop = time.monotonic() + limit_s
    while not cond():
        assert time.monotonic() < stop, "condition not reached"
        time.sleep(0.01)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a scrape, by (name, sorted labels); the strict parser raises on a malformed line."""
    out = {}
    for family in prometheus_parser.text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_full_queue_is_503_with_retry_after_at_once_and_healthz_stays_fast(stand_ins, tmp_path):
    services, encoder, _ = stand_ins
    app = create_app(services, WebConfig(index=tmp_path / "idx"), engine=EngineConfig(max_batch=1, queue_size=2))
    engine = app.state.engine
    with live(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        assert c.post("/v1/classify", json=image_body()).status_code == 200  # labels embedded and cached
        encoder.go.clear()
        encoder.entered.clear()
        codes: list[int] = []
        busy = [in_background(url, "/v1/classify", image_body(), codes)]
        encoder.entered.wait(10)  # one request inside the (blocked) model
        busy += [in_background(url, "/v1/classify", image_body(), codes) for _ in range(2)]
        wait_until(lambda: engine.workers["image"].depth == 2)  # and the line is full
        t0 = time.monotonic()
        r = c.post("/v1/classify", json=image_body())
        refused_in = time.monotonic() - t0
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1 and "busy" in r.json()["error"]
        health = []
        for _ in range(20):
            t0 = time.monotonic()
            h = c.get("/healthz")
            health.append(time.monotonic() - t0)
            assert h.status_code == 200 and h.json()["models"]["workers"]["image"]["waiting"] == 2
        # generous bounds (a shared CI machine): the point is "does not wait for the blocked model" (30 s)
        assert refused_in < 2.0 and max(health) < 2.0
        encoder.go.set()
        for t in busy:
            t.join()
        assert codes == [200, 200, 200]
        scrape = samples(c.get("/metrics").text)
    assert scrape[("sceneqa_requests_total", (("method", "POST"), ("route", "/v1/classify"), ("status", "503")))] == 1
    assert scrape[("sceneqa_requests_total", (("method", "POST"), ("route", "/v1/classify"), ("status", "200")))] == 4
    rejected = sum(v for (name, _), v in scrape.items() if name == "sceneqa_rejected_total")
    assert rejected == 1


def test_a_request_expired_in_the_queue_is_504_and_the_model_never_sees_it(stand_ins, tmp_path):
    services, encoder, _ = stand_ins
    config = WebConfig(index=tmp_path / "idx", request_timeout_s=1.0)
    app = create_app(services, config, engine=EngineConfig(max_batch=4, max_wait_ms=0))
    with live(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        assert c.post("/v1/classify", json=image_body()).status_code == 200
        before = list(encoder.image_batches)
        encoder.go.clear()
        encoder.entered.clear()
        codes: list[int] = []
        first = in_background(url, "/v1/classify", image_body(), codes)
        encoder.entered.wait(10)
        r = c.post("/v1/classify", json=image_body())  # queued behind the blocked pass until its deadline
        assert r.status_code == 504 and "gave up" in r.json()["error"]
        first.join()  # its own deadline passed inside the model: 504, its late result dropped
        encoder.go.set()
        wait_until(lambda: app.state.engine.stats()["busy"] == 0 and app.state.engine.stats()["waiting"] == 0)
        assert encoder.image_batches == [*before, 1]  # the expired request never reached the model
        assert c.post("/v1/classify", json=image_body()).status_code == 200  # later requests are not delayed
        scrape = samples(c.get("/metrics").text)
    assert codes == [504]
    assert scrape[("sceneqa_expired_total", (("worker", "image"),))] == 1
    assert scrape[("sceneqa_batch_size_count", (("worker", "image"),))] == len(encoder.image_batches)


def test_a_client_leaving_the_sse_stream_stops_its_generation(stand_ins, tmp_path):
    services, _, answerer = stand_ins
    app = create_app(services, WebConfig(index=tmp_path / "idx", request_timeout_s=60))
    body = {"question": "what does the log say?", "context_text": "valve 7 inspected", "stream": True}
    with live(app) as url:
        with httpx.Client(base_url=url, timeout=30) as c, c.stream("POST", "/v1/ask", json=body) as r:
            assert r.status_code == 200
            seen = 0
            for line in r.iter_lines():
                seen += line.startswith("event: token")
                if seen == 3:
                    break  # leaving the with-block closes the connection: the client is gone
        assert answerer.closed.wait(10)  # the generation was stopped, not left running to its deadline
        n = answerer.tokens
        time.sleep(0.2)
        assert answerer.tokens == n
        wait_until(lambda: app.state.engine.stats()["busy"] == 0)


def test_metrics_parse_count_routes_and_every_request_is_logged(stand_ins, tmp_path, caplog):
    services, _, _ = stand_ins
    app = create_app(services, WebConfig(index=tmp_path / "idx", api_token="tok"))
    auth = {"Authorization": "Bearer tok"}
    with caplog.at_level(logging.INFO, logger="sceneqa.serve.requests"):
        with live(app) as url, httpx.Client(base_url=url, timeout=30) as c:
            assert c.get("/metrics").status_code == 401  # the API token guards it too
            r = c.post("/v1/classify", json=image_body(), headers={**auth, "X-Request-ID": "probe-42"})
            assert r.status_code == 200 and r.headers["x-request-id"] == "probe-42"
            assert c.get("/v1/items/nope/image", headers=auth).status_code == 404
            m = c.get("/metrics", headers=auth)
    assert m.headers["content-type"].startswith("text/plain")
    scrape = samples(m.text)
    key = ("sceneqa_requests_total", (("method", "POST"), ("route", "/v1/classify"), ("status", "200")))
    assert scrape[key] == 1
    # the route template, never the raw path (bounded label values)
    route = ("sceneqa_requests_total", (("method", "GET"), ("route", "/v1/items/{item_id}/image"), ("status", "404")))
    assert scrape[route] == 1
    assert any(n == "sceneqa_request_seconds_bucket" and dict(lbl)["route"] == "/v1/classify" for n, lbl in scrape)
    assert scrape[("sceneqa_batch_size_count", (("worker", "image"),))] >= 1
    assert scrape[("sceneqa_model_seconds_count", (("worker", "image"),))] >= 1
    assert {dict(lbl)["worker"] for n, lbl in scrape if n == "sceneqa_queue_depth"} >= {"image", "text", "answerer"}
    lines = [r.getMessage() for r in caplog.records if r.name == "sceneqa.serve.requests"]
    probe = [line for line in lines if "probe-42" in line]
    assert len(probe) == 1 and "/v1/classify 200" in probe[0] and "queue=" in probe[0] and "model=" in probe[0]


def test_a_full_server_refuses_a_model_request_before_reading_its_body(stand_ins, tmp_path):
    import socket
    from urllib.parse import urlsplit

    services, encoder, _ = stand_ins
    app = create_app(services, WebConfig(index=tmp_path / "idx"), engine=EngineConfig(max_batch=1, queue_size=2))
    with live(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        assert c.post("/v1/classify", json=image_body()).status_code == 200
        encoder.go.clear()
        encoder.entered.clear()
        codes: list[int] = []
        busy = [in_background(url, "/v1/classify", image_body(), codes)]
        encoder.entered.wait(10)
        busy += [in_background(url, "/v1/classify", image_body(), codes) for _ in range(2)]
        wait_until(lambda: app.state.engine.workers["image"].depth == 2)  # 3 in flight: the capacity (2 + 1)
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
            # a body announced but never sent: only a refusal that does not read it can answer
            s.sendall(
                b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000000\r\n\r\n"
            )
            reply = b""
            while b"busy" not in reply and (chunk := s.recv(4096)):
                reply += chunk
        head = reply.decode("latin-1")
        assert head.startswith("HTTP/1.1 503") and "retry-after: 1" in head.lower() and "busy" in head
        assert c.post("/v1/search", json={"text": "x"}).status_code == 503  # every model route
        assert c.get("/healthz").status_code == 200  # not a model route
        encoder.go.set()
        for t in busy:
            t.join()
        assert codes == [200, 200, 200]
        assert c.post("/v1/classify", json=image_body()).status_code == 200  # room again: served
