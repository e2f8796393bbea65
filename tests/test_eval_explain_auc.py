"""Deletion / insertion (eval/explain_auc.py) on a synthetic oracle: a scorer that looks only at one region, and
a map that is exactly that region, must beat the random baselines on both curves (and its reverse must lose);
the tracked lite score is the label's probability, not the lite cosine."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from eval.explain_auc import (
    auc,
    blob_order,
    curves,
    heat_order,
    label_scorer,
    order_masks,
    random_order,
    trial_auc,
)

H, W = 48, 64
REGION = (slice(10, 30), slice(20, 44))  # rows, columns the synthetic scorer looks at


@pytest.fixture()
def scene():
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)  # texture: greying or blurring changes every pixel
    return Image.fromarray(arr), arr.astype(np.float32)


def region_scorer(original: np.ndarray):
    """1 where the region is intact, lower as its pixels differ from the original (grey, blurred)."""

    def score(images):
        out = []
        for im in images:
            diff = np.abs(np.asarray(im, np.float32)[REGION] - original[REGION]).mean() / 255.0
            out.append(1.0 - diff)
        return np.array(out)

    return score


def oracle_map() -> np.ndarray:
    m = np.zeros((H, W), np.float32)
    m[REGION] = 1.0
    return m


def test_the_oracle_map_beats_random_on_deletion_and_insertion(scene):
    image, original = scene
    score = region_scorer(original)
    rng = np.random.default_rng(1)
    oracle = trial_auc(score, image, oracle_map(), rng)
    reverse = trial_auc(score, image, 1.0 - oracle_map(), rng)
    for base in ("blobs", "cells"):
        assert oracle["del_heat"] < oracle[f"del_{base}"] - 0.1  # lower is better
        assert oracle["ins_heat"] > oracle[f"ins_{base}"] + 0.1  # higher is better
        assert reverse["del_heat"] > reverse[f"del_{base}"]  # the worst order loses to random
        assert reverse["ins_heat"] < reverse[f"ins_{base}"]


def test_curves_start_and_end_at_the_intact_and_the_fully_replaced_image(scene):
    image, original = scene
    score = region_scorer(original)
    deletion, insertion = curves(score, image, heat_order(oracle_map()), steps=5)
    assert deletion.shape == insertion.shape == (5,)
    assert deletion[0] == pytest.approx(1.0) and insertion[-1] == pytest.approx(1.0)
    assert deletion[-1] < 0.8 and insertion[0] < 0.9  # all grey / all blurred
    assert np.all(np.diff(deletion) <= 1e-9)  # the region goes first, then nothing it sees changes
    assert deletion[2] == pytest.approx(deletion[-1])  # 480 region pixels are gone by step 2 of 4 (768 px)


def test_auc_is_the_trapezoid_over_equal_steps():
    assert auc(np.array([1.0, 0.0])) == pytest.approx(0.5)
    assert auc(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert auc(np.array([0.0, 1.0, 0.0])) == pytest.approx(0.5)


def test_orders_are_permutations_of_the_pixels():
    rng = np.random.default_rng(2)
    for order in (heat_order(oracle_map()), blob_order((H, W), rng), random_order((H, W), 16, rng)):
        assert sorted(order.tolist()) == list(range(H * W))
    assert set(heat_order(oracle_map())[: 20 * 24].tolist()) == set(np.flatnonzero(oracle_map()).tolist())
    masks = order_masks(np.array([3, 0, 1, 2]), (2, 2), steps=3)
    assert [int(m.sum()) for m in masks] == [0, 2, 4]


def test_blob_baseline_is_smooth_like_a_heatmap_and_seeded():
    h, w = 240, 320  # a photo's scale: 20 cells of 16 px along the long side
    a = blob_order((h, w), np.random.default_rng(3))
    assert np.array_equal(a, blob_order((h, w), np.random.default_rng(3)))
    first = np.zeros(h * w, bool)
    first[a[: h * w // 4]] = True
    first = first.reshape(h, w)
    # contiguous: most removed pixels have a removed right-hand neighbour (scattered pixels would give ~25%)
    assert (first[:, :-1] & first[:, 1:]).sum() / first[:, :-1].sum() > 0.9


def fake_lite(concepts: int = 1000):
    def classify_views(images):
        logits = np.stack([np.asarray(im, np.float64) for im in images])  # the "images" are logit rows
        return np.stack([logits, logits]), np.zeros((2, len(images), 4))

    return SimpleNamespace(info=SimpleNamespace(family="lite"), num_concepts=concepts, classify_views=classify_views)


def test_lite_tracks_the_label_probability_where_the_lite_cosine_rewards_uncertainty():
    from multimodal.encoders.lite_space import image_concepts, join_image, join_text

    k, n = 100, 1000
    q = np.zeros((1, n))
    q[0, :k] = 1.0  # a label whose ImageNet concepts are the first 100 classes ("dog": 118 breeds)
    target = join_text(q, 4)[0]
    confident = np.full(n, -10.0)
    confident[0] = 10.0  # the classifier is sure of one of the label's classes
    flat = np.zeros(n)  # the classifier sees nothing (a deleted image)
    name, score = label_scorer(fake_lite(n), target)
    assert "probability" in name
    p = score([confident, flat])
    assert p[0] == pytest.approx(1.0, abs=1e-5) and p[1] == pytest.approx(k / n)
    # the cosine a lite embedding gives the same two images: higher for the flat one (sqrt(k/n) > 1/sqrt(k))
    emb = join_image(image_concepts(np.stack([[confident, flat]]), 1.5), np.ones((2, 4)), 0.5)
    cos = emb @ target
    assert cos[1] > cos[0]


def test_other_encoders_track_the_cosine():
    enc = SimpleNamespace(
        info=SimpleNamespace(family="open_clip"), embed_images=lambda ims: np.stack([np.asarray(i) for i in ims])
    )
    name, score = label_scorer(enc, np.array([1.0, 0.0], np.float32))
    assert name.startswith("cosine") and score([np.array([0.6, 0.8])]).tolist() == pytest.approx([0.6])
