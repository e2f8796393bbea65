"""``sceneqa bench teach`` end to end at toy sizes (tiny encoder; figures are printed, never asserted), and its
seeded synthetic example images."""

from __future__ import annotations

import json

import numpy as np

from eval.bench_teach import synthetic_examples, synthetic_image
from sceneqa.cli import main
from tests.cli_util import tiny_argv


def test_synthetic_images_are_seeded_and_labels_differ():
    a, b = np.asarray(synthetic_image(3, seed=7)), np.asarray(synthetic_image(3, seed=7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (256, 256, 3)
    assert not np.array_equal(a, np.asarray(synthetic_image(3, seed=8)))
    assert not np.array_equal(a, np.asarray(synthetic_image(4, seed=7)))


def test_synthetic_examples_cycle_through_the_labels(tmp_path):
    pairs = synthetic_examples(tmp_path, 7, 3, seed=0)
    assert [label for _, label in pairs] == ["class-00", "class-01", "class-02"] * 2 + ["class-00"]
    assert all((tmp_path / f"{i:05d}.jpg").is_file() for i in range(7))


def test_bench_teach_prints_teach_and_classify_figures(capsys, cache_dir):
    argv = ["bench", "teach", "--examples", "18", "--labels", "3", "--classify", "--queries", "4", "--repeats", "1"]
    assert main([*tiny_argv(cache_dir), *argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert "cpu flags:" in out and "machine:" in out
    assert "teach 18 examples, 3 labels: embed " in out and " s, fit " in out and " s, total " in out
    assert "plain embedding " in out and "with the label set " in out and "the head alone" in out
    report = json.loads(out.strip().splitlines()[-1])
    t = report["teach"]
    assert t["examples"] == 18 and t["labels"] == 3 and t["cv_folds"] == 5
    assert 0 < t["embed_s"] <= t["total_s"] and t["fit_s"] >= 0
    c = report["classify"]
    assert c["queries"] == 4 and c["embed_ms_per_image"] > 0 and c["labelset_ms_per_image"] > 0
    assert 0 < c["head_only_ms_per_image"] < c["labelset_ms_per_image"]


def test_bench_teach_reads_a_labelled_csv(capsys, cache_dir, tmp_path):
    pairs = synthetic_examples(tmp_path / "img", 12, 2, seed=1)
    csv = tmp_path / "data.csv"
    csv.write_text("path,kind\n" + "".join(f"{p},{label}\n" for p, label in pairs))
    argv = ["bench", "teach", "--data", str(csv), "--label-column", "kind", "--examples", "8"]
    assert main([*tiny_argv(cache_dir), *argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["teach"]["examples"] == 8 and report["teach"]["labels"] == 2 and "classify" not in report
