"""A real ``sceneqa serve`` attacked through Gradio's call API (issue 12, S1): no server file is read, uploads
land in the app's own folder and still work, and only our own errors reach clients."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.server_util import running_server
from tests.test_upload_guard import png_bytes

# ---- a real server attacked through Gradio's call API (S1) -------------------------------------------------


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, cache_dir):
    from demos.web_config import WebConfig

    base = tmp_path_factory.mktemp("s1")
    secret = base / "outside" / "secret.txt"
    secret.parent.mkdir()
    marker = f"TOP-SECRET-{uuid.uuid4().hex}"
    secret.write_text(f"shift notes\nvalve 9 code is {marker}\n")  # today /ask cites this line
    secret_png = base / "outside" / "secret.png"
    secret_png.write_bytes(png_bytes((1, 2, 3)))
    index = base / "idx"
    with running_server(cache_dir, index) as url:
        root = WebConfig(index=index).gradio_dir.resolve()
        (root / "planted").mkdir(parents=True, exist_ok=True)  # what a symlink inside the folder would do
        (root / "planted" / "notes.txt").symlink_to(secret)
        (root / "planted" / "photo.png").symlink_to(secret_png)
        yield {"url": url, "root": root, "secret": secret, "marker": marker, "png": secret_png}


def _hostname() -> str:
    try:
        return Path("/etc/hostname").read_text().strip()
    except OSError:
        return ""


def _inputs(api: str, ref, info: dict) -> list:
    """The call's data with ``ref`` (a FileData or a bare string) in every file input; inputs after the ones
    given (label-set and inspector pickers, ...) get their defaults, so the call reaches the handler."""
    if api == "ask":  # a context file: today's code answers from its lines
        given = [[], "what is the code of valve 9?", [ref], "", False]
    elif api == "ask images":
        given = [[ref], "what is the code of valve 9?", [], "", False]
    elif api == "classify":
        given = [ref, "cat, dog", False]
    elif api == "add_items":
        given = [[ref], "", ref]
    else:
        given = ["red", ref, 0.5, "", "", 4, False]
    params = info["named_endpoints"]["/" + api.split()[0]]["parameters"]
    return given + [p.get("parameter_default") for p in params[len(given) :]]


@pytest.mark.slow
def test_gradio_call_api_reads_no_server_file(attacked):

    url, root, marker = attacked["url"], attacked["root"], attacked["marker"]
    hostname = _hostname()
    leaks = [marker, "shift notes"] + ([hostname] if len(hostname) >= 4 else [])
    png = attacked["png"].read_bytes()
    targets = {
        "etc": "/etc/hostname",
        "outside": str(attacked["secret"]),
        "symlink": str(root / "planted" / "notes.txt"),
        "symlink png": str(root / "planted" / "photo.png"),
        "dotdot": f"{root}/../{attacked['secret'].parent.name}/{attacked['secret'].name}",
        "png": str(attacked["png"]),
    }
    with httpx.Client(base_url=url, timeout=60) as c:
        info = c.get("/gradio_api/info").json()
        for variant in ("ask", "ask images", "classify", "add_items", "search"):
            api = variant.split()[0]
            for name, target in targets.items():
                for ref in ({"path": target, "meta": {"_type": "gradio.FileData"}}, {"path": target}, target):
                    seen = []
                    r = c.post(f"/gradio_api/call/{api}", json={"data": _inputs(variant, ref, info)})
                    seen.append(r.text)
                    if r.status_code == 200:
                        stream = c.get(f"/gradio_api/call/{api}/{r.json()['event_id']}").text
                        seen.append(stream)
                        assert "event: error" in stream, (api, name, ref, stream[:300])
                    else:
                        assert r.status_code in (400, 403, 404, 422), (api, name, r.status_code)
                    # every path the responses mention, and the target itself, fetched through file=
                    for path in {target, *re.findall(r"(/[^\s\"'\\]+)", " ".join(seen))}:
                        got = c.get(f"/gradio_api/file={path}")
                        seen.append(got.text if got.status_code == 200 else "")
                        assert png not in got.content
                    text = "\n".join(seen)
                    assert not any(leak in text for leak in leaks), (api, name, ref)
        for item_id in ("secret", "photo"):  # an /add_items of a server PNG would be served back here
            assert png not in c.get(f"/v1/items/{item_id}/image").content
        for target in targets.values():
            assert c.get(f"/gradio_api/file={target}").status_code == 403


@pytest.mark.slow
def test_uploads_land_in_the_app_folder_and_work(attacked, tmp_path):
    from gradio_client import Client, handle_file

    url, root = attacked["url"], attacked["root"]
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.post("/gradio_api/upload", files={"files": ("red.png", png_bytes(), "image/png")})
        (stored,) = r.json()
        assert Path(stored).resolve().is_relative_to(root) and Path(stored).read_bytes() == png_bytes()
        assert c.get(f"/gradio_api/file={stored}").content == png_bytes()
    photo = tmp_path / "red.png"
    photo.write_bytes(png_bytes())
    plot, verdict = Client(url, verbose=False).predict(
        handle_file(str(photo)), "a red square, a blue circle", False, api_name="/classify"
    )
    assert "supported" in verdict or "none of these" in verdict


@pytest.mark.slow
def test_errors_reach_clients_only_when_ours(attacked):

    with httpx.Client(base_url=attacked["url"], timeout=60) as c:
        info = c.get("/gradio_api/info").json()
        assert {"/ask", "/search", "/classify", "/add_items"} <= set(info["named_endpoints"])
        assert not {n for n in info["named_endpoints"] if n.startswith("/false") or "more_like" in n}
        data = _inputs("classify", None, info)
        data[1] = "cat"
        r = c.post("/gradio_api/call/classify", json={"data": data})
        stream = c.get(f"/gradio_api/call/classify/{r.json()['event_id']}").text
        assert "upload an image first" in stream  # gr.Error: shown
        data = _inputs("search", None, info)
        data[5] = "not a number"  # Gradio's own preprocessing fails: its message stays on the server
        r = c.post("/gradio_api/call/search", json={"data": data})
        stream = c.get(f"/gradio_api/call/search/{r.json()['event_id']}").text
        assert "event: error" in stream and "preprocess" not in stream and "slider" not in stream
        assert os.sep + "site-packages" not in stream
