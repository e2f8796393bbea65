"""``sceneqa index ...`` and ``sceneqa search`` end to end on a generated catalog with the tiny encoder."""

from __future__ import annotations

import json

import pytest

from sceneqa.cli import main
from tests.catalog_data import make_catalog, write_csv
from tests.cli_util import tiny_argv


@pytest.fixture()
def shop(tmp_path):
    from PIL import Image

    rows = make_catalog(tmp_path, 30)
    Image.open(tmp_path / "images/003.jpg").save(tmp_path / "images/003-again.jpg", quality=60)  # other bytes
    rows.append({**rows[3], "id": "sku3-again", "image": "images/003-again.jpg"})
    return write_csv(tmp_path / "catalog.csv", rows), tmp_path / "idx"


def sq(capsys, cache_dir, *argv):
    code = main(
        [
            *tiny_argv(cache_dir),
            *argv,
        ]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def test_index_lifecycle(capsys, cache_dir, shop):
    csv_path, idx = shop
    code, out, err = sq(capsys, cache_dir, "index", "add", str(csv_path), "--index", str(idx), "--json")
    summary = json.loads(out)
    assert code == 0 and summary["added"] == 31 and summary["count"] == 31 and summary["failed"] == []

    code, out, _ = sq(capsys, cache_dir, "index", "info", "--index", str(idx), "--json")
    info = json.loads(out)
    assert info["count"] == 31 and info["encoder"] == "tiny:open_clip" and info["index_type"] == "flat"
    assert info["schema"] == {"color": "text", "shape": "text", "year": "integer", "title": "text"}

    code, out, _ = sq(
        capsys,
        cache_dir,
        "search",
        "--index",
        str(idx),
        "--text",
        "a red circle",
        "-k",
        "4",
        "--filter",
        "color=Red",
        "--filter",
        "year>=2011",
        "--json",
    )
    res = json.loads(out)
    assert code == 0 and 0 < len(res["results"]) <= 4
    assert all(r["metadata"]["color"] == "Red" and r["metadata"]["year"] >= 2011 for r in res["results"])
    assert set(res["results"][0]) == {"id", "score", "image", "metadata"} and res["query"]["k"] == 4

    code, out, _ = sq(capsys, cache_dir, "search", "--index", str(idx), "--like", "sku4", "-k", "3", "--json")
    assert [r["id"] for r in json.loads(out)["results"]].count("sku4") == 0

    img = csv_path.parent / "images" / "007.jpg"
    code, out, _ = sq(
        capsys,
        cache_dir,
        "search",
        "--index",
        str(idx),
        "--image",
        str(img),
        "--text",
        "square",
        "--weight",
        "0.9",
        "--negative",
        "blue",
        "-k",
        "1",
        "--json",
    )
    assert json.loads(out)["results"][0]["id"] == "sku7"

    code, out, _ = sq(capsys, cache_dir, "search", "--index", str(idx), "--text", "17", "--hybrid", "-k", "3", "--json")
    assert json.loads(out)["results"][0]["id"] == "sku17"  # the only keyword match wins the fusion

    code, out, err = sq(capsys, cache_dir, "index", "remove", "sku1", "nope", "--index", str(idx))
    assert code == 1 and "removed 1 item(s)" in out and "no item 'nope'" in err

    code, out, _ = sq(capsys, cache_dir, "index", "rebuild", "--index", str(idx), "--type", "hnsw")
    assert code == 0 and "rebuilt as hnsw with 30 items" in out

    code, out, _ = sq(capsys, cache_dir, "index", "dedup", "--index", str(idx), "--threshold", "0.99", "--json")
    assert any({"sku3", "sku3-again"} <= set(g) for g in json.loads(out)["groups"])


def test_search_and_index_errors(capsys, cache_dir, shop, tmp_path):
    csv_path, idx = shop
    code, _, err = sq(capsys, cache_dir, "search", "--index", str(idx), "--text", "x")
    assert code == 1 and "no index here; build one with `sceneqa index add" in err
    sq(capsys, cache_dir, "index", "add", str(csv_path), "--index", str(idx))
    for argv, message in (
        (
            ["--text", "x", "--filter", "size=XL"],
            "no column 'size' in this catalog (columns: color, shape, year, title)",
        ),
        (["--text", "x", "--filter", "year>=soon"], "'soon' is not a number (column 'year' holds integer values)"),
        (["--image", str(csv_path)], "not an image, it looks like text"),
        (["--hybrid", "--like", "sku2"], "--hybrid fuses keyword matches of --text; give --text too"),
    ):
        code, _, err = sq(capsys, cache_dir, "search", "--index", str(idx), *argv)
        assert code == 1 and message in err, err
    code, _, err = sq(capsys, cache_dir, "search", "--index", str(idx))
    assert code == 1 and "nothing to search for" in err
    code, _, err = (
        main(
            [
                "--encoder",
                "tiny:hf",
                "--device",
                "cpu",
                "--offline",
                "-q",
                "--cache-dir",
                str(cache_dir),
                "search",
                "--index",
                str(idx),
                "--text",
                "x",
            ]
        ),
        *capsys.readouterr(),
    )
    assert code == 1 and "was built with tiny:open_clip (dim 32) but the encoder in use is tiny:hf" in err
    code, _, err = sq(capsys, cache_dir, "index", "add", str(tmp_path / "nope.csv"), "--index", str(idx))
    assert code == 1 and "nope.csv: no such file or folder" in err
