"""Zero-shot post-processing: pure functions checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal.errors import ConfigError
from multimodal.zeroshot_scores import ScoreCalibration, decide, match_scores, sigmoid, softmax_scores


def test_softmax_scores_by_hand():
    cos = np.array([[0.3, 0.2, 0.2]])
    e = np.exp([3.0, 2.0, 2.0])
    np.testing.assert_allclose(softmax_scores(cos, 10.0), [e / e.sum()], rtol=1e-12)


def test_log_softmax_for_concept_overlaps():
    cos = np.array([[0.036, 0.003, -0.01]])
    logits = 2.0 * np.log(np.array([0.036, 0.003, 0.0]) + 1e-3)
    e = np.exp(logits - logits.max())
    np.testing.assert_allclose(softmax_scores(cos, 2.0, log_floor=1e-3), [e / e.sum()], rtol=1e-12)


def test_sigmoid_activation_uses_scale_and_bias():
    cal = ScoreCalibration(activation="sigmoid", logit_scale=10.0, logit_bias=-2.0)
    np.testing.assert_allclose(
        match_scores(np.array([[0.2, 0.5]]), None, cal), [[0.5, 1 / (1 + np.exp(-3.0))]], rtol=1e-12
    )


def test_background_z_score_by_hand():
    bg = np.array([[0.1, 0.2, 0.3, 0.2]])  # mean 0.2, std sqrt(0.005)
    cal = ScoreCalibration(activation="background", center=3.0, slope=2.0)
    z = (0.4 - 0.2) / np.sqrt(0.005)
    np.testing.assert_allclose(match_scores(np.array([[0.4]]), bg, cal), [[sigmoid(2.0 * (z - 3.0))]], rtol=1e-12)


def test_background_needs_background():
    with pytest.raises(ConfigError, match="at least 2 background concepts"):
        match_scores(np.zeros((1, 2)), None, ScoreCalibration())


def test_single_label_picks_top_or_abstains():
    labels = ["cat", "dog", "car"]
    res = decide(
        labels, np.array([0.7, 0.2, 0.1]), np.array([0.9, 0.4, 0.1]), multi_label=False, threshold=0.5, top_k=2
    )
    assert [s.label for s in res.labels] == ["cat", "dog"]
    assert res.supported == ("cat",) and not res.abstained
    weak = decide(
        labels, np.array([0.7, 0.2, 0.1]), np.array([0.3, 0.4, 0.1]), multi_label=False, threshold=0.5, top_k=3
    )
    assert weak.abstained and weak.supported == () and weak.labels[0].label == "cat"


def test_multi_label_keeps_every_supported_label():
    res = decide(
        ["a", "b", "c"], np.array([0.6, 0.3, 0.1]), np.array([0.55, 0.8, 0.2]), multi_label=True, threshold=0.5, top_k=3
    )
    assert [s.label for s in res.labels] == ["b", "a", "c"]
    assert res.supported == ("b", "a") and not res.abstained
    assert res.labels[0].score == pytest.approx(0.8)
    none = decide(["a", "b"], np.array([0.5, 0.5]), np.array([0.1, 0.2]), multi_label=True, threshold=0.5, top_k=2)
    assert none.abstained and none.supported == ()


def test_ties_keep_label_order():
    res = decide(
        ["x", "y", "z"], np.array([0.4, 0.4, 0.2]), np.array([0.6, 0.6, 0.1]), multi_label=False, threshold=0.5, top_k=3
    )
    assert [s.label for s in res.labels] == ["x", "y", "z"]


@pytest.mark.parametrize(("kw", "match"), [({"threshold": 1.5}, "threshold must be in"), ({"top_k": 0}, "top_k")])
def test_decide_validates(kw, match):
    args = {"multi_label": False, "threshold": 0.5, "top_k": 1} | kw
    with pytest.raises(ConfigError, match=match):
        decide(["a"], np.array([1.0]), np.array([1.0]), **args)


def test_calibration_is_validated():
    with pytest.raises(ConfigError, match="activation 'tanh' is not one of background, sigmoid"):
        ScoreCalibration(activation="tanh")
    with pytest.raises(ConfigError, match="slope must be positive"):
        ScoreCalibration(slope=0.0)
    with pytest.raises(ConfigError, match="log_floor must be positive"):
        ScoreCalibration(log_floor=0.0)
