"""The CLI end to end, in process, on the tiny tier (generated images; no network)."""

from __future__ import annotations

import json

import pytest

from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.image_corpus import gradient


@pytest.fixture()
def images(tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / f"img{i}.png"
        gradient(seed=i).save(p)
        paths.append(str(p))
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image\n")
    return paths, str(bad)


def run(capsys, cache_dir, *argv):
    code = main([*tiny_argv(cache_dir, quiet=False), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_classify_json_per_image(capsys, cache_dir, images):
    paths, _ = images
    code, out, err = run(
        capsys, cache_dir, "classify", *paths, "--labels", "red, green, blue", "--json", "--top-k", "2"
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["image"] for r in rows] == paths
    for r in rows:
        assert set(r) >= {"image", "labels", "abstained", "encoder", "tier"}
        assert r["encoder"] == "tiny:open_clip" and r["tier"] == "tiny"
        assert len(r["labels"]) == 2 and set(r["labels"][0]) >= {"label", "score"}
    assert "RANDOM WEIGHTS" in err  # the banner never hides that tiny weights are random


def test_bad_image_gives_one_line_and_others_still_answer(capsys, cache_dir, images):
    paths, bad = images
    code, out, err = run(capsys, cache_dir, "-q", "classify", paths[0], bad, paths[1], "--labels", "a,b")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sceneqa: error: {bad}: not an image, it looks like text")
    assert out.count(paths[0]) == 1 and out.count(paths[1]) == 1


def test_json_reports_errors_in_line(capsys, cache_dir, images):
    paths, bad = images
    code, out, _ = run(capsys, cache_dir, "-q", "classify", bad, paths[0], "--labels", "a,b", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and rows[0]["image"] == bad and "not an image" in rows[0]["error"] and "labels" in rows[1]


def test_labels_file_and_multi_label(capsys, cache_dir, images, tmp_path):
    paths, _ = images
    lf = tmp_path / "labels.txt"
    lf.write_text("red\ngreen\n\nblue\n")
    code, out, _ = run(
        capsys,
        cache_dir,
        "-q",
        "classify",
        paths[0],
        "--labels-file",
        str(lf),
        "--multi-label",
        "--threshold",
        "0",
        "--json",
    )
    row = json.loads(out)
    assert code == 0 and row["multi_label"] and set(row["supported"]) == {"red", "green", "blue"}


def test_usage_errors(capsys, cache_dir, images):
    paths, _ = images
    code, _, err = run(capsys, cache_dir, "classify", paths[0])
    assert code == 1 and "no labels: pass --labels" in err
    code, _, err = run(capsys, cache_dir, "classify", paths[0], "--labels-file", "/nonexistent/labels.txt")
    assert code == 1 and "--labels-file /nonexistent/labels.txt: cannot be read" in err
    with pytest.raises(SystemExit) as exc:
        main(["--tier", "best", "models"])
    assert exc.value.code == 2


def test_models_json(capsys, cache_dir):
    code, out, _ = run(capsys, cache_dir, "models", "--json")
    report = json.loads(out)
    assert code == 0
    assert set(report["tiers"]) == {"full", "lite", "tiny"}
    assert report["selected"]["tier"] == "tiny"
    assert report["hub"]["reachable"] is False  # --offline: no probe
    assert report["runtime"] == {"device": "cpu", "precision": "fp32", "reason": ""}


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for word in ("classify", "models", "eval", "bench", "--tier", "--encoder", "--device", "--precision"):
        assert word in text
