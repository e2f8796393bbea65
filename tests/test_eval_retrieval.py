"""``sceneqa eval retrieval`` end to end (tiny encoder) and the captions loader on malformed lines."""

from __future__ import annotations

import json

from eval.data import load_captions
from sceneqa.cli import main
from tests.catalog_data import make_catalog, write_csv
from tests.cli_util import tiny_argv


def test_captions_loader(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"path": "a.png", "captions": ["a cat"]}\n{"path": "b.png"}\n{"path": "c.png", "captions": []}\nnope\n'
    )
    got = load_captions(path)
    assert [i.path.name for i in got.items] == ["a.png"]
    assert [p.split(": ")[0] for p in got.problems] == [f"{path}:2", f"{path}:3", f"{path}:4"]


def test_eval_retrieval_catalog_and_captions(tmp_path, cache_dir, capsys):
    rows = make_catalog(tmp_path, 12)
    csv_path = write_csv(tmp_path / "cat.csv", [{**r, "path": r["image"]} for r in rows])
    out = tmp_path / "rep"
    code = main(
        [
            *tiny_argv(cache_dir),
            "eval",
            "retrieval",
            "--data",
            str(csv_path),
            "--text-column",
            "title",
            "--group-column",
            "shape",
            "--out",
            str(out),
        ]
    )
    report = json.loads((out / "report.json").read_text())
    assert code == 0 and report["images"] == 12
    for direction in ("text_to_image", "image_to_image"):
        m = report[direction]
        assert 0 <= m["recall@1"] <= m["recall@5"] <= m["recall@10"] <= 1 and 0 <= m["mAP"] <= 1
    assert (out / "recall_at_k.png").stat().st_size > 0
    caps = tmp_path / "caps.jsonl"
    caps.write_text("".join(json.dumps({"path": r["image"], "captions": [r["title"]]}) + "\n" for r in rows))
    assert main([*tiny_argv(cache_dir), "eval", "retrieval", "--data", str(caps), "--out", str(tmp_path / "r2")]) == 0
    assert "text_to_image" in capsys.readouterr().out
