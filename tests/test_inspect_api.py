"""The inspect routes against the real app (FastAPI TestClient, tiny tier: tiny backbone), attacked as a
client would: bad names, missing or damaged inspectors while serving, too few or unreadable good images,
huge images, refits; and /v1/ask with an inspector."""

from __future__ import annotations

import base64
import io
import shutil
import threading

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from demos.server import create_app
from demos.web_config import WebConfig
from multimodal.inspect.store import BANK, META
from tests.inspect_data import texture

LOCAL = "http://127.0.0.1:7860"


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


GOOD = [png(texture(i)) for i in range(12)]
OK_IMG, BAD_IMG = png(texture(400)), png(texture(401, blob=(60, 50, 16)))


@pytest.fixture()
def app_dirs(tmp_path):
    return tmp_path / "idx", tmp_path / "inspectors"


@pytest.fixture()
def client(tiny_services, app_dirs):
    index, inspectors = app_dirs
    app = create_app(tiny_services, WebConfig(index=index, max_upload_mb=2.0, inspectors_dir=inspectors))
    with TestClient(app, base_url=LOCAL) as c:
        yield c


def fit(client, name: str, images=GOOD, **data):
    files = [("image", (f"g{i}.png", d, "image/png")) for i, d in enumerate(images)]
    return client.post("/v1/inspectors", files=files, data={"name": name, "size": "128", **data})


def inspect(client, name: str, *images: bytes, **data):
    files = [("image", (f"i{i}.png", d, "image/png")) for i, d in enumerate(images)]
    return client.post("/v1/inspect", files=files, data={"inspector": name, **data})


@pytest.fixture()
def fitted(client):
    r = fit(client, "tex")
    assert r.status_code == 201, r.text
    return r.json()


def test_fit_list_and_inspect(client, fitted):
    assert fitted["name"] == "tex" and fitted["backbone"] == "tiny" and fitted["input_size"] == [128, 128]
    assert fitted["images_used"] == 12 and fitted["threshold"] > 0 and fitted["skipped"] == []
    listed = client.get("/v1/inspectors").json()["inspectors"]
    assert [x["name"] for x in listed] == ["tex"] and listed[0]["threshold"] == fitted["threshold"]
    assert "skipped" not in listed[0] and listed[0]["skipped_count"] == 0  # no server paths of CLI fits
    bad = inspect(client, "tex", BAD_IMG).json()
    assert bad["verdict"] == "defect" and bad["score"] > bad["threshold"] and bad["boxes"]
    assert bad["defect_type"] == {"label": "defect of unknown type"} and bad["inspector"] == "tex"
    heat = Image.open(io.BytesIO(base64.b64decode(bad["heatmap_png"])))
    assert heat.format == "PNG" and list(heat.size) == bad["heatmap_size"] == [128, 128]
    both = inspect(client, "tex", OK_IMG, BAD_IMG, heatmap="false").json()
    ok, again = both["results"]
    assert ok["verdict"] == "ok" and "defect_type" not in ok and "heatmap_png" not in ok
    assert again["score"] == pytest.approx(bad["score"], rel=1e-4)  # same image, same score


@pytest.mark.parametrize("name", ["..", "../x", "a/b", "x" * 1000, ".hidden", "fit", "sp ace"])
def test_bad_names_are_refused_before_any_work(client, name):
    r = fit(client, name)
    assert r.status_code == 400 and "is not allowed" in r.json()["error"]
    r = inspect(client, name, OK_IMG)
    assert r.status_code == 400 and "is not allowed" in r.json()["error"]


def test_missing_inspector_and_fields(client, fitted, app_dirs):
    r = inspect(client, "nope", OK_IMG)
    assert r.status_code == 404 and "no inspector 'nope'" in r.json()["error"] and "known: tex" in r.json()["error"]
    assert str(app_dirs[1]) not in r.text and "<inspectors>" in r.text  # the server folder is not shown
    r = client.post("/v1/inspect", json={"image": base64.b64encode(OK_IMG).decode()})
    assert r.status_code == 400 and "inspector: missing" in r.json()["error"]
    r = client.post("/v1/inspect", json={"inspector": ["tex"], "image": base64.b64encode(OK_IMG).decode()})
    assert r.status_code == 422 and "expected text" in r.json()["error"]
    assert client.post("/v1/inspect", data={"inspector": "tex"}).status_code == 400  # no image
    r = inspect(client, "tex", OK_IMG, labelset="no-such-set")
    assert r.status_code == 404 and "no label set 'no-such-set'" in r.json()["error"]


