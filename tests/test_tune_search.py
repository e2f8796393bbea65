"""``sceneqa index tune`` and tuned ``search --text`` end to end on the tiny tier, and the item-text fusion
against a hand-made map (no meaning in tiny weights, so orders are asserted only where the data fixes them)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multimodal.search_tune import TEXT_WEIGHT, fused_text_search
from retrieval.catalog import Catalog
from retrieval.filters import parse_filter
from retrieval.tune import TUNE_FILE, QueryMap, TunedIndex
from retrieval.vector_index import SearchParams
from sceneqa.cli import main
from tests.catalog_data import make_catalog, write_csv
from tests.cli_util import tiny_argv


def run(capsys, cache_dir, *argv):
    code = main([*tiny_argv(cache_dir), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def built(tmp_path_factory, cache_dir):
    """A tiny-tier index of 40 drawn items with a ``title`` text column."""
    root = tmp_path_factory.mktemp("tunecat")
    rows = make_catalog(root, 40)
    csv = write_csv(root / "cat.csv", rows)
    index = root / "idx"
    assert main([*tiny_argv(cache_dir), "index", "add", str(csv), "--index", str(index)]) == 0
    return index, rows


def test_tune_saves_provenance_and_search_uses_it(capsys, cache_dir, built):
    index, rows = built
    code, out, err = run(capsys, cache_dir, "index", "tune", "--index", str(index), "--text-columns", "title,color",
                         "--json")  # fmt: skip
    assert code == 0, err
    prov = json.loads(out)
    assert prov["encoder"] == "tiny:open_clip" and prov["columns"] == ["title", "color"]
    assert prov["items"] == 40 and prov["fit_items"] + prov["held_out_items"] == 40 and prov["held_out_items"] == 8
    assert set(prov["held_out_recall@10"]) == {"before", "after"} and prov["features"] == "text-embedding"
    assert (index / TUNE_FILE).is_file()
    code, out, err = run(capsys, cache_dir, "search", "--index", str(index), "--text", rows[3]["title"], "--json")
    assert code == 0, err
    tuned = json.loads(out)
    assert tuned["query"]["tuned"] is True and tuned["query"]["item_text_weight"] == TEXT_WEIGHT
    code, out, err = run(capsys, cache_dir, "search", "--index", str(index), "--text", rows[3]["title"], "--json",
                         "--no-tune")  # fmt: skip
    plain = json.loads(out)
    assert plain["query"]["tuned"] is False and plain["query"]["item_text_weight"] == 0.0
    assert len(tuned["results"]) == len(plain["results"]) == 10
    # filters still hold inside the fused search
    code, out, err = run(capsys, cache_dir, "search", "--index", str(index), "--text", "red", "--filter", "color=Blue",
                         "--json")  # fmt: skip
    assert code == 0, err
    assert {h["metadata"]["color"] for h in json.loads(out)["results"]} == {"Blue"}


def test_tune_bad_columns_are_named(capsys, cache_dir, built):
    index, _ = built
    code, _, err = run(capsys, cache_dir, "index", "tune", "--index", str(index), "--text-columns", "titel")
    assert code != 0 and "'titel' not in" in err and "text columns are: color, shape, title" in err
    code, _, err = run(capsys, cache_dir, "index", "tune", "--index", str(index), "--text-columns", "year")
    assert code != 0 and "'year' (integer) hold no text" in err
    code, _, err = run(capsys, cache_dir, "index", "tune", "--index", str(index), "--text-columns", " , ")
    assert code != 0 and "--text-columns is empty" in err


def test_tune_refuses_a_catalog_without_text(capsys, cache_dir, tmp_path):
    rows = [{"id": r["id"], "image": r["image"], "year": r["year"]} for r in make_catalog(tmp_path, 24)]
    csv = write_csv(tmp_path / "notext.csv", rows)
    assert main([*tiny_argv(cache_dir), "index", "add", str(csv), "--index", str(tmp_path / "idx")]) == 0
    capsys.readouterr()
    code, _, err = run(capsys, cache_dir, "index", "tune", "--index", str(tmp_path / "idx"), "--text-columns", "year")
    assert code != 0 and "has no text metadata columns" in err and "year (integer)" in err
    assert not (tmp_path / "idx" / TUNE_FILE).exists()


def test_a_damaged_tune_file_is_an_error_and_no_tune_still_searches(capsys, cache_dir, built, tmp_path):
    import shutil

    index = tmp_path / "copy"
    shutil.copytree(built[0], index)
    (index / TUNE_FILE).write_bytes(b"garbage")
    code, _, err = run(capsys, cache_dir, "search", "--index", str(index), "--text", "red circle")
    assert code != 0 and "unreadable tuned map" in err
    code, _, err = run(capsys, cache_dir, "search", "--index", str(index), "--text", "red circle", "--no-tune")
    assert code == 0, err


def test_fusion_finds_items_through_their_text(built):
    """Orthogonal item-text features: the query's text equals item 7's text only, so item 7 gains
    ``TEXT_WEIGHT`` over every other item and must come first, with the documented fused score."""
    index, _ = built
    with Catalog.open(index, encoder=None, dim=None) as cat:
        vids = cat.store.all_vids()
        f = len(vids)
        text = np.eye(f, dtype=np.float16)
        dim = cat.manifest.dim
        qmap = QueryMap(np.zeros((f, dim), np.float32), np.zeros(dim, np.float32), "text-to-image", 1.0)
        tuned = TunedIndex(qmap, vids, text, {})
        query = np.zeros(dim, np.float32)  # every image scores 0: the order comes from the text side alone
        hits = fused_text_search(cat, tuned, query, text[7].astype(np.float32), 5, filters=[], params=SearchParams())
        assert hits[0].vid == vids[7] and hits[0].score == pytest.approx(TEXT_WEIGHT)
        assert all(h.score == pytest.approx(0.0) for h in hits[1:])
        item7 = cat.store.items([vids[7]])[0]
        other = parse_filter(f"color!={item7.metadata['color']}")
        filtered = fused_text_search(cat, tuned, query, text[7].astype(np.float32), 5, filters=[other],
                                     params=SearchParams())  # fmt: skip
        assert vids[7] not in {h.vid for h in filtered} and len(filtered) == 5
