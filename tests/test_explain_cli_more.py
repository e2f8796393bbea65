"""``search --explain DIR`` and ``ask --explain DIR`` in process on the tiny tier: overlays of the top hits
(capped, said so) and of the image regions behind an answer; nothing is explained without the option."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw

from multimodal.ask.answers import Answer, Evidence
from multimodal.explain.evidence import answer_subject, cited_boxes, explain_answer
from sceneqa.cli import main
from tests.cli_util import tiny_argv
from tests.image_corpus import gradient


def run(capsys, cache_dir, *argv):
    code = main([*tiny_argv(cache_dir), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def index(capsys, cache_dir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, colour in enumerate([(220, 30, 30), (30, 60, 220), (40, 170, 60), (200, 200, 30), (90, 90, 90)]):
        img = Image.new("RGB", (64, 48), (245, 245, 240))
        ImageDraw.Draw(img).ellipse((8 + i, 6, 50, 42), fill=colour)
        img.save(src / f"item{i}.png")
    idx = tmp_path / "idx"
    code, _, err = run(capsys, cache_dir, "index", "add", str(src), "--index", str(idx))
    assert code == 0, err
    return idx


def test_search_explain_writes_overlays_for_the_top_hits(capsys, cache_dir, index, tmp_path):
    out_dir = tmp_path / "why"
    code, out, err = run(
        capsys, cache_dir, "search", "--index", str(index), "--text", "a red circle", "-k", "5", "--json",
        "--explain", str(out_dir), "--explain-max", "2",
    )  # fmt: skip
    assert code == 0
    hits = json.loads(out)["results"]
    explained = [h for h in hits if "explanation" in h]
    assert len(hits) == 5 and explained == hits[:2]
    pngs = sorted(p.name for p in out_dir.glob("*.png"))
    assert len(pngs) == 2 and pngs[0].startswith("01-") and pngs[1].startswith("02-")
    for h in explained:
        e = h["explanation"]
        assert e["target"] == "a red circle" and e["png"].endswith(".png") and (e["flat"] or e["boxes"])
        with Image.open(e["png"]) as im:
            assert im.size == (64, 48)
    assert "explained 2 of 5 hits" in err and "wrote 2 heatmap overlays" in err


def test_search_explain_max_over_the_cap_is_cut_and_said(capsys, cache_dir, index, tmp_path, monkeypatch):
    import sceneqa.cli.explain_limits as limits

    monkeypatch.setattr(limits, "MAX_EXPLAIN", 3)  # the real cap (32) holds more hits than this index has
    code, out, err = run(
        capsys, cache_dir, "search", "--index", str(index), "--text", "a red circle", "-k", "5", "--json",
        "--explain", str(tmp_path / "why"), "--explain-max", "100",
    )  # fmt: skip
    assert code == 0, err
    assert "--explain-max 100: at most 3 hits are explained" in err and "explained 3 of 5 hits" in err
    assert len(list((tmp_path / "why").glob("*.png"))) == 3
    assert [("explanation" in h) for h in json.loads(out)["results"]] == [True] * 3 + [False] * 2


def test_search_explain_image_query_and_like(capsys, cache_dir, index, tmp_path):
    query = tmp_path / "q.png"
    gradient(w=40, h=40).save(query)
    code, _, err = run(
        capsys, cache_dir, "search", "--index", str(index), "--image", str(query), "-k", "1",
        "--explain", str(tmp_path / "a"),
    )  # fmt: skip
    assert code == 0 and "target: the query image" in err and len(list((tmp_path / "a").glob("*.png"))) == 1
    code, out, _ = run(capsys, cache_dir, "search", "--index", str(index), "--text", "x", "-k", "1", "--json")
    item = json.loads(out)["results"][0]["id"]
    code, _, err = run(
        capsys, cache_dir, "search", "--index", str(index), "--like", item, "-k", "2", "--explain", str(tmp_path / "b")
    )
    assert code == 0 and "a --like query is not explained" in err and not (tmp_path / "b").exists()


def test_search_without_explain_does_no_explain_work(capsys, cache_dir, index, monkeypatch):
    import sceneqa.cli.locate as locate_cli

    def boom(*_a, **_k):
        raise AssertionError("explain ran although --explain was not given")

    monkeypatch.setattr(locate_cli, "write_search_explanations", boom)
    monkeypatch.setattr(locate_cli, "write_answer_explanations", boom)
    code, _, _ = run(capsys, cache_dir, "search", "--index", str(index), "--text", "red")
    assert code == 0


def test_ask_explain_writes_the_answer_overlay(capsys, cache_dir, tmp_path):
    photo = tmp_path / "scene.png"
    gradient(w=120, h=80).save(photo)
    out_dir = tmp_path / "why"
    code, out, err = run(capsys, cache_dir, "ask", str(photo), "where is the cat?", "--json", "--explain", str(out_dir))
    assert code == 0
    answer = json.loads(out)
    (png,) = out_dir.glob("*.png")
    assert png.name == "image1-scene__why.png" and "heatmap of 'cat'" in err and "wrote 1 answer overlays" in err
    with Image.open(png) as im:
        assert im.size == (120, 80)
    cited = [c["locator"] for c in answer["citations"] if c.get("boxes")]
    assert all(loc in err for loc in cited)


def test_ask_explain_aims_its_heatmap_with_answer_target(capsys, cache_dir, tmp_path, monkeypatch):
    """The CLI and the API share one aim (:func:`multimodal.explain.evidence.answer_target`): its problem is said."""
    import multimodal.explain.evidence as evidence
    import sceneqa.cli.locate as locate_cli

    asked = []

    def aim(services, question):
        asked.append(question)
        return None, None, None, "no heatmap for the question's subject: a stand-in problem"

    monkeypatch.setattr(evidence, "answer_target", aim)
    photo = tmp_path / "scene.png"
    gradient(w=60, h=40).save(photo)
    code, _, err = run(capsys, cache_dir, "ask", str(photo), "where is the cat?", "--explain", str(tmp_path / "w"))
    assert code == 0 and asked == ["where is the cat?"]
    assert "sceneqa: --explain: no heatmap for the question's subject: a stand-in problem" in err
    assert not hasattr(locate_cli, "write_classify_explanations")  # classify's overlays: sceneqa/cli/classify.py


def test_ask_explain_without_a_subject_or_boxes_writes_nothing(capsys, cache_dir, tmp_path):
    photo = tmp_path / "scene.png"
    gradient(w=60, h=40).save(photo)
    code, _, err = run(capsys, cache_dir, "ask", str(photo), "describe the image", "--explain", str(tmp_path / "w"))
    assert code == 0 and "wrote 0 answer overlays" in err and "without cited boxes or a subject" in err


def test_cited_boxes_and_overlays_are_per_image():
    ev = [
        Evidence("image", "image:1#objects:cat", "cat", 0.9, ((1, 2, 10, 12),)),
        Evidence("image", "image:10#objects:dog", "dog", 0.9, ((0, 0, 5, 5),)),  # not image 1
        Evidence("image", "image:2#colours", "colours", 0.5),  # no boxes
    ]
    answer = Answer("yes", 0.9, False, tuple(ev), derived=(ev[0],))
    boxes, locators = cited_boxes(answer, 1)
    assert [(b.x0, b.y0, b.x1, b.y1) for b in boxes] == [(1, 2, 10, 12)] and locators == ["image:1#objects:cat"]
    images = [Image.new("RGB", (20, 20)), Image.new("RGB", (30, 10)), Image.new("RGBA", (8, 8))]
    rows, note = explain_answer(images, answer)  # no explainer: the cited boxes alone
    assert [r.n for r in rows] == [1] and rows[0].picture.size == (20, 20) and note is None
    assert answer_subject("what colour is the car?") == "car" and answer_subject("describe the image") is None
