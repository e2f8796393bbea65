"""The UI reads only files uploaded to this app (issue 12, S1): :func:`confine`, the body walker, the ASGI guard
in front of Gradio and the handlers themselves (a real server is attacked in tests/test_upload_guard_server.py)."""

from __future__ import annotations

import io
import json
import logging

import gradio as gr
import pytest
from PIL import Image
from starlette.testclient import TestClient

from demos.gate import ModelGate
from demos.ui_errors import INTERNAL, ui_errors
from demos.upload_guard import ForbiddenPathError, GradioPathGuard, confine, forbidden_paths
from multimodal.errors import InvalidImageError

LOCAL = "http://127.0.0.1"


def png_bytes(colour=(200, 20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def layout(tmp_path):
    """root (the upload folder) with one upload, and a secret file beside it."""
    root = tmp_path / "uploads"
    (root / "abc").mkdir(parents=True)
    upload = root / "abc" / "photo.png"
    upload.write_bytes(png_bytes())
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("TOP-SECRET\n")
    (root / "abc" / "link.txt").symlink_to(secret)
    return root, upload, secret


# ---- confine -----------------------------------------------------------------------------------------------


def test_confine_accepts_an_upload(layout):
    root, upload, _ = layout
    assert confine(str(upload), root) == upload.resolve()
    assert confine(root / "abc" / ".." / "abc" / "photo.png", root) == upload.resolve()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (lambda root: "/etc/hostname", "'hostname' was not uploaded"),
        (lambda root: root / ".." / "outside" / "secret.txt", "'secret.txt' was not uploaded"),
        (lambda root: root / "abc" / "link.txt", "'link.txt' was not uploaded"),  # symlink inside -> outside
        (lambda root: root / "abc", "'abc' is not an uploaded file"),  # a folder
        (lambda root: root / "abc" / "gone.png", "'gone.png' is not an uploaded file"),
        (lambda root: str(root / "abc" / "photo.png") + "\x00.txt", "was not uploaded"),
        (lambda root: "relative/../../x", "'x' was not uploaded"),
    ],
)
def test_confine_refuses(layout, target, message):
    root, _, _ = layout
    with pytest.raises(ForbiddenPathError, match=message) as info:
        confine(target(root), root)
    assert str(root.parent) not in str(info.value)  # the message names the base name only


# ---- the body walker ---------------------------------------------------------------------------------------


def _fd(path, **extra):
    return {"path": path, "meta": {"_type": "gradio.FileData"}, **extra}


def test_walker_finds_every_file_reference(layout):
    root, upload, secret = layout
    ok = str(upload)
    assert forbidden_paths({"data": [[_fd(ok)], "q", [_fd(ok, url=f"{LOCAL}/gradio_api/file={ok}")], None]}, root) == []
    assert forbidden_paths({"data": [{"path": None, "url": "data:image/png;base64,AAAA"}]}, root) == []
    assert forbidden_paths({"data": [_fd(ok, url="https://example.com/x.png")], "event_data": None}, root) == []
    cases = {
        "meta": _fd("/etc/hostname"),
        "no meta": {"path": str(secret)},  # Gradio hands a meta-less path to the component unchecked
        "nested": {"a": [{"b": [{"c": _fd(str(root / "abc" / "link.txt"))}]}]},
        "dotdot": _fd(f"{root}/../outside/secret.txt"),
        "url file=": _fd(ok, url=f"{LOCAL}/gradio_api/file=%2Fetc%2Fhostname"),
        "bare url": _fd(ok, url="/etc/hostname"),
        "file url": _fd(ok, url="file:///etc/hostname"),
        "http path": _fd("http://169.254.169.254/latest/meta-data"),  # Gradio would fetch it
        "not a string": {"path": ["/etc/hostname"]},
        "in event data": {"data": [], "event_data": {"value": {"image": _fd("/etc/hostname")}}},
    }
    for name, body in cases.items():
        assert forbidden_paths({"data": [body]}, root), name
    deep: object = _fd(ok)
    for _ in range(100):
        deep = [deep]
    assert forbidden_paths(deep, root) == ["(nested too deeply)"]


