"""``sceneqa ask --inspector`` and ``sceneqa inspect NAME IMAGE --labelset L`` end to end in the tiny tier, and
the API's ``labelset`` field (synthetic textures; the label set is taught on two planted defect kinds)."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.inspect_data import texture, write_good

KINDS = {"bright": 250, "dark": 5}


def defect(seed: int, kind: str):
    """A texture with a planted square, bright or dark."""
    img = texture(seed, blob=(40 + seed % 20, 50, 18))
    if kind == "dark":
        px = img.load()
        for x in range(40 + seed % 20, 58 + seed % 20):
            for y in range(50, 68):
                px[x, y] = (KINDS["dark"],) * 3
    return img


@pytest.fixture()
def setup(cache_dir, tmp_path, capsys):
    inspectors, labelsets = tmp_path / "inspectors", tmp_path / "labelsets"

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*tiny_argv(cache_dir), *argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    write_good(tmp_path / "good", 12)
    code, _, err = run("inspect", "fit", "tex", "--good", str(tmp_path / "good"), "--size", "128",
                       "--inspectors-dir", str(inspectors))  # fmt: skip
    assert code == 0, err
    for kind in KINDS:
        (tmp_path / "kinds" / kind).mkdir(parents=True)
        for i in range(5):
            defect(700 + i, kind).save(tmp_path / "kinds" / kind / f"{i}.png")
    code, _, err = run("teach", "kinds", "--examples", str(tmp_path / "kinds"), "--labelsets-dir", str(labelsets))
    assert code == 0, err
    texture(400).save(tmp_path / "ok.png")
    defect(800, "bright").save(tmp_path / "bad.png")
    return run, inspectors, labelsets


def test_inspect_with_a_labelset_types_only_flagged_images(setup, tmp_path):
    run, inspectors, labelsets = setup
    images = [str(tmp_path / "ok.png"), str(tmp_path / "bad.png")]
    code, out, err = run("inspect", "tex", *images, "--json", "--inspectors-dir", str(inspectors),
                         "--labelset", "kinds", "--labelsets-dir", str(labelsets))  # fmt: skip
    assert code == 0, err
    ok, bad = json.loads(out)["results"]
    assert ok["verdict"] == "ok" and "defect_type" not in ok
    assert bad["verdict"] == "defect" and bad["defect_type"]["label"] in KINDS
    assert bad["defect_type"]["labelset"] == "kinds" and 0.0 <= bad["defect_type"]["probability"] <= 1.0
    code, out, _ = run("inspect", "tex", str(tmp_path / "bad.png"), "--inspectors-dir", str(inspectors))
    assert code == 0 and "type defect of unknown type" in out
    code, _, err = run("inspect", "tex", str(tmp_path / "bad.png"), "--inspectors-dir", str(inspectors),
                       "--labelset", "nope", "--labelsets-dir", str(labelsets))  # fmt: skip
    assert code != 0 and "no label set 'nope'" in err


def test_ask_with_an_inspector(setup, tmp_path):
    run, inspectors, _ = setup
    code, out, err = run("ask", str(tmp_path / "bad.png"), "is this part defective?", "--inspector", "tex",
                         "--inspectors-dir", str(inspectors), "--json")  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    assert got["answer"] == "yes" and got["citations"][0]["locator"] == "image:1#inspector:tex"
    code, out, err = run("ask", str(tmp_path / "ok.png"), "is this part defective?", "--inspector", "tex",
                         "--inspectors-dir", str(inspectors))  # fmt: skip
    assert code == 0 and out.splitlines()[0] == "no" and "inspector 'tex'" in out
    code, _, err = run("ask", str(tmp_path / "ok.png"), "is it ok?", "--inspector", "../x",
                       "--inspectors-dir", str(inspectors))  # fmt: skip
    assert code != 0 and "is not allowed" in err


def test_api_labelset_field(tiny_services, setup, tmp_path):
    from demos.server import create_app
    from demos.web_config import WebConfig
    from multimodal.teach.names import labelsets_dir

    run, inspectors, _ = setup
    served = labelsets_dir(tiny_services.config.resolved_cache_dir)  # where the server reads label sets
    code, _, err = run("teach", "kinds-api", "--examples", str(tmp_path / "kinds"), "--labelsets-dir", str(served))
    assert code == 0, err
    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", inspectors_dir=inspectors))
    body = {"inspector": "tex", "image": base64.b64encode((tmp_path / "bad.png").read_bytes()).decode()}
    with TestClient(app, base_url="http://127.0.0.1:7860") as client:
        r = client.post("/v1/inspect", json={**body, "labelset": "kinds-api"})
        plain = client.post("/v1/inspect", json=body).json()
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["verdict"] == "defect" and got["defect_type"]["label"] in KINDS
    assert got["defect_type"]["labelset"] == "kinds-api" and got["score"] == plain["score"]
    assert plain["defect_type"] == {"label": "defect of unknown type"}
