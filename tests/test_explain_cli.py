"""Explain from the command line, in process, on the tiny tier: locate, classify --explain, eval explain and
bench explain on generated images; bad inputs give one clear line and exit 1."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PIL import Image

from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.image_corpus import gradient


def run(capsys, cache_dir, *argv):
    code = main([*tiny_argv(cache_dir), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def photo(tmp_path):
    p = tmp_path / "scene.png"
    gradient(w=120, h=80).save(p)
    return p


def test_locate_json_boxes_inside_the_image(capsys, cache_dir, photo, tmp_path):
    overlay = tmp_path / "out" / "where.png"
    code, out, _ = run(capsys, cache_dir, "locate", str(photo), "a red square", "--json", "--overlay", str(overlay))
    assert code == 0
    row = json.loads(out)
    assert row["phrase"] == "a red square" and row["target"] == "text" and row["method"] == "heatmap"
    assert row["source"].startswith("vit-gradcam")  # the tiny tier has no object detector
    assert row["flat"] or row["boxes"]
    for b in row["boxes"]:
        x0, y0, x1, y1 = b["box"]
        assert 0 <= x0 < x1 <= 120 and 0 <= y0 < y1 <= 80 and 0 < b["score"] <= 1
        assert "around x=" in b["where"]
    with Image.open(overlay) as im:
        assert im.size == (120, 80) and im.mode == "RGB"


def test_locate_text_output(capsys, cache_dir, photo):
    code, out, _ = run(capsys, cache_dir, "locate", str(photo), "cat")
    assert code == 0 and out.startswith(f"{photo}: cat: ")


@pytest.mark.parametrize(
    "phrase, message", [("", "phrase is empty"), ("y" * 500, "500 characters; at most 200"), ("!!", "no letter")]
)
def test_locate_bad_phrases(capsys, cache_dir, photo, phrase, message):
    code, out, err = run(capsys, cache_dir, "locate", str(photo), phrase)
    assert code == 1 and out == "" and message in err and err.count("\n") == 1


def test_locate_strip_and_alpha_images(capsys, cache_dir, tmp_path):
    strip, wide, rgba = tmp_path / "strip.png", tmp_path / "wide.png", tmp_path / "alpha.png"
    Image.new("RGB", (100, 2), (10, 200, 10)).save(strip)
    Image.new("RGB", (400, 1), (10, 200, 10)).save(wide)
    Image.fromarray(np.dstack([np.full((30, 50, 3), 200, np.uint8), np.full((30, 50), 90, np.uint8)])).save(rgba)
    code, out, err = run(capsys, cache_dir, "locate", str(strip), "grass", "--json")
    assert code == 0 and any("thin strip" in n for n in json.loads(out)["notes"])
    code, out, err = run(capsys, cache_dir, "locate", str(wide), "grass", "--json")  # the loader's aspect cap
    assert code == 1 and "400:1, over the 50:1 limit" in err
    code, out, _ = run(capsys, cache_dir, "locate", str(rgba), "grass", "--json")
    assert code == 0 and all(b["box"][2] <= 50 and b["box"][3] <= 30 for b in json.loads(out)["boxes"])


def test_classify_explain_writes_overlays_capped(capsys, cache_dir, photo, tmp_path):
    out_dir = tmp_path / "why"
    labels = "red, green, blue, a cat, a dog"
    code, out, err = run(
        capsys, cache_dir, "classify", str(photo), "--labels", labels, "--explain", str(out_dir), "--explain-max", "2"
    )
    assert code == 0
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert len(pngs) == 2 and all(p.startswith("scene__") for p in pngs)
    assert "explained 2 of 5 targets" in err and "wrote 2 heatmap overlays" in err


def test_classify_explain_names_overlays_of_same_stem_images_apart(capsys, cache_dir, tmp_path):
    images = []
    for colour, seed in (("red", 1), ("blue", 2)):  # red/0.png and blue/0.png: one stem, two images
        images.append(tmp_path / colour / "0.png")
        images[-1].parent.mkdir()
        gradient(w=48, h=32, seed=seed).save(images[-1])
    out_dir = tmp_path / "why"
    code, _, err = run(
        capsys, cache_dir, "classify", *map(str, images), "--labels", "red, blue", "--explain", str(out_dir)
    )
    assert code == 0, err
    names = sorted(p.name for p in out_dir.glob("*.png"))
    assert names == ["0-2__blue.png", "0-2__red.png", "0__blue.png", "0__red.png"]
    assert "wrote 4 heatmap overlays" in err
    for image, stem in zip(images, ("0", "0-2")):  # each image's files, named on stderr
        (line,) = [x for x in err.splitlines() if x.startswith(f"sceneqa: {image}: overlays: ")]
        assert sorted(line.split(": ")[-1].split(", ")) == [str(out_dir / f"{stem}__{c}.png") for c in ("blue", "red")]


def test_unique_stems_never_repeat():
    from sceneqa.cli.classify import unique_stem

    taken: set[str] = set()
    stems = [unique_stem(p, taken) for p in ("a/0.png", "b/0.png", "c/0-2.png", "d/0.jpg", "x" * 80 + ".png")]
    assert stems[:4] == ["0", "0-2", "0-2-2", "0-3"] and len(stems[4]) == 60
    assert unique_stem("y/" + "x" * 80 + ".png", taken) == "x" * 52 + "-2"


@pytest.mark.parametrize("command", ["classify", "search"])
def test_explain_max_below_one_is_refused_before_any_model_loads(capsys, cache_dir, photo, tmp_path, command):
    rest = ["--labels", "red"] if command == "classify" else ["--text", "red", "--index", str(tmp_path / "idx")]
    target = [str(photo)] if command == "classify" else []
    code, out, err = run(
        capsys, cache_dir, command, *target, *rest, "--explain", str(tmp_path / "w"), "--explain-max", "0"
    )
    assert code == 1 and out == "" and "--explain-max must be at least 1, got 0; pass 1..32" in err


def test_explain_max_above_the_cap_is_cut_and_said(capsys):
    from sceneqa.cli.explain_limits import MAX_EXPLAIN, explain_max

    assert explain_max(argparse.Namespace(explain_max=5), "hits") == 5
    assert capsys.readouterr().err == ""
    assert explain_max(argparse.Namespace(explain_max=100), "hits") == MAX_EXPLAIN == 32
    assert "--explain-max 100: at most 32 hits are explained" in capsys.readouterr().err


def test_classify_without_explain_does_no_explain_work(capsys, cache_dir, photo, monkeypatch):
    import sceneqa.cli.classify as classify_cli

    def boom(*_a, **_k):
        raise AssertionError("explain ran although --explain was not given")

    monkeypatch.setattr(classify_cli, "write_explanations", boom)
    code, _, _ = run(capsys, cache_dir, "classify", str(photo), "--labels", "red, green")
    assert code == 0


def test_eval_explain_on_a_generated_objects_file(capsys, cache_dir, tmp_path):
    rows = []
    for i, split in enumerate(["train", "val", "val"]):
        gradient(w=64, h=48, seed=i).save(tmp_path / f"im{i}.png")
        objects = [{"category": "dog", "box": [0, 0, 32, 48]}, {"category": "baseball bat", "box": [30, 0, 64, 20]}]
        rows.append({"path": f"im{i}.png", "width": 64, "height": 48, "objects": objects, "split": split})
    data = tmp_path / "objects.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "report"
    code, text, _ = run(
        capsys, cache_dir, "eval", "explain", "--data", str(data), "--auc-pairs", "1", "--out", str(out)
    )
    assert code == 0 and "pointing game:" in text and "deletion AUC" in text
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "val" and report["overall"]["trials"] == 2  # two val images, dog only
    assert report["categories_kept"] == {"dog": "dog"} and report["categories_dropped"] == ["baseball bat"]
    assert report["overall"]["centre_baseline"] == 1.0  # the centre (32, 24) is within 15 px of the dog's box
    assert (out / "report.md").is_file()
    assert report["detector"] == "none" and "detector_assisted_mean_best_iou" not in report["overall"]
    code, _, err = run(capsys, cache_dir, "eval", "explain", "--data", str(data), "--split", "test")
    assert code == 1 and "no rows with split 'test'" in err


def test_detector_assisted_locate_is_kept_apart_from_the_heatmap_figure():
    from eval.explain_eval import _assisted, summarise
    from multimodal.detect.base import Detection
    from multimodal.explain.base import ExplainConfig

    gt = [[10.0, 10.0, 50.0, 50.0]]
    dets = [Detection(16, "dog", 0.8, (10.0, 10.0, 50.0, 30.0)), Detection(16, "dog", 0.1, (10.0, 10.0, 50.0, 50.0))]
    dog = {"iou_best": 0.1, "iou_top": 0.1, "iou_at": {"0.5": 0.1}, "hit": True, "centre_hit": False, "flat": False}
    dog |= {"category": "dog", **_assisted(dets, "dog", gt, dog, ExplainConfig(), (64, 64))}
    assert dog["by_detector"] and dog["coco_named"] and dog["iou_best_assisted"] == pytest.approx(0.5)  # 0.1 ignored
    cat = {**dog, "category": "cat", "iou_best": 0.3}
    cat |= _assisted(dets, "cat", gt, cat, ExplainConfig(), (64, 64))  # a COCO category it did not find
    assert not cat["by_detector"] and cat["coco_named"] and cat["iou_best_assisted"] == 0.3
    fox = {**dog, "category": "fox", "iou_best": 0.2}
    fox |= _assisted(dets, "fox", gt, fox, ExplainConfig(), (64, 64))  # not a COCO category
    assert not fox["coco_named"] and fox["iou_best_assisted"] == 0.2
    o = summarise([dog, cat, fox], [0.5])["overall"]
    assert o["locate_mean_best_iou"] == pytest.approx(0.2)  # heatmap only: (0.1 + 0.3 + 0.2) / 3
    assert o["detector_assisted_mean_best_iou"] == pytest.approx((0.5 + 0.3 + 0.2) / 3)
    assert (o["detector_answered"], o["coco_named"]) == (1, 2)


def test_bench_explain_prints_machine_and_ms(capsys, cache_dir):
    code, out, _ = run(
        capsys,
        cache_dir,
        "bench",
        "explain",
        "--encoders",
        "tiny:open_clip",
        "--repeats",
        "2",
        "--size",
        "64",
        "--paths-repeats",
        "0",  # explain off/on/floor: tests/test_bench_explain_paths.py
        "--json",
    )
    assert code == 0 and "machine:" in out and "cpu flags:" in out and "heatmap p50" in out
    row = json.loads(out.splitlines()[-1])["rows"][0]
    assert row["encoder"] == "tiny:open_clip" and row["heatmap"]["p50_ms"] > 0


def test_pointing_and_masks_helpers():
    from eval.explain_eval import order_masks, point_hit, random_order, summarise

    assert point_hit((10, 10), [[0, 0, 5, 5]], tolerance=15) and not point_hit((30, 30), [[0, 0, 5, 5]], 15)
    assert not point_hit(None, [[0, 0, 5, 5]], 15)
    masks = order_masks(np.array([3, 0, 1, 2]), (2, 2), steps=3)
    assert [int(m.sum()) for m in masks] == [0, 2, 4] and masks[1].reshape(-1).tolist() == [True, False, False, True]
    order = random_order((20, 30), 8, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(600))
    trials = [
        {
            "category": "dog",
            "hit": True,
            "centre_hit": False,
            "flat": False,
            "iou_best": 0.5,
            "iou_top": 0.5,
            "iou_at": {"0.5": 0.5},
        },
        {
            "category": "cat",
            "hit": False,
            "centre_hit": True,
            "flat": True,
            "iou_best": 0.0,
            "iou_top": 0.0,
            "iou_at": {"0.5": 0.0},
        },
    ]
    s = summarise(trials, [0.5])
    assert s["overall"]["pointing"] == 0.5 and s["overall"]["flat"] == 1 and s["per_category"]["dog"]["pointing"] == 1


def test_eval_parser_is_registered():
    from sceneqa.cli import build_parser

    args = build_parser().parse_args(["eval", "explain", "--data", "x.jsonl"])
    assert isinstance(args, argparse.Namespace) and args.split == "val" and args.tolerance == 15.0