# ---- the ASGI guard ----------------------------------------------------------------------------------------


class Recorder:
    """An ASGI app that records the bodies it was given and answers 200."""

    def __init__(self):
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send):
        body = b""
        if scope["method"] == "POST":
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"reached"})


@pytest.fixture()
def guarded(layout):
    root, upload, secret = layout
    inner = Recorder()
    app = GradioPathGuard(inner, root, max_body=4096, api_names={"classify", "ask"})
    yield TestClient(app, base_url=LOCAL), inner, upload, secret  # no lifespan: the recorder answers HTTP only


def test_guard_refuses_outside_paths_before_gradio(guarded):
    client, inner, upload, secret = guarded
    for route in ("call/classify", "call/v2/classify", "run/classify", "api/classify", "queue/join", "stream/e1"):
        r = client.post(f"/gradio_api/{route}", json={"data": [_fd(str(secret)), "cat", False]})
        assert r.status_code == 403 and "secret.txt" in r.json()["error"], route
        assert str(secret.parent) not in r.text
    assert inner.bodies == []
    body = json.dumps({"data": [_fd(str(upload)), "cat", False]}).encode()
    r = client.post("/gradio_api/call/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and inner.bodies == [body]  # replayed unchanged


def test_guard_limits_and_routes(guarded):
    client, inner, upload, secret = guarded
    assert client.post("/gradio_api/queue/join", content=b"x" * 5000).status_code == 413
    assert client.post("/gradio_api/queue/join", content=b"not json").status_code == 415
    r = client.post("/gradio_api/call/false", json={"data": [None, 4]})  # a hidden event, by name
    assert r.status_code == 404 and "no API endpoint 'false'" in r.json()["error"]
    assert client.post("/gradio_api/upload", content=b"--x\r\n").status_code == 200  # multipart: Gradio's own
    assert client.post("/v1/anything", content=b"{bad").status_code == 200  # not Gradio's: not looked at
    assert len(inner.bodies) == 2


def test_guard_serves_only_uploads(guarded):
    client, inner, upload, secret = guarded
    assert client.get(f"/gradio_api/file={upload}").status_code == 200
    for target in ("/etc/hostname", str(secret), str(upload.parent / "link.txt"), f"{upload.parent}/../../x"):
        for route in (f"/gradio_api/file={target}", f"/gradio_api/file/{target}"):
            r = client.get(route)
            assert r.status_code == 403 and "only this app's uploads" in r.json()["error"], route
    assert client.get("/gradio_api/file=https://example.com/a.png").status_code == 403


# ---- the handlers, without the guard -----------------------------------------------------------------------


def test_handlers_read_only_uploads(tiny_services, layout, tmp_path, monkeypatch):
    from demos.app import build_demo
    from demos.catalog_handle import CatalogHandle

    root, upload, secret = layout
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))  # build_demo sets it; restored after the test
    demo = build_demo(
        tiny_services, CatalogHandle(tmp_path / "idx", tiny_services), ModelGate.sized(1, 4), upload_root=root
    )
    fns = {f.fn.__name__: f.fn for f in demo.fns.values() if f.fn is not None}
    for bad in ("/etc/hostname", str(secret), str(root / "abc" / "link.txt"), f"{root}/../outside/secret.txt"):
        calls = {
            "ask image": (fns["do_ask"], [bad], "what?", [], "", False),
            "ask context": (fns["do_ask"], [], "what?", [bad], "", False),
            "classify": (fns["do_classify"], bad, "cat, dog", False),
            "search": (fns["do_search"], "red", bad, 0.5, "", "", 4, False),
            "add": (fns["add_files"], [bad], "", None),
            "add catalog": (fns["add_files"], [str(upload)], "", bad),
        }
        for name, (fn, *args) in calls.items():
            with pytest.raises(gr.Error, match="was not uploaded") as info:
                out = fn(*args)
                if name.startswith("ask"):
                    list(out)  # a generator: runs when iterated
            assert "TOP-SECRET" not in str(info.value) and str(tmp_path) not in str(info.value), name
    assert not (tmp_path / "idx").exists()  # nothing was added


