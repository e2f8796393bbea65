"""The label-set routes (teach, list, delete, classify with ``labelset``) and ``POST /v1/index/tune`` against the
real app (FastAPI TestClient), tiny encoder; the attack surfaces of issue 15 (names, label counts, one example,
a label set deleted, damaged or taught with another encoder while the server runs)."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from demos.server import create_app
from demos.web_config import WebConfig
from tests.catalog_data import make_catalog, write_csv
from tests.cli_util import tiny_argv

LOCAL = "http://127.0.0.1:7860"
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 190, 30)}


def png(colour, seed) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (64, 48), tuple(int(v) for v in rng.integers(200, 256, 3)))
    x = int(rng.integers(0, 30))
    ImageDraw.Draw(img).rectangle([x, 8, x + 30, 40], fill=colour)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def upload(per_label=3, labels=COLOURS):
    files, names = [], []
    for k, (label, colour) in enumerate(labels.items()):
        for i in range(per_label):
            files.append(("image", (f"{label}-{i}.png", png(colour, 10 * k + i), "image/png")))
            names.append(label)
    return files, names


@pytest.fixture()
def services(tiny_services, tmp_path):
    """The tiny services with a private cache dir, so label sets of one test never meet another's."""
    return replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))


@pytest.fixture()
def client(services, tmp_path):
    app = create_app(services, WebConfig(index=tmp_path / "idx", max_upload_mb=2.0))
    with TestClient(app, base_url=LOCAL) as c:
        yield c


def teach(client, name="colours", per_label=3, **data):
    files, labels = upload(per_label)
    return client.post("/v1/labelsets", files=files, data={"name": name, "labels": json.dumps(labels), **data})


def test_teach_list_classify_delete(client):
    r = teach(client)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["counts"] == {"blue": 3, "green": 3, "red": 3} and out["added"] == 9
    assert out["encoder"]["spec"] == "tiny:open_clip" and set(out["cv"]["per_label"]) == set(COLOURS)
    rows = client.get("/v1/labelsets").json()["labelsets"]
    assert [r["name"] for r in rows] == ["colours"] and rows[0]["usable"] is True
    image = ("image", ("q.png", png(COLOURS["red"], 99), "image/png"))
    res = client.post("/v1/classify", files=[image], data={"labelset": "colours"}).json()
    assert res["labelset"] == "colours" and {x["label"] for x in res["labels"]} <= set(COLOURS)
    assert client.post("/v1/labelsets", files=upload()[0], data={"name": "colours", "labels": json.dumps(upload()[1])}
                       ).status_code == 409  # fmt: skip
    assert teach(client, add="true").json()["counts"]["red"] == 3  # the same images again: used once
    assert client.delete("/v1/labelsets/colours").json() == {"removed": "colours"}
    assert client.get("/v1/labelsets").json()["labelsets"] == []
    r = client.post("/v1/classify", files=[image], data={"labelset": "colours"})
    assert r.status_code == 404 and "no label set 'colours'" in r.json()["error"]
    assert client.delete("/v1/labelsets/colours").status_code == 404


@pytest.mark.parametrize(
    ("name", "needle"),
    [("a/b", "not a path"), ("..", "not a path"), ("two words", "spaces"), ("x" * 1000, "1000 characters")],
)
def test_bad_names_are_refused(client, name, needle):
    r = teach(client, name=name)
    assert r.status_code == 400 and needle in r.json()["error"]


@pytest.mark.parametrize("name", ["..%2F..%2Fetc", "a%20b", "x" * 1000])
def test_bad_names_in_the_path_are_refused(client, name):
    r = client.delete(f"/v1/labelsets/{name}")
    assert r.status_code in (400, 404) and "removed" not in r.json()


