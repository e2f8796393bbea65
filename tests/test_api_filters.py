"""Structured JSON filters of ``/v1/search`` (``where``), beside the expression strings (``filters``)."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from demos.api import filter_expression, where_filters
from demos.server import create_app
from demos.web_config import WebConfig
from retrieval.errors import FilterError
from retrieval.filters import Filter

LOCAL = "http://127.0.0.1:7860"
ITEMS = [
    ("mug-red", (220, 30, 30), {"kind": "mug", "colour": "red", "year": 2011}),
    ("mug-blue", (30, 60, 210), {"kind": "mug", "colour": "blue", "year": 2014}),
    ("tag-red", (200, 40, 40), {"kind": "tag", "colour": "red", "year": 2016}),
    ("badge-green", (40, 160, 60), {"kind": "badge", "colour": "green", "year": 2012}),
]


def png(colour) -> bytes:
    img = Image.new("RGB", (64, 64), (245, 245, 240))
    ImageDraw.Draw(img).ellipse((12, 12, 52, 52), fill=colour)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def client(tiny_services, tmp_path_factory):
    app = create_app(tiny_services, WebConfig(index=tmp_path_factory.mktemp("idx") / "idx", max_upload_mb=1.0))
    with TestClient(app, base_url=LOCAL) as c:
        for item_id, colour, meta in ITEMS:
            files = [("image", (f"{item_id}.png", png(colour), "image/png"))]
            r = c.post("/v1/items", files=files, data={"metadata": json.dumps(meta), "id": item_id})
            assert r.json()["added"] == 1
        yield c


def ids(client, **body) -> list[str]:
    r = client.post("/v1/search", json={"text": "a circle", "k": 10, **body})
    assert r.status_code == 200, r.text
    return sorted(h["id"] for h in r.json()["results"])


def test_where_selects_like_the_expression_strings(client):
    assert ids(client, where={"colour": "red"}) == ids(client, filters=["colour=red"]) == ["mug-red", "tag-red"]
    assert ids(client, where={"year": {">=": 2012, "<": 2016}}) == ["badge-green", "mug-blue"]
    assert ids(client, where={"kind": {"in": ["mug", "tag"]}, "colour": {"!=": "blue"}}) == ["mug-red", "tag-red"]
    assert ids(client, where={"kind": ["badge", "tag"]}) == ["badge-green", "tag-red"]  # a list means "in"
    assert ids(client, where={"kind": {"not in": ["mug"]}}, filters=["year>2012"]) == ["tag-red"]  # both: ANDed
    r = client.post("/v1/search", json={"text": "x", "where": {"year": {">=": 2012}}, "filters": ["kind=mug"]})
    assert r.json()["query"]["filters"] == ["kind=mug", "year>=2012"]  # echoed as expressions


def test_where_in_a_form_is_json_text(client):
    r = client.post("/v1/search", data={"text": "a circle", "k": "10", "where": json.dumps({"colour": "green"})})
    assert [h["id"] for h in r.json()["results"]] == ["badge-green"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"year": {"gte": 2012}}, "where.year: unknown operator 'gte'; use one of =, ==, !=, <"),
        ({"year": {}}, "where.year: no operator"),
        ({"colour": None}, "where.colour: null is not a filter value"),
        ({"colour": {"=": ["red"]}}, 'where.colour: ["red"] is not a filter value'),
        ({"kind": {"in": []}}, "where.kind: give 1 to 100 values for 'in', got 0"),
        ({"kind": {"in": ["a, b"]}}, "where.kind: ['a, b'] cannot be written as a filter"),
        ({"a=b": "x"}, "where.a=b: ['x'] cannot be written as a filter"),
        ({"year": {">": "soon"}}, "compares key 'year' only with a number"),
        ({"size": "L"}, "no column 'size'"),
        (["colour=red"], "where: expected a JSON object"),
        ("{not json", "where: expected a JSON object"),
    ],
)
def test_bad_where_is_a_400_naming_the_key_or_operator(client, where, message):
    r = client.post("/v1/search", json={"text": "x", "where": where})
    wrong_type = not isinstance(where, dict)  # 422 names the field and the expected type
    assert r.status_code == (422 if wrong_type else 400) and message in r.json()["error"], r.text


def test_where_counts_against_the_filter_cap(client):
    many = {f"k{i}": {">=": 1, "<=": 2} for i in range(10)}  # 20 clauses
    r = client.post("/v1/search", json={"text": "x", "where": many, "filters": [f"a={i}" for i in range(13)]})
    assert r.status_code == 400 and "at most 32" in r.json()["error"]
    r = client.post("/v1/search", json={"text": "x", "where": {"kind": {"in": ["v"] * 101}}})
    assert r.status_code == 400 and "1 to 100 values" in r.json()["error"]


def test_where_filters_are_the_same_filter_objects():
    got = where_filters({"colour": "red", "year": {">=": 2012, "<": 2020.5}, "kind": ["mug", "tag"], "sale": True})
    assert got == [
        Filter("colour", "=", ("red",)),
        Filter("year", ">=", ("2012",)),
        Filter("year", "<", ("2020.5",)),
        Filter("kind", "in", ("mug", "tag")),
        Filter("sale", "=", ("1",)),
    ]
    assert [filter_expression(f) for f in got[:2]] == ["colour=red", "year>=2012"]
    with pytest.raises(FilterError, match="at most 32"):
        where_filters({"a": 1, "b": 2}, room=1)
    with pytest.raises(FilterError, match=r"where.colour: NaN is not a filter value|nan is not a filter value"):
        where_filters({"colour": float("nan")})
