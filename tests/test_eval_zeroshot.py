"""``sceneqa eval zeroshot`` end to end on generated data with the tiny encoder."""

from __future__ import annotations

import json

from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.image_corpus import gradient


def test_eval_zeroshot_writes_report_and_plots(tmp_path, cache_dir, capsys):
    rows = ["path,label"]
    for i in range(6):
        name = f"img{i}.png"
        gradient(seed=i).save(tmp_path / name)
        rows.append(f"{name},{'red' if i % 2 else 'green'}")
    rows.append("broken.png,red")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    rows.append("only-path.png")
    (tmp_path / "data.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "report"
    code = main(
        [
            *tiny_argv(cache_dir),
            "eval",
            "zeroshot",
            "--data",
            str(tmp_path / "data.csv"),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n"] == 6 and report["classes"] == 2 and report["tier"] == "tiny"
    assert 0.0 <= report["top1"] <= 1.0 and report["top5"] == 1.0
    assert list(report["failed_images"]) == [str(tmp_path / "broken.png")]
    assert report["skipped_rows"] == [f"{tmp_path / 'data.csv'}:9: wrong number of fields"]
    for name in ("report.md", "reliability.png", "coverage.png", "confusion.png"):
        assert (out / name).stat().st_size > 0
    assert "top-1" in captured.out and "skipped" in captured.err