def test_label_counts_and_mismatches(client):
    files, _ = upload(1)
    r = client.post("/v1/labelsets", files=files, data={"name": "x", "labels": json.dumps(["l"] * 10_000)})
    assert r.status_code == 413 and "at most" in r.json()["error"]
    r = client.post("/v1/labelsets", files=files, data={"name": "x", "labels": "red, blue"})
    assert r.status_code == 400 and "2 given for 3 image(s)" in r.json()["error"]
    r = client.post("/v1/labelsets", files=files, data={"name": "x", "labels": "red, , blue"})
    assert r.status_code == 400 and "labels[1]" in r.json()["error"]
    one = [("image", ("a.png", png(COLOURS["red"], 1), "image/png"))]
    r = client.post("/v1/labelsets", files=one, data={"name": "x", "labels": "red"})
    assert r.status_code == 400 and "at least 2 labels" in r.json()["error"]
    r = teach(client, name="ones", per_label=1)  # one example per label: taught, each reported
    assert r.status_code == 201, r.text
    assert sum("has 1 example" in p for p in r.json()["problems"]) == 3


def test_damaged_deleted_and_foreign_label_sets_while_serving(client, services):
    assert teach(client, name="good").status_code == 201
    assert teach(client, name="bad").status_code == 201
    assert teach(client, name="other").status_code == 201
    root = services.config.resolved_cache_dir / "labelsets"
    (root / "bad" / "head.npz").write_bytes(b"garbage")
    meta = json.loads((root / "other" / "labelset.json").read_text())
    meta["encoder"]["spec"] = "lite"
    (root / "other" / "labelset.json").write_text(json.dumps(meta))
    image = [("image", ("q.png", png(COLOURS["red"], 5), "image/png"))]
    r = client.post("/v1/classify", files=image, data={"labelset": "bad"})
    assert r.status_code == 409 and "is damaged" in r.json()["error"] and str(root) not in r.text
    r = client.post("/v1/classify", files=image, data={"labelset": "other"})
    assert r.status_code == 409 and "'lite'" in r.json()["error"] and "'tiny:open_clip'" in r.json()["error"]
    rows = {row["name"]: row for row in client.get("/v1/labelsets").json()["labelsets"]}
    assert "error" in rows["bad"] and rows["other"]["usable"] is False and rows["good"]["usable"] is True
    shutil.rmtree(root / "good")
    r = client.post("/v1/classify", files=image, data={"labelset": "good"})
    assert r.status_code == 404
    assert client.get("/healthz").json()["status"] == "ok"  # still serving


def test_index_tune_route(client, tmp_path, cache_dir):
    from sceneqa.cli import main

    r = client.post("/v1/index/tune", json={"text_columns": ["title"]})
    assert r.status_code == 404 and "catalog is empty" in r.json()["error"]
    rows = make_catalog(tmp_path / "src", 30)
    csv = write_csv(tmp_path / "src" / "cat.csv", rows)
    assert main([*tiny_argv(cache_dir), "index", "add", str(csv), "--index", str(tmp_path / "idx")]) == 0
    r = client.post("/v1/index/tune", json={"text_columns": ["nope"]})
    assert r.status_code == 400 and "'nope' not in" in r.json()["error"] and str(tmp_path) not in r.text
    r = client.post("/v1/index/tune", json={"text_columns": "title,color"})
    assert r.status_code == 200, r.text
    assert r.json()["columns"] == ["title", "color"] and r.json()["index"] == "idx"
    out = client.post("/v1/search", json={"text": "red circle"}).json()
    assert out["query"]["tuned"] is True and len(out["results"]) == 10


def test_ask_with_a_labelset_answers_which_label(client):
    assert teach(client).status_code == 201
    image = ("image", ("q.png", png(COLOURS["blue"], 98), "image/png"))
    top = max(client.post("/v1/classify", files=[image], data={"labelset": "colours"}).json()["labels"],
              key=lambda s: s["score"])  # fmt: skip
    data = {"question": "Which of my labels is this?", "labelset": "colours"}
    got = client.post("/v1/ask", files=[image], data=data).json()
    assert got["citations"] and got["citations"][0]["locator"] == "image:1#labelset:colours"
    if not got["abstained"]:
        assert got["answer"] == top["label"] and got["confidence"] == pytest.approx(top["score"], abs=1e-3)
    r = client.post("/v1/ask", files=[image], data={**data, "labelset": "../etc"})
    assert r.status_code == 400 and "not a path" in r.json()["error"]
    r = client.post("/v1/ask", files=[image], data={**data, "labelset": "missing"})
    assert r.status_code == 404 and "no label set 'missing'" in r.json()["error"]
