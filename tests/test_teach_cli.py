"""``sceneqa teach`` / ``labelsets`` / ``classify --labelset`` / ``eval fewshot`` end to end on the tiny tier
(PIL-drawn images; no network, no shared data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from sceneqa.cli import main
from tests.cli_util import tiny_argv

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 190, 30)}


def drawn(path, colour, seed):
    """A box of ``colour`` at a seeded place on a light, seeded background."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (64, 48), tuple(int(v) for v in rng.integers(200, 256, 3)))
    x = int(rng.integers(0, 30))
    ImageDraw.Draw(img).rectangle([x, 8, x + 30, 40], fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


@pytest.fixture()
def examples(tmp_path):
    root = tmp_path / "examples"
    for k, (label, colour) in enumerate(COLOURS.items()):
        for i in range(4):
            drawn(root / label / f"{i}.png", colour, seed=10 * k + i)
    (root / "red" / "broken.jpg").write_text("not an image")
    return root


def run(capsys, cache_dir, *argv, labelsets=None):
    extra = ["--labelsets-dir", str(labelsets)] if labelsets else []
    code = main([*tiny_argv(cache_dir), *argv, *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_teach_classify_list_info_remove(capsys, cache_dir, examples, tmp_path):
    sets = tmp_path / "sets"
    code, out, err = run(capsys, cache_dir, "teach", "colours", "--examples", str(examples), "--json", labelsets=sets)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["counts"] == {"blue": 4, "green": 4, "red": 4} and summary["added"] == 12
    assert summary["encoder"]["spec"] == "tiny:open_clip" and summary["cv"]["held_out"] == 12
    assert "red/broken.jpg" in err and "skipped" in err  # reported by file, the rest used
    images = [str(examples / label / "0.png") for label in COLOURS]
    code, out, err = run(capsys, cache_dir, "classify", *images, "--labelset", "colours", "--json", labelsets=sets)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["labelset"] for r in rows] == ["colours"] * 3
    for r in rows:
        probs = [s["score"] for s in r["labels"]]
        assert abs(sum(probs) - 1) < 1e-4 and all(s["match"] == s["score"] for s in r["labels"])
    code, out, _ = run(
        capsys, cache_dir, "classify", images[0], "--labelset", "colours", "--threshold", "1.0", labelsets=sets
    )
    assert code == 0 and "none of these" in out
    code, out, _ = run(capsys, cache_dir, "labelsets", "list", labelsets=sets)
    assert code == 0 and out.startswith("colours: 3 labels, 12 examples, encoder tiny:open_clip")
    code, out, _ = run(capsys, cache_dir, "labelsets", "info", "colours", labelsets=sets)
    assert code == 0 and "red: 4 examples" in out and "problem: red/broken.jpg" in out
    code, out, _ = run(capsys, cache_dir, "labelsets", "remove", "colours", labelsets=sets)
    assert code == 0 and "removed" in out
    code, _, err = run(capsys, cache_dir, "classify", images[0], "--labelset", "colours", labelsets=sets)
    assert code == 1 and "no label set 'colours'" in err


def test_add_replace_and_existing_name(capsys, cache_dir, examples, tmp_path):
    sets = tmp_path / "sets"
    assert run(capsys, cache_dir, "teach", "c", "--examples", str(examples), labelsets=sets)[0] == 0
    code, _, err = run(capsys, cache_dir, "teach", "c", "--examples", str(examples), labelsets=sets)
    assert code == 1 and "already exists" in err and "--add" in err
    more = tmp_path / "more"
    for i in range(2):
        drawn(more / "yellow" / f"{i}.png", (230, 230, 20), seed=100 + i)
    drawn(more / "red" / "0.png", COLOURS["red"], seed=99)  # one more red example
    code, out, err = run(capsys, cache_dir, "teach", "c", "--examples", str(more), "--add", "--json", labelsets=sets)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["counts"] == {"blue": 4, "green": 4, "red": 5, "yellow": 2} and summary["added"] == 3
    assert summary["labels"][:3] == ["blue", "green", "red"]  # old labels keep their places
    code, out, err = run(capsys, cache_dir, "teach", "c", "--examples", str(more), "--add", "--json", labelsets=sets)
    assert code == 0 and json.loads(out)["added"] == 0 and "used once" in err  # the same files again
    code, out, _ = run(capsys, cache_dir, "teach", "c", "--examples", str(more), "--replace", "--json", labelsets=sets)
    assert code == 0 and json.loads(out)["counts"] == {"red": 1, "yellow": 2}


def test_bad_inputs(capsys, cache_dir, examples, tmp_path):
    sets = tmp_path / "sets"
    for name in ("a/b", "..", "two words", "x" * 1000):
        code, _, err = run(capsys, cache_dir, "teach", name, "--examples", str(examples), labelsets=sets)
        assert code == 1 and "label set name" in err, name
    one = tmp_path / "one"
    drawn(one / "solo" / "0.png", (0, 0, 0), 1)
    for i in range(2):
        drawn(one / "pair" / f"{i}.png", (255, 255, 255), 2 + i)
    code, _, err = run(capsys, cache_dir, "teach", "x", "--examples", str(one), labelsets=sets)
    assert code == 0 and "label 'solo' has 1 example" in err
    only = tmp_path / "only"
    drawn(only / "solo" / "0.png", (0, 0, 0), 1)
    code, _, err = run(capsys, cache_dir, "teach", "y", "--examples", str(only), labelsets=sets)
    assert code == 1 and "at least 2 labels" in err
    code, _, err = run(
        capsys, cache_dir, "teach", "z", "--examples", str(examples), "--labels", "purple", labelsets=sets
    )
    assert code == 1 and "'purple' with no examples" in err
    code, _, err = run(capsys, cache_dir, "classify", "a.png", "--labelset", "x", "--labels", "a", labelsets=sets)
    assert code == 1 and "exclude each other" in err


def test_another_encoder_is_refused_naming_both(capsys, cache_dir, examples, tmp_path):
    sets = tmp_path / "sets"
    assert run(capsys, cache_dir, "teach", "c", "--examples", str(examples), labelsets=sets)[0] == 0
    argv = ["--device", "cpu", "--precision", "fp32", "--offline", "--cache-dir", str(cache_dir), "-q"]
    code = main([*argv, "--encoder", "tiny:hf", "classify", str(examples / "red" / "0.png"), "--labelset", "c",
                 "--labelsets-dir", str(sets)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "'tiny:open_clip'" in err and "'tiny:hf'" in err and "re-teach" in err


def test_teach_from_a_csv_with_text_labels(capsys, cache_dir, tmp_path):
    rows = ["file,kind"]
    for k, (label, colour) in enumerate(COLOURS.items()):
        for i in range(3):
            drawn(tmp_path / "cat" / f"{label}{i}.png", colour, seed=50 + 10 * k + i)
            rows.append(f"{label}{i}.png,{label}")
    (tmp_path / "cat" / "catalog.csv").write_text("\n".join(rows) + "\n")
    code, out, err = run(
        capsys, cache_dir, "teach", "csv", "--examples", str(tmp_path / "cat" / "catalog.csv"), "--label-column",
        "kind", "--labels", "red=a red box, blue", "--json", labelsets=tmp_path / "sets",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["texts"] == ["blue", "green", "a red box"]


def test_eval_fewshot_writes_the_report(capsys, cache_dir, tmp_path):
    rows = ["path,kind"]
    for k, (label, colour) in enumerate(COLOURS.items()):
        for i in range(4):
            drawn(tmp_path / "d" / f"{label}{i}.png", colour, seed=200 + 10 * k + i)
            rows.append(f"{label}{i}.png,{label}")
    rows.append("tiny.png,rare")  # a class below --min-per-class is left out
    drawn(tmp_path / "d" / "tiny.png", (0, 0, 0), 1)
    (tmp_path / "d" / "c.csv").write_text("\n".join(rows) + "\n")
    out_dir = tmp_path / "report"
    argv = ["eval", "fewshot", "--data", str(tmp_path / "d" / "c.csv"), "--label-column", "kind"]
    code, out, err = run(capsys, cache_dir, *argv, "--shots", "1", "2", "--seeds", "2", "--min-per-class", "3",
                         "--out", str(out_dir))  # fmt: skip
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    assert report["classes"] == 3 and report["images"] == 12
    assert set(report["summary"]) >= {"zero-shot", "lr-embedding", "teach", "teach+text"}
    assert len(report["runs"]["2"]) == 2 and (out_dir / "fewshot.png").is_file() and (out_dir / "report.md").is_file()
    assert "teach:" in out
    code, _, err = run(capsys, cache_dir, *argv, "--shots", "5", "--min-per-class", "3", "--out", str(out_dir))
    assert code == 1 and "leaves no query image" in err
