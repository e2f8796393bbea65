"""VQA evaluation: answer normalisation, the JSONL loader, and ``sceneqa eval vqa`` end to end (tiny)."""

from __future__ import annotations

import json

from PIL import Image, ImageDraw

from eval.metrics import normalize_answer, vqa_accuracy
from eval.vqa_data import load_vqa
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
