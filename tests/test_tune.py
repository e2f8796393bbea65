"""retrieval.tune: the ridge query maps, recall, the split and the ``tune.npz`` artefact (pure numpy, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.errors import CatalogError, EncoderMismatchError
from retrieval.tune import (
    DIRECTIONS,
    TUNE_FILE,
    TunedIndex,
    choose_map,
    fit_map,
    load_tuned,
    recall_at,
    save_tuned,
    split_mask,
)


def unit(a):
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def paired(n=400, f=24, d=40, noise=0.3, seed=0):
    """Text features ``t`` and images ``x = unit(t R + noise)``: a linear relation the raw ``t`` cannot search."""
    rng = np.random.default_rng(seed)
    t = unit(rng.normal(size=(n, f)))
    r = rng.normal(size=(f, d))
    x = unit(t @ r + noise * rng.normal(size=(n, d)))
    return t, x


def test_recall_at_matches_brute_force():
    rng = np.random.default_rng(1)
    q, x = unit(rng.normal(size=(30, 8))), unit(rng.normal(size=(30, 8)))
    scores = q @ x.T
    for k in (1, 5, 10):
        expected = np.mean([i in np.argsort(-scores[i])[:k] for i in range(30)])
        assert recall_at(q, x, k) == pytest.approx(expected)
    assert recall_at(x, x, 1) == 1.0
    assert recall_at(np.zeros((0, 8)), x) == 0.0


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_fitted_map_beats_raw_features_on_held_out_pairs(direction):
    t, x = paired()
    m = fit_map(t[:300], x[:300], direction, 0.1)
    q = m.apply(t[300:])
    assert q.dtype == np.float32 and q.shape == (100, 40)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, rtol=1e-5)
    assert recall_at(q, x[300:], 10) > 0.9  # the relation is learnable; chance is 0.1


def test_image_to_text_map_scores_like_the_text_space():
    """``(t @ M) . x`` with ``M = A.T`` equals ``t . (x @ A)``: the map searches the image index exactly as
    comparing texts with images projected into the text space would."""
    t, x = paired(n=200)
    m = fit_map(t, x, "image-to-text", 0.3)
    raw = t @ m.matrix + m.bias
    a = m.matrix.T  # (d, f)
    xc_proj = x @ a
    np.testing.assert_allclose(raw @ x.T, (t @ xc_proj.T) + (m.bias @ x.T)[None], rtol=1e-4, atol=1e-5)


def test_ridge_wide_and_tall_agree():
    """The closed form inverts the smaller Gram matrix; both forms give the same solution."""
    from retrieval.tune import _ridge

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(10, 30)), rng.normal(size=(10, 4))
    wide = _ridge(a, b, 0.5)
    tall = np.linalg.solve(a.T @ a + 0.5 * np.eye(30), a.T @ b)
    np.testing.assert_allclose(wide, tall, rtol=1e-6, atol=1e-8)


def test_choose_map_reports_every_candidate_and_refuses_few_pairs():
    t, x = paired(n=120)
    m, table = choose_map(t, x, seed=0)
    assert len(table) == 12 and m.direction in DIRECTIONS
    assert max(table.values()) > 0.5
    with pytest.raises(CatalogError, match="at least 8 items"):
        choose_map(t[:5], x[:5])
    with pytest.raises(CatalogError, match="not one of"):
        fit_map(t, x, "sideways", 1.0)


def test_split_mask_is_seeded_and_keeps_both_sides():
    a, b = split_mask(100, 0.2, 3), split_mask(100, 0.2, 3)
    assert (a == b).all() and a.sum() == 20
    assert not (split_mask(100, 0.2, 4) == a).all()
    assert split_mask(2, 0.9, 0).sum() == 1  # never all held out


def _tuned(encoder="tiny:open_clip", dim=40):
    t, x = paired(n=50)
    prov = {"encoder": encoder, "dim": dim, "features": "text-embedding", "columns": ["title"]}
    return TunedIndex(fit_map(t, x, "text-to-image", 0.1), np.arange(50), t.astype(np.float16), prov)


def test_save_load_round_trip_and_provenance(tmp_path):
    tuned = _tuned()
    save_tuned(tmp_path, tuned)
    assert [p.name for p in tmp_path.iterdir()] == [TUNE_FILE]  # no temp file left behind
    back = load_tuned(tmp_path, encoder="tiny:open_clip", dim=40)
    np.testing.assert_array_equal(back.query_map.matrix, tuned.query_map.matrix)
    np.testing.assert_array_equal(back.item_vids, tuned.item_vids)
    assert back.provenance["columns"] == ["title"] and back.provenance["direction"] == "text-to-image"
    assert load_tuned(tmp_path / "elsewhere") is None


def test_load_refuses_another_encoder_naming_both(tmp_path):
    save_tuned(tmp_path, _tuned(encoder="lite", dim=40))
    with pytest.raises(EncoderMismatchError, match=r"tuned for encoder lite \(dim 40\).*in use is tiny:open_clip"):
        load_tuned(tmp_path, encoder="tiny:open_clip", dim=40)


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04garbage", None])
def test_damaged_file_is_a_clear_error(tmp_path, damage):
    if damage is None:  # a valid npz with the wrong content
        np.savez(tmp_path / TUNE_FILE, matrix=np.zeros((3, 4)))
    else:
        (tmp_path / TUNE_FILE).write_bytes(damage)
    with pytest.raises(CatalogError, match="unreadable tuned map.*index tune"):
        load_tuned(tmp_path)


def test_eval_split_fits_on_one_half_and_measures_the_other():
    """eval retrieval --tune's per-seed protocol: the map, fitted on one half, lifts recall on the other half
    over the raw text vectors, and the halves partition the items."""
    from eval.retrieval_tune_eval import tune_split_metrics

    t, x = paired(n=300)
    raw_text = unit(np.hstack([t, np.zeros((300, 16), np.float32)]))  # an unrelated space of the image's dim
    out = tune_split_metrics(raw_text, t, x, seed=0)
    assert out["tune_items"] + out["eval_items"] == 300 and out["eval_items"] == 150
    assert out["after"]["recall@10"] > 0.8 > out["before"]["recall@10"]
