"""``sceneqa inspect`` / ``eval anomaly`` / ``bench inspect`` end to end in the tiny tier, and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from multimodal.inspect.store import BANK
from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.inspect_data import texture, write_anomaly_layout, write_good


@pytest.fixture()
def run(cache_dir, tmp_path, capsys):
    root = tmp_path / "inspectors"

    def call(*argv: str) -> tuple[int, str, str]:
        code = main([*tiny_argv(cache_dir), *argv[:1], *argv[1:], "--inspectors-dir", str(root)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


@pytest.fixture()
def fitted(run, tmp_path):
    good = tmp_path / "good"
    write_good(good, 12)
    code, out, err = run("inspect", "fit", "tex", "--good", str(good), "--size", "128", "--json")
    assert code == 0, err
    return json.loads(out)


def test_fit_then_inspect_with_json_and_heatmaps(run, fitted, tmp_path):
    assert fitted["backbone"] == "tiny" and fitted["input_size"] == [128, 128] and fitted["images_used"] == 12
    assert fitted["bank"] == "nearest" and fitted["bank_size"] == 12 * 8 * 8 and fitted["threshold"] > 0
    texture(400).save(tmp_path / "ok.png")
    texture(401, blob=(60, 50, 16)).save(tmp_path / "bad.png")
    heat = tmp_path / "heat"
    code, out, err = run("inspect", "tex", str(tmp_path / "ok.png"), str(tmp_path / "bad.png"), "--json",
                         "--heatmap-dir", str(heat))  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    ok, bad = got["results"]
    assert ok["verdict"] == "ok" and bad["verdict"] == "defect" and bad["score"] > ok["score"]
    assert bad["probability"] > 0.99 and ok["boxes"] == [] and bad["boxes"]
    x0, y0, x1, y1 = bad["boxes"][0]["box"]
    assert x0 <= 60 and y0 <= 50 and x1 >= 76 and y1 >= 66
    assert sorted(p.name for p in heat.iterdir()) == ["bad.heatmap.png", "ok.heatmap.png"]
    assert Image.open(heat / "bad.heatmap.png").size == (128, 128)
    code, out, _ = run("inspect", "tex", str(tmp_path / "bad.png"))
    assert code == 0 and "DEFECT" in out and "threshold" in out
    code, out, _ = run("inspect", "list")
    assert code == 0 and out.startswith("tex: backbone tiny")


def test_fit_human_output_and_replace(run, fitted, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run("inspect", "fit", "tex", "--good", str(tmp_path / "good"))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "already exists" in err and "--replace" in err
    code, out, _ = run("inspect", "fit", "tex", "--good", str(tmp_path / "good"), "--replace", "--bank", "coreset")
    assert code == 0 and "bank coreset" in out and "Gumbel" in out


@pytest.mark.parametrize("n", [0, 1])
def test_a_good_folder_with_fewer_than_two_images_is_refused(run, tmp_path, n):
    good = tmp_path / "few"
    good.mkdir()
    write_good(good, n)
    (good / "notes.txt").write_text("not an image")
    code, _, err = run("inspect", "fit", "x", "--good", str(good))
    assert code == 1 and f"at least 2 good images (a bank and a threshold), got {n}" in err


def test_missing_source_and_usage_errors(run, tmp_path):
    code, _, err = run("inspect", "fit", "x", "--good", str(tmp_path / "nowhere"))
    assert code == 1 and "no such file or folder" in err
    with pytest.raises(SystemExit) as exc:
        run("inspect", "fit", "x")
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        run("inspect", "only-a-name")
    code, _, err = run("inspect", "nope", str(tmp_path / "x.png"))
    assert code == 1 and "no inspector 'nope'" in err


def test_mixed_sizes_and_modes_fit_and_inspect(run, tmp_path):
    good = tmp_path / "mixed"
    good.mkdir()
    for i in range(8):
        img = texture(i, 128)
        if i % 4 == 1:
            img = img.resize((160, 120))
        elif i % 4 == 2:
            img = img.convert("L")  # grey
        elif i % 4 == 3:
            img = img.convert("RGBA")
        img.save(good / f"{i}.png")
    sixteen = (np.asarray(texture(20).convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(sixteen).save(good / "sixteen.png")
    (good / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, out, err = run("inspect", "fit", "mixed", "--good", str(good), "--size", "128", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["images_used"] == 9 and len(summary["skipped"]) == 1 and "broken.png" in err
    assert summary["input_size"] == [128, 128]  # the median aspect ratio of the good images
    probes = []
    for name, img in (("grey.png", texture(30).convert("L")), ("rgba.png", texture(31).convert("RGBA"))):
        img.save(tmp_path / name)
        probes.append(str(tmp_path / name))
    Image.fromarray(sixteen).save(tmp_path / "sixteen.png")
    code, out, err = run("inspect", "mixed", *probes, str(tmp_path / "sixteen.png"), "--json")
    assert code == 0, err
    results = json.loads(out)["results"]
    # the same good texture, grey, with alpha, or 16-bit: decoded to the same RGB pixels, so not a defect
    assert len(results) == 3 and all(r["verdict"] != "defect" for r in results), results


def test_an_unrelated_image_scores_high_without_a_crash(run, fitted, tmp_path):
    from skimage import data

    Image.fromarray(data.astronaut()).resize((300, 300)).save(tmp_path / "astronaut.png")
    code, out, err = run("inspect", "tex", str(tmp_path / "astronaut.png"), "--json")
    assert code == 0, err
    r = json.loads(out)["results"][0]
    assert r["verdict"] == "defect" and r["score"] > 2 * fitted["threshold"]


def test_an_unreadable_image_is_reported_and_the_others_inspected(run, fitted, tmp_path):
    texture(400).save(tmp_path / "ok.png")
    (tmp_path / "junk.png").write_bytes(b"junk")
    code, out, err = run("inspect", "tex", str(tmp_path / "junk.png"), str(tmp_path / "ok.png"))
    assert code == 1 and "junk.png" in err and "ok.png: OK" in out


def test_another_backbone_and_a_corrupted_folder_are_clear_errors(run, fitted, tmp_path):
    texture(400).save(tmp_path / "ok.png")
    code, _, err = run("inspect", "tex", str(tmp_path / "ok.png"), "--backbone", "tiny:1")
    assert code == 1 and "built with backbone 'tiny'" in err and "'tiny:1'" in err
    bank = tmp_path / "inspectors" / "tex" / BANK
    bank.write_bytes(bank.read_bytes()[:100])
    code, _, err = run("inspect", "tex", str(tmp_path / "ok.png"))
    assert code == 1 and "checksum" in err and "refit" in err


def test_eval_anomaly_writes_the_report(cache_dir, tmp_path, capsys):
    data = write_anomaly_layout(tmp_path / "data")
    out = tmp_path / "report"
    argv = [*tiny_argv(cache_dir), "eval", "anomaly", "--data", str(data), "--out", str(out), "--size", "128",
            "--few-shot", "4", "--examples", "3"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "image AUROC all" in printed and "few-shot (4 good images)" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["image_auroc"]["all"] >= 0.9 and report["image_auroc"]["blob"] == report["image_auroc"]["all"]
    assert report["pixel_auroc"]["all"] >= 0.9 and "small" in report["pixel_auroc"]
    assert report["counts"] == {"good": 4, "defective": 4, "small (<400 px)": 4, "large (>=400 px)": 0}
    assert set(report["at_threshold"]) == {"precision", "recall", "f1", "false_alarms", "false_alarm_rate", "miss_rate"}
    rules = report["threshold_rules"]
    assert set(rules) == {"gumbel-predictive", "conformal", "gumbel-moments"}
    assert rules["gumbel-predictive"]["threshold"] == pytest.approx(report["inspector"]["threshold"], abs=1e-4)
    assert report["few_shot"]["good_images"] == 4 and report["roc"]["fpr"][0] == 0.0
    assert (out / "roc.png").is_file() and (out / "report.md").is_file() and len(report["examples"]) == 3
    assert all((out / e).is_file() for e in report["examples"])
    assert "train/good (12 images)" in report["fit_split"]


def test_eval_anomaly_refuses_a_wrong_layout(cache_dir, tmp_path, capsys):
    (tmp_path / "flat").mkdir()
    assert main([*tiny_argv(cache_dir), "eval", "anomaly", "--data", str(tmp_path / "flat")]) == 1
    assert "no train/good/ folder" in capsys.readouterr().err


def test_bench_inspect_prints_figures(cache_dir, capsys):
    argv = [*tiny_argv(cache_dir), "bench", "inspect", "--backbone", "tiny", "--images", "10", "--size", "64",
            "--repeats", "3", "--json"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("machine: ") and "cpu flags:" in out and "inspect p50" in out
    rows = json.loads(out.strip().splitlines()[-1])["rows"]
    assert [r["bank"] for r in rows] == ["nearest", "coreset"] and rows[0]["bank_size"] == 10 * 4 * 4
