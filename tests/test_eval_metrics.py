"""Metrics against hand-computed cases, including ties, empty classes and all-wrong predictions."""

from __future__ import annotations

import math

import numpy as np

from eval.metrics import (
    coverage_curve,
    expected_calibration_error,
    fit_logistic_1d,
    fit_temperature,
    macro_f1,
    per_class_accuracy,
    reliability,
    risk_coverage,
    topk_accuracy,
)


def test_topk_accuracy_with_ties():
    scores = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    truth = np.array([1, 2, 1])
    # row 0: tie broken to class 0 first -> top-1 wrong, top-2 right; row 1 right; row 2: order 2,0,1
    assert topk_accuracy(scores, truth, 1) == 1 / 3
    assert topk_accuracy(scores, truth, 2) == 2 / 3
    assert topk_accuracy(scores, truth, 3) == 1.0
    assert math.isnan(topk_accuracy(np.zeros((0, 3)), np.array([], int), 1))


def test_per_class_accuracy_marks_empty_classes():
    got = per_class_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]), 3)
    assert got[0] == 1.0 and got[1] == 0.5 and math.isnan(got[2])


def test_macro_f1_by_hand():
    pred, truth = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    f1_0 = 2 * 1 / (2 * 1 + 1 + 0)  # tp 1, fp 1, fn 0
    f1_1 = 2 * 2 / (2 * 2 + 0 + 1)  # tp 2, fp 0, fn 1
    assert macro_f1(pred, truth, 3) == (f1_0 + f1_1) / 2  # class 2 absent everywhere: skipped
    assert macro_f1(np.array([1, 0]), np.array([0, 1]), 2) == 0.0


def test_calibration_error_by_hand():
    conf = np.array([0.95, 0.95, 0.15, 0.15])
    correct = np.array([1.0, 0.0, 0.0, 0.0])
    # bin 9: conf .95, acc .5 -> .45; bin 1: conf .15, acc 0 -> .15; each half the data
    assert abs(expected_calibration_error(conf, correct) - (0.5 * 0.45 + 0.5 * 0.15)) < 1e-12
    rel = reliability(conf, correct)
    assert rel["count"][9] == 2 and rel["count"][1] == 2 and math.isnan(rel["accuracy"][5])


def test_coverage_curve_all_abstain_and_all_answer():
    conf, correct = np.array([0.2, 0.4]), np.array([1.0, 0.0])
    cov = coverage_curve(conf, correct, np.array([0.0, 0.3, 0.9]))
    assert cov["coverage"] == [1.0, 0.5, 0.0]
    assert cov["accuracy"][0] == 0.5 and cov["accuracy"][1] == 0.0 and math.isnan(cov["accuracy"][2])


def test_risk_coverage_by_hand():
    conf = np.array([0.6, 0.9, 0.8, 0.8, 0.3, 0.95])
    correct = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1 / 3])
    answered = np.array([True, True, True, True, False, False])  # abstentions never count, whatever their score
    got = risk_coverage(conf, correct, answered)
    # answer at >= .9: {1}; >= .8: {1, 0, 1} (the tie joins as one point); >= .6: all four answered
    assert got["threshold"] == [0.9, 0.8, 0.6]
    assert got["coverage"] == [1 / 6, 3 / 6, 4 / 6]
    assert got["accuracy"] == [1.0, 2 / 3, 0.5]
    assert risk_coverage(conf, correct, np.zeros(6, bool)) == {"threshold": [], "coverage": [], "accuracy": []}


def test_fits_recover_known_parameters():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 20000)
    y = (rng.random(20000) < 1 / (1 + np.exp(-1.5 * (x - 0.5)))).astype(float)
    center, slope = fit_logistic_1d(x, y)
    assert abs(center - 0.5) < 0.05 and abs(slope - 1.5) < 0.1
    logits = rng.normal(0, 1, (4000, 5))
    p = np.exp(8 * logits)
    p /= p.sum(1, keepdims=True)
    truth = np.array([rng.choice(5, p=row) for row in p])
    assert 6.0 < fit_temperature(logits, truth) < 10.5


def test_retrieval_metrics_by_hand():
    from eval.metrics import first_relevant_ranks, mean_average_precision, recall_at_k

    scores = np.array([[0.9, 0.5, 0.1], [0.2, 0.8, 0.3], [0.5, 0.5, 0.5]])
    relevant = np.array([[False, True, False], [False, True, True], [False, False, False]])
    ranks = first_relevant_ranks(scores, relevant)
    assert ranks[0] == 2 and ranks[1] == 1 and np.isinf(ranks[2])
    assert recall_at_k(ranks, 1) == 1 / 3 and recall_at_k(ranks, 2) == 2 / 3
    # AP row 0: one relevant at rank 2 -> 1/2; row 1: ranks 1 and 2 -> (1 + 1) / 2 = 1; row 2 skipped
    assert mean_average_precision(scores, relevant) == 0.75
