"""VQA evaluation: answer normalisation, the JSONL and folder loaders, the per-kind figures by hand, and
``sceneqa eval vqa`` end to end (tiny), on a JSONL and on a coco128-shaped folder with train/val splits."""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image, ImageDraw

from eval.metrics import normalize_answer, vqa_accuracy
from eval.vqa_data import load_vqa
from eval.vqa_report import Prediction, by_kind, summarise
from multimodal.errors import ConfigError
from sceneqa.cli import main
from tests.cli_util import tiny_argv


def test_normalisation_and_accuracy_by_hand():
    assert normalize_answer("The Red, circle!") == "red circle"
    assert normalize_answer("Two") == "2"
    assert vqa_accuracy("two", ["2"]) == 1.0 and vqa_accuracy("3", ["2"]) == 0.0
    assert vqa_accuracy("red", ["red", "red", "blue", "red"]) == 1.0
    assert vqa_accuracy("blue", ["red", "red", "blue", "red"]) == 1 / 3


def test_jsonl_loader_reports_malformed_lines(tmp_path):
    path = tmp_path / "vqa.jsonl"
    path.write_text(
        '{"path": "a.png", "question": "q?", "answers": ["yes"]}\n{broken\n'
        '{"path": "b.png", "question": "q?"}\n{"path": "c.png", "question": "q?", "answers": []}\n'
    )
    items, problems = load_vqa(str(path))
    assert [i.path.name for i in items] == ["a.png"] and items[0].path.parent == tmp_path
    assert [p.split(": ")[0] for p in problems] == [f"{path}:2", f"{path}:3", f"{path}:4"]


def test_eval_vqa_end_to_end(tmp_path, cache_dir, capsys):
    img = Image.new("RGB", (64, 64), (245, 245, 245))
    ImageDraw.Draw(img).ellipse((16, 16, 48, 48), fill=(220, 30, 30))
    img.save(tmp_path / "c.png")
    rows = [
        {"path": "c.png", "question": "what color is the shape?", "answers": ["red"]},
        {"path": "c.png", "question": "is there a circle?", "answers": ["yes"]},
        {"path": "c.png", "question": "what shape is in the image?", "answers": ["circle"]},
    ]
    (tmp_path / "v.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    code = main(
        [
            *tiny_argv(cache_dir),
            "--answerer",
            "lite",
            "eval",
            "vqa",
            "--data",
            str(tmp_path / "v.jsonl"),
            "--out",
            str(out),
        ]
    )
    report = json.loads((out / "report.json").read_text())
    assert code == 0 and report["n"] == 3 and report["accuracy"] == 1.0
    assert (out / "latency.png").stat().st_size > 0 and "vqa" in capsys.readouterr().out