def test_ask_does_not_hold_the_gate_while_suspended(tiny_services, layout, tmp_path, monkeypatch):
    """H1 (UI half): a UI stream that was never read on or closed leaves the model gate free for others."""
    from demos.app import build_demo
    from demos.catalog_handle import CatalogHandle
    from multimodal.deadline import Deadline

    root, upload, _ = layout
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    gate = ModelGate.sized(1, 4)
    demo = build_demo(tiny_services, CatalogHandle(tmp_path / "idx", tiny_services), gate, upload_root=root)
    do_ask = next(f.fn for f in demo.fns.values() if f.fn is not None and f.fn.__name__ == "do_ask")
    stream = do_ask([str(upload)], "what color is it?", [], "", False)
    first = next(stream)  # suspended at its first yield, as when the browser went away
    assert "red" in first[0]
    assert gate.run(lambda: "free", Deadline(5, "another request")) == "free"
    stream.close()
    assert gate.stats()["busy"] == 0


def test_more_like_refuses_bad_selections(tiny_services, layout, tmp_path, monkeypatch):
    from demos.app import build_demo
    from demos.catalog_handle import CatalogHandle

    root, _, _ = layout
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    demo = build_demo(
        tiny_services, CatalogHandle(tmp_path / "idx", tiny_services), ModelGate.sized(1, 4), upload_root=root
    )
    hidden = [f for f in demo.fns.values() if f.fn is not None and f.fn.__name__ in ("more_like", "catalog_info")]
    assert len(hidden) == 2 and all(f.api_visibility == "private" for f in hidden)
    more_like = next(f.fn for f in hidden if f.fn.__name__ == "more_like")
    for ids, data, message in [
        ([], {"index": 0}, "run a search first"),
        (["a", "b"], None, "select one of the 2 results"),
        (["a", "b"], {"value": 1}, "select one of the 2 results"),
        (["a", "b"], {"index": 2}, "got selection 2"),
        (["a", "b"], {"index": -1}, "got selection -1"),
        (["a", "b"], {"index": "0"}, "got selection '0'"),
    ]:
        with pytest.raises(gr.Error, match=message):
            more_like(ids, 4, gr.EventData(None, data))


def test_examples_must_live_in_the_upload_folder(tiny_services, layout, tmp_path, monkeypatch):
    from demos.app import build_demo
    from demos.catalog_handle import CatalogHandle
    from multimodal.errors import ConfigError

    root, _, _ = layout
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    with pytest.raises(ConfigError, match="outside the upload folder"):
        build_demo(
            tiny_services,
            CatalogHandle(tmp_path / "idx", tiny_services),
            ModelGate.sized(1, 4),
            tmp_path / "examples",
            upload_root=root,
        )


def test_ui_errors_show_ours_and_hide_the_rest(caplog, tmp_path):
    handler = ui_errors([tmp_path])

    @handler
    def ours():
        raise InvalidImageError(f"{tmp_path}/abc/photo.png: truncated")

    @handler
    def theirs():
        raise RuntimeError(f"{tmp_path}/private: database password is hunter2")

    @handler
    def streams():
        yield 1
        raise KeyError("internal detail")

    with pytest.raises(gr.Error) as info:
        ours()
    assert info.value.message == "abc/photo.png: truncated"
    with caplog.at_level(logging.ERROR, logger="sceneqa.serve"), pytest.raises(gr.Error) as info:
        theirs()
    assert info.value.message == INTERNAL and "hunter2" in caplog.text  # logged with its traceback
    with pytest.raises(gr.Error, match="internal error"):
        list(streams())
