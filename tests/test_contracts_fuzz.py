"""Issue 18 item 5: property-based fuzz of the HTTP API in-process (tiny tier, empty catalog), bounded and
seeded: random JSON values for every documented field, random bodies and repeated form fields. The bar: no 5xx,
and every error is ``{"error": text}``. The schemathesis fuzz over the OpenAPI document runs against a real
server: ``tests/test_contracts_live.py``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from demos.api_models import BODIES
from demos.server import create_app
from demos.web_config import WebConfig

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

HOST = {"host": "127.0.0.1:7860"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 25  # per operation and mode (Hypothesis may stop earlier when a schema allows fewer cases)
BOUNDED = settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def make_app(services, tmp_path_factory):
    return create_app(services, WebConfig(index=tmp_path_factory.mktemp("fuzz") / "idx", max_upload_mb=1.0))


@pytest.fixture(scope="module")
def client(tiny_services, tmp_path_factory):
    app = make_app(tiny_services, tmp_path_factory)
    with TestClient(app, base_url="http://127.0.0.1:7860", raise_server_exceptions=False) as c:
        yield c


def assert_error_shape(r) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"error"} and isinstance(body["error"], str), r.text[:300]


FIELDS = sorted({name for model in BODIES.values() for name in model.model_fields} | {"filter", "context"})


@seed(18)
@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(route=st.sampled_from(sorted(BODIES)), body=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4))
def test_any_json_value_in_any_documented_field_is_never_a_server_error(client, route, body):
    assert_error_shape(client.post(route, json=body))


@seed(18)
@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(
    route=st.sampled_from(sorted(BODIES)),
    ctype=st.sampled_from(["application/json", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]),
    body=st.binary(max_size=200),
)
def test_random_bytes_are_never_a_server_error(client, route, ctype, body):
    assert_error_shape(client.post(route, content=body, headers={"content-type": ctype}))


@seed(18)
@settings(max_examples=150, deadline=None, database=None, derandomize=True)
@given(
    route=st.sampled_from(sorted(BODIES)),
    fields=st.lists(st.tuples(st.sampled_from(FIELDS), st.text(max_size=12)), min_size=1, max_size=6),
)
def test_repeated_and_odd_form_fields_are_never_a_server_error(client, route, fields):
    assert_error_shape(client.post(route, files=[(k, (None, v)) for k, v in fields]))