@pytest.mark.parametrize("count", [0, 1])
def test_too_few_good_images(client, count):
    r = fit(client, "few", GOOD[:count])
    assert r.status_code == 400 and ("at least 2" in r.json()["error"] or "no good images" in r.json()["error"])
    assert client.get("/v1/inspectors").json()["inspectors"] == []


def test_non_image_uploads(client, fitted):
    r = fit(client, "junk", [b"not an image", b"%PDF-1.4 nope", GOOD[0]])
    assert r.status_code == 400 and "1 of the good images could be read" in r.json()["error"]
    r = fit(client, "mixed", [b"not an image", *GOOD[:6]])
    assert r.status_code == 201 and len(r.json()["skipped"]) == 1 and r.json()["images_used"] == 6
    r = inspect(client, "tex", b"hello")
    assert r.status_code == 400 and "not an image" in r.json()["error"].lower()
    rows = inspect(client, "tex", b"hello", BAD_IMG).json()["results"]
    assert "error" in rows[0] and rows[1]["verdict"] == "defect"


def test_huge_images_are_refused_before_decoding(client, fitted):
    huge = Image.new("1", (9000, 9000))  # 81 MP: over the 64 MP per-image limit, a small PNG
    r = inspect(client, "tex", png(huge))
    assert r.status_code == 413 and "pixel limit" in r.json()["error"]
    r = fit(client, "big", [png(huge)] * 2)
    assert r.status_code in (400, 413) and client.get("/v1/inspectors").json()["inspectors"][0]["name"] == "tex"


def test_refit_needs_replace(client, fitted):
    r = fit(client, "tex", GOOD[:4])
    assert r.status_code == 409 and "already exists" in r.json()["error"]
    r = fit(client, "tex", GOOD[:4], replace="true")
    assert r.status_code == 201 and r.json()["images_used"] == 4
    assert client.get("/v1/inspectors").json()["inspectors"][0]["images_used"] == 4


def test_damaged_or_deleted_inspector_while_serving(client, fitted, app_dirs):
    assert inspect(client, "tex", BAD_IMG).status_code == 200  # opened and kept
    assert fit(client, "other", GOOD[:4]).status_code == 201
    folder = app_dirs[1] / "tex"
    (folder / BANK).write_bytes(b"garbage")
    r = inspect(client, "tex", BAD_IMG)
    assert r.status_code == 409 and ("damaged" in r.json()["error"] or "checksum" in r.json()["error"])
    listed = {x["name"]: x for x in client.get("/v1/inspectors").json()["inspectors"]}
    assert "error" in listed["tex"] and listed["other"]["images_used"] == 4  # one bad folder hides nothing
    (folder / META).write_text("{not json")
    assert inspect(client, "tex", BAD_IMG).status_code == 409
    assert inspect(client, "other", BAD_IMG).status_code == 200 and client.get("/healthz").status_code == 200
    shutil.rmtree(folder)
    assert inspect(client, "tex", BAD_IMG).status_code == 404
    assert fit(client, "tex", GOOD, replace="true").status_code == 201
    assert inspect(client, "tex", BAD_IMG).json()["verdict"] == "defect"


def test_concurrent_fits_of_one_name_leave_one_whole_inspector(client, app_dirs):
    codes: list[int] = []

    def go():
        codes.append(fit(client, "race", GOOD[:6]).status_code)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 409, 409]
    assert sorted(p.name for p in app_dirs[1].iterdir()) == ["race"]
    assert inspect(client, "race", OK_IMG).status_code == 200


def test_ask_with_an_inspector(client, fitted):
    body = {"question": "is this part defective?", "image": base64.b64encode(BAD_IMG).decode(), "inspector": "tex"}
    out = client.post("/v1/ask", json=body).json()
    assert out["answer"] == "yes" and out["citations"][0]["locator"] == "image:1#inspector:tex"
    assert out["citations"][0]["boxes"]
    r = client.post("/v1/ask", json={**body, "inspector": "nope"})
    assert r.status_code == 400 and "no inspector 'nope'" in r.json()["error"] and "<inspectors>" in r.text
    r = client.post("/v1/ask", json={**body, "inspector": "../etc"})
    assert r.status_code == 400 and "not allowed" in r.json()["error"]
