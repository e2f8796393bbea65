"""The few-shot head on synthetic embeddings: oracle checks of fit, cross-validation choice and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal.teach.errors import LabelSetError
from multimodal.teach.head import HeadConfig, fit_head, fit_lr, fit_temperature, log_softmax, prototypes

FAST = HeadConfig(power_grid=(1.0,), c_grid=(1.0, 10.0), proto_grid=(0.0, 5.0), text_grid=(0.0, 1.0), folds=3)


def clusters(n_labels=4, per_label=8, dim=32, spread=0.15, seed=0):
    """Unit rows around ``n_labels`` random unit centres: ``(x, y, centres)``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_labels, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.repeat(np.arange(n_labels), per_label)
    x = centres[y] + spread * rng.normal(size=(len(y), dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True), y, centres


def labels_of(n):
    return tuple(f"label{i}" for i in range(n))


def test_separable_clusters_are_classified_and_cross_validated():
    x, y, _ = clusters(seed=1)
    xq, yq, _ = clusters(seed=1, per_label=20)  # same centres (same seed), more draws
    head = fit_head(x, y, labels_of(4), config=FAST)
    assert (head.logits(xq).argmax(axis=1) == yq).mean() >= 0.95
    p = head.probabilities(xq)
    assert p.shape == (80, 4) and np.allclose(p.sum(axis=1), 1.0) and np.isfinite(p).all()
    assert head.cv.accuracy is not None and head.cv.accuracy >= 0.9
    assert head.cv.held_out == 32 and head.cv.folds == 3
    assert set(head.cv.per_label) == set(labels_of(4))


def test_confusion_counts_are_the_out_of_fold_predictions():
    x, y, _ = clusters(n_labels=3, per_label=6, spread=0.9, seed=3)  # overlapping: some held-out errors
    head = fit_head(x, y, labels_of(3), config=FAST)
    conf = np.array(head.cv.confusion)
    assert conf.shape == (3, 3) and conf.sum() == head.cv.held_out
    assert conf.sum(axis=1).tolist() == [6, 6, 6]  # every example held out once
    assert np.trace(conf) / conf.sum() == pytest.approx(head.cv.accuracy)
    per_label = {f"label{k}": conf[k, k] / conf[k].sum() for k in range(3)}
    assert head.cv.per_label == pytest.approx(per_label)
    assert head.cv.as_dict()["confusion"] == conf.tolist()


def test_fits_run_with_the_configured_blas_threads_and_restore_them(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    import multimodal.teach.head as head_module

    seen = []
    real = head_module.fit_lr

    def spy(*args, **kwargs):
        seen.append({i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return real(*args, **kwargs)

    monkeypatch.setattr(head_module, "fit_lr", spy)
    x, y, _ = clusters(n_labels=3, per_label=4)
    with threadpool_limits(limits=2):  # what a 2-core machine starts with
        outside = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
        fit_head(x, y, labels_of(3), config=FAST)
        assert seen and all(set(s.values()) == {1} for s in seen)
        assert set(seen[0]) >= set(outside)  # every BLAS loaded outside is limited inside
        assert {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == outside
        seen.clear()
        fit_head(x, y, labels_of(3), config=HeadConfig(**{**FAST.__dict__, "blas_threads": None}))
        assert seen and all(s == outside for s in seen)
    with pytest.raises(LabelSetError, match="blas_threads must be >= 1"):
        HeadConfig(blas_threads=0)


def test_noise_features_fail_and_the_head_is_not_better_than_chance():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.repeat(np.arange(4), 10)
    head = fit_head(x, y, labels_of(4), config=FAST)
    assert head.cv.accuracy < 0.6  # the oracle can fail: nothing to learn here


def test_cv_picks_the_text_scores_when_only_they_carry_the_label():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(4), 6)
    x = rng.normal(size=(len(y), 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    zs = log_softmax(3.0 * np.eye(4)[y] + 0.1 * rng.normal(size=(len(y), 4)))  # text knows the answer
    head = fit_head(x, y, labels_of(4), zs_logp=zs, config=FAST)
    assert head.text_weight > 0
    assert head.cv.accuracy == 1.0
    grid_best = max(acc for *_, acc in head.cv.grid)
    assert head.cv.accuracy == grid_best  # the chosen point is the grid's best
    assert (head.logits(x, zs).argmax(axis=1) == y).all()


def test_text_weight_is_zero_without_text():
    x, y, _ = clusters(n_labels=3, per_label=5)
    head = fit_head(x, y, labels_of(3), config=FAST)
    assert head.text_weight == 0.0
    assert all(b == 0.0 for *_, b, _ in head.cv.grid)


def test_flip_views_train_but_are_never_held_out():
    x, y, _ = clusters(n_labels=3, per_label=4)
    flips = x[None] + 0.01
    head = fit_head(x, y, labels_of(3), x_aug=flips, config=FAST)
    assert head.cv.held_out == len(y)
    assert head.coef.shape == (3, x.shape[1])


def test_single_example_labels_always_train_and_no_cv_when_too_few():
    x, y, _ = clusters(n_labels=3, per_label=3)
    keep = np.r_[0:3, 3:6, 6]  # label2 has one example
    head = fit_head(x[keep], y[keep], labels_of(3), config=FAST)
    assert "label2" not in head.cv.per_label and head.cv.held_out == 6
    one_each = fit_head(x[[0, 3, 6]], y[[0, 3, 6]], labels_of(3), config=FAST)
    assert one_each.cv.accuracy is None and (one_each.power, one_each.c, one_each.proto_weight) == FAST.defaults[:3]
    assert (one_each.logits(x[[0, 3, 6]]).argmax(axis=1) == [0, 1, 2]).all()


def test_one_label_is_refused():
    x, y, _ = clusters(n_labels=1, per_label=3)
    with pytest.raises(LabelSetError, match="at least 2 labels"):
        fit_head(x, y, ("only",))


def test_fit_lr_maps_two_classes_and_absent_labels():
    x, y, _ = clusters(n_labels=2, per_label=5)
    coef, b = fit_lr(x, y + 1, 3, 10.0, 200)  # label 0 never seen
    pred = (x @ coef.T + b).argmax(axis=1)
    assert (pred == y + 1).all() and b[0] < -1e3


def test_prototypes_are_unit_class_means():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    p = prototypes(x, np.array([0, 0, 1]), 3)
    assert np.allclose(p, [[2**-0.5, 2**-0.5], [1.0, 0.0], [0.0, 0.0]])


def test_temperature_undoes_a_known_scaling():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 4000)
    logits = rng.normal(size=(4000, 5))
    # draw labels from softmax(logits): the calibrated temperature of 3*logits is about 3
    p = np.exp(log_softmax(logits))
    y = np.array([rng.choice(5, p=row) for row in p])
    t = fit_temperature(3.0 * logits, y, smoothing=0.0)
    assert 2.5 < t < 3.6


def test_config_is_validated():
    with pytest.raises(LabelSetError, match="c_grid"):
        HeadConfig(c_grid=(0.0,))
    with pytest.raises(LabelSetError, match="folds"):
        HeadConfig(folds=1)


def test_logits_follow_the_documented_formula():
    x, y, _ = clusters(n_labels=3, per_label=5, seed=4)
    zs = log_softmax(np.random.default_rng(4).normal(size=(len(y), 3)))
    config = HeadConfig(power_grid=(0.5,), c_grid=(10.0,), proto_grid=(5.0,), text_grid=(0.5,), folds=3)
    head = fit_head(np.abs(x), y, labels_of(3), zs_logp=zs, config=config)
    assert (head.power, head.c, head.proto_weight, head.text_weight) == (0.5, 10.0, 5.0, 0.5)
    assert np.linalg.norm(head.center) > 0.1  # a real centre: the features share a positive mean
    p = np.sqrt(np.abs(x))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    q = p - head.center
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    expected = log_softmax(q @ head.coef.T + head.intercept) + 5.0 * q @ head.prototypes.T + 0.5 * zs
    assert np.allclose(head.logits(np.abs(x), zs), expected, atol=1e-4)
    probs = head.probabilities(np.abs(x), zs)
    assert np.allclose(probs, np.exp(log_softmax(expected / head.temperature)), atol=1e-4)
