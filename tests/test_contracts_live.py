"""Issue 18 item 5, against a real server: ``sceneqa serve`` (tiny tier, loopback, a free port, its own cache)
fuzzed by schemathesis over every operation of its live /openapi.json, bounded and seeded (schema-valid
requests for every operation, schema-violating ones for every POST), each answer checked: never a 5xx, its
status documented, its content type documented, its body valid under the documented schema (closed objects:
no undocumented key; the events of a streamed ask one by one). Then a handful of malformed calls of the
Gradio app mounted on the same server. The server log must show no request that failed inside the server."""

from __future__ import annotations

import base64
import io
import time
from collections import Counter

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from PIL import Image

from tests.server_util import running_server

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.slow
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25  # per operation and mode; Hypothesis may stop earlier when a schema allows fewer cases
BUDGET_S = 100.0  # for the whole fuzz; operations left when it is spent are reported, not fuzzed
BOUNDED = settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def b64png(colour) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (48, 40), colour).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


JSON_TYPE = {"content-type": "application/json"}
FORM_TYPE = {"content-type": "multipart/form-data"}  # no boundary
REAL = [b64png((200, 60 * i, 30)) for i in range(3)]
SENSIBLE = {  # values the fuzz may put in a field of its request, so that more requests are served
    "labelset": ["colours"],
    "inspector": ["tex"],
    "name": ["fuzz-1", "fuzz-2"],
    "labels": [["red", "blue"], "red, blue, green"],
    "question": ["what colour is it?", "is there a dog?"],
    "phrase": ["the red square"],
    "text_columns": [["kind"]],
}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """``(url, log)`` of a running server with a label set and an inspector, so fuzzed requests can succeed."""
    base = tmp_path_factory.mktemp("live")
    with running_server(base / "cache", base / "idx", "--max-upload-mb", "2", "--request-timeout", "30") as url:
        with httpx.Client(base_url=url, timeout=60) as c:
            images = [b64png((200, 40 * i, 30)) for i in range(4)]
            r = c.post("/v1/labelsets", json={"name": "colours", "images": images, "labels": ["a", "b"] * 2})
            assert r.status_code == 201, r.text
            r = c.post("/v1/inspectors", json={"name": "tex", "images": images, "size": 64})
            assert r.status_code == 201, r.text
        yield url, base / f"serve-{url.rsplit(':', 1)[1]}.log"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(live):
    url, log = live
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"GET /healthz", "GET /metrics", "POST /v1/ask", "POST /v1/locate", "DELETE /v1/labelsets/{name}"} <= labels
    assert len(operations) >= 17
    runs = [(op, mode) for op in operations for mode in modes_of(op)]
    failures, skipped, calls, deadline = [], [], [], time.monotonic() + BUDGET_S
    with requests.Session() as session:
        for op, mode in runs:
            if time.monotonic() > deadline:
                skipped.append(f"{op.label} ({mode})")
                continue
            failure = fuzz(op, mode, url, session, calls)
            if failure:
                failures.append(failure)
    assert not failures, "\n\n".join(failures)
    statuses = Counter(calls)
    print(f"{len(calls)} requests, by status: {dict(sorted(statuses.items()))}")
    assert len(calls) >= 10 * len(operations) and sum(n for code, n in statuses.items() if code < 300) >= 50
    assert len(skipped) < len(runs) // 4, f"the fuzz budget ran out before: {skipped}"
    assert not server_errors(log), server_errors(log)


def modes_of(op) -> list[str]:
    """Schema-valid requests; for a POST also schema-violating ones and schema-valid ones with real images."""
    return ["positive"] + (["negative", "real images"] if op.method.upper() == "POST" else [])


@st.composite
def with_real_images(draw, op):
    """A schema-valid JSON request whose images are real PNGs and whose names may be ones the server has (or
    new valid ones), so requests get past decoding and naming and reach the models."""
    json_only = op.as_strategy(generation_mode=GenerationMode.POSITIVE).filter(lambda c: isinstance(c.body, dict))
    case = draw(json_only.filter(lambda c: c.media_type == "application/json"))
    body = {k: v for k, v in case.body.items() if k not in ("image", "images")}
    count = draw(st.sampled_from([1, 1, 2, 3]))
    body.update({"image": REAL[0]} if count == 1 else {"images": REAL[:count]})
    for key, value in SENSIBLE.items():
        if key in body and draw(st.booleans()):
            body[key] = draw(st.sampled_from(value))
    case.body = body
    return case


def fuzz(op, mode: str, url: str, session, calls: list[int]) -> str | None:
    """The first failure of ``op`` under ``mode`` (bounded, seeded), or None; each answer's status is added to
    ``calls``."""
    if mode == "real images":
        strategy = with_real_images(op)
    else:
        strategy = op.as_strategy(generation_mode=GenerationMode(mode))

    @seed(18)
    @BOUNDED
    @given(case=strategy)
    def run(case):
        response = case.call(base_url=url, session=session, timeout=60)
        calls.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Exception as exc:  # one report for all operations
        return f"{op.label} ({mode}): {str(exc)[:1500]}"
    return None


def server_errors(log) -> list[str]:
    """Lines of the server log that say a request failed inside the server (Gradio's own tracebacks of calls
    it refused, answered as ``event: error``, are not such lines)."""
    marks = ("Exception in ASGI application", "internal error on")
    return [line[:300] for line in log.read_text().splitlines() if any(m in line for m in marks)]


def test_malformed_gradio_calls_are_never_a_server_error(live):
    url, log = live
    calls = [
        ("POST", "/gradio_api/call/classify", {"content": b"\xff{not json", "headers": JSON_TYPE}),
        ("POST", "/gradio_api/call/classify", {"content": b"[1, 2]", "headers": JSON_TYPE}),
        ("POST", "/gradio_api/call/classify", {"json": {"data": "not a list"}}),
        ("POST", "/gradio_api/call/classify", {"json": {"data": []}}),  # wrong arity
        ("POST", "/gradio_api/call/classify", {"json": {"data": [None, "x" * 500_000, False]}}),  # a huge string
        ("POST", "/gradio_api/call/classify", {"json": {"data": [{"path": 5}, "cat", False]}}),
        ("POST", "/gradio_api/call/search", {"json": {"data": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}}),
        ("POST", "/gradio_api/call/ask", {"json": {"data": [[], {"a": 1}, [], "", "yes"]}}),
        ("POST", "/gradio_api/call/nope", {"json": {"data": []}}),
        ("POST", "/gradio_api/queue/join", {"content": b"garbage", "headers": JSON_TYPE}),
        ("POST", "/gradio_api/upload", {"content": b"--x\r\nbroken", "headers": FORM_TYPE}),
        ("GET", "/gradio_api/call/classify/not-an-event", {}),  # was a 200 stream that broke off
        ("GET", "/gradio_api/queue/data?session_hash=nope", {}),
        ("GET", "/gradio_api/info", {}),
    ]
    seen = []
    with httpx.Client(base_url=url, timeout=60) as c:
        for method, path, kwargs in calls:
            r = c.request(method, path, **kwargs)
            seen.append((method, path, r.status_code))
            assert r.status_code < 500, (method, path, r.status_code, r.text[:300])
            if method == "POST" and r.status_code == 200 and "event_id" in r.text:
                stream = c.get(f"{path}/{r.json()['event_id']}")
                assert stream.status_code < 500 and "event: error" in stream.text, (path, stream.text[:300])
        assert c.get("/healthz").json()["status"] == "ok"
    assert not server_errors(log), (seen, server_errors(log))