def _coco_shaped(root):
    """A tiny coco128-shaped folder: two drawn images, presence and count questions in train and val."""
    (root / "images").mkdir(parents=True)
    for name, fill in (("a", (220, 30, 30)), ("b", (30, 30, 220))):
        img = Image.new("RGB", (64, 48), (245, 245, 245))
        ImageDraw.Draw(img).ellipse((16, 8, 48, 40), fill=fill)
        img.save(root / "images" / f"{name}.png")
    presence = [
        ("a", "Is there a circle in the image?", "yes", "present", "train"),
        ("a", "Is there a dog in the image?", "no", "absent", "train"),
        ("b", "Is there a circle in the image?", "yes", "present", "val"),
        ("b", "Is there a car in the image?", "no", "absent", "val"),
        ("b", "Is there a person in the image?", "no", "absent", "val"),
    ]
    counts = [("a", "How many people are there?", "0", "train"), ("b", "How many people are there?", "0", "val")]
    lines = {
        "presence.jsonl": [
            {"path": f"images/{i}.png", "question": q, "answers": [a], "kind": k, "category": "x", "split": s}
            for i, q, a, k, s in presence
        ],
        "counts.jsonl": [
            {
                "path": f"images/{i}.png",
                "question": q,
                "answers": [a],
                "kind": "count",
                "category": "person",
                "split": s,
            }
            for i, q, a, s in counts
        ],
        "objects.jsonl": [{"path": "images/a.png", "objects": [], "split": "train"}],
        "captions.jsonl": [{"path": "images/b.png", "captions": ["a blue circle"], "split": "val"}],
    }
    for name, rows in lines.items():
        (root / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [q for i, q, a, k, s in presence if s == "val"] + [q for i, q, a, s in counts if s == "val"]


def test_eval_vqa_on_a_coco_shaped_folder_reports_val_only(tmp_path, cache_dir, capsys):
    val_questions = _coco_shaped(tmp_path / "coco")
    out = tmp_path / "report"
    argv = ["eval", "vqa", "--data", str(tmp_path / "coco"), "--split", "val", "--out", str(out)]
    assert main([*tiny_argv(cache_dir), "--answerer", "lite", *argv]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "val" and report["n"] == len(val_questions) == 4
    assert set(report["by_kind"]) == {"presence", "count"}
    assert report["by_kind"]["presence"]["n"] == 3 and report["by_kind"]["count"]["n"] == 1
    fields = {"n", "accuracy", "coverage", "accuracy_answered", "ece_answered", "risk_coverage", "at_thresholds"}
    for figures in (report, *report["by_kind"].values()):
        assert fields <= set(figures)
        assert 0.0 <= figures["coverage"] <= 1.0 and 0.0 <= figures["accuracy"] <= figures["coverage"]
        assert set(figures["risk_coverage"]) == {"threshold", "coverage", "accuracy"}
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert sorted(p["question"] for p in preds) == sorted(val_questions)
    keys = {"question", "kind", "reference", "answer", "confidence", "abstained", "citations"}
    assert all(keys <= set(p) for p in preds)
    assert sum(not p["abstained"] for p in preds) == report["answered"]
    assert (out / "risk_coverage.png").stat().st_size > 0 and (out / "reliability.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "risk-coverage" in printed and "presence" in printed and "overall" in printed


def test_folder_loader_splits_and_unknown_split(tmp_path):
    _coco_shaped(tmp_path)
    every, _ = load_vqa(str(tmp_path))
    train, _ = load_vqa(str(tmp_path), split="train")
    assert len(every) == 7 and [i.kind for i in train] == ["presence", "presence", "count"]
    assert train[0].path == tmp_path / "images" / "a.png" and train[2].category == "person"
    with pytest.raises(ConfigError, match="splits there: train, val"):
        load_vqa(str(tmp_path), split="test")
    with pytest.raises(ConfigError, match="presence.jsonl or counts.jsonl"):
        load_vqa(str(tmp_path / "images"))


def _pred(kind, score, confidence, abstained=False):
    return Prediction("i.png", "q?", kind, "", ("yes",), "yes", confidence, abstained, score)


def test_summary_figures_by_hand():
    preds = [
        _pred("presence", 1.0, 0.9),
        _pred("presence", 0.0, 0.9),
        _pred("presence", 1.0, 0.6),
        _pred("presence", 0.0, 0.3, abstained=True),
        _pred("count", 0.0, 0.55),
    ]
    s = summarise(preds[:4])
    assert s["n"] == 4 and s["answered"] == 3 and s["accuracy"] == 0.5 and s["coverage"] == 0.75
    assert abs(s["accuracy_answered"] - 2 / 3) < 1e-12
    # bin (0.8, 0.9]: conf .9, acc .5 -> .4 for 2 of 3; bin (0.5, 0.6]: conf .6, acc 1 -> .4 for 1 of 3
    assert abs(s["ece_answered"] - (2 / 3 * 0.4 + 1 / 3 * 0.4)) < 1e-12
    assert s["risk_coverage"] == {"threshold": [0.9, 0.6], "coverage": [0.5, 0.75], "accuracy": [0.5, 2 / 3]}
    at = dict(zip(s["at_thresholds"]["threshold"], s["at_thresholds"]["coverage"]))
    assert at[0.0] == 0.75 and at[0.7] == 0.5 and at[0.95] == 0.0  # the abstained 0.3 never counts
    kinds = by_kind(preds)
    assert list(kinds) == ["count", "presence"] and kinds["count"]["accuracy_answered"] == 0.0
    assert math.isnan(summarise([])["accuracy"]) and summarise([])["risk_coverage"]["coverage"] == []


def test_fit_calibration_on_the_train_split(tmp_path, cache_dir, capsys):
    _coco_shaped(tmp_path / "coco")
    out, fitted = tmp_path / "report", tmp_path / "cal.json"
    argv = ["eval", "vqa", "--data", str(tmp_path / "coco"), "--split", "train", "--out", str(out)]
    assert main([*tiny_argv(cache_dir), "--answerer", "lite", *argv, "--fit-calibration", str(fitted)]) == 0
    cal = json.loads(fitted.read_text())
    prov = cal["provenance"]
    assert prov["split"] == "train" and prov["questions"] == 3 and prov["date"]
    assert cal["maps"] == {} and set(prov["unfitted"]) == set(prov["counts"])  # < 20 samples per key: no map
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert all(p["route"] for p in preds if not p["abstained"])  # answered without abstention, with its key
    assert "calibration fitted on" in capsys.readouterr().out


def test_eval_vqa_with_the_vlm_answerer_through_the_real_path(tmp_path, cache_dir):
    """Every tier keeps the same yardstick: the tiny:hf twin (random weights, the real HF generation path)
    runs the same eval, with the same figures and calibration report (its answers mean nothing)."""
    val_questions = _coco_shaped(tmp_path / "coco")
    out = tmp_path / "report"
    argv = ["eval", "vqa", "--data", str(tmp_path / "coco"), "--split", "val", "--out", str(out)]
    assert main([*tiny_argv(cache_dir), "--answerer", "tiny:hf", "--max-new-tokens", "4", *argv]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == len(val_questions) and {"ece_answered", "risk_coverage", "at_thresholds"} <= set(report)
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4 and all(not p["error"] for p in preds)
    assert all(any(c["locator"] == "image:1" for c in p["citations"]) or p["abstained"] for p in preds)
