"""Inspect: oracle checks of the pieces (coreset, calibration, regions, features) and of a fitted inspector on
synthetic textures with a planted blob, with the seeded tiny backbone."""

from __future__ import annotations

import math

import numpy as np
import pytest

from multimodal.errors import ConfigError, UnknownNameError
from multimodal.inspect import FitConfig, Inspector, VerdictConfig, create_backbone, fit_inspector
from multimodal.inspect.bank import BankSearch, build_bank, fit_reduction
from multimodal.inspect.calibrate import Calibration, fit_calibration, predictive_factor
from multimodal.inspect.coreset import coreset, covering_radius, greedy_k_center
from multimodal.inspect.errors import InspectorError
from multimodal.inspect.features import input_shape
from multimodal.inspect.regions import heatmap, regions, score_map
from multimodal.inspect.render import colour_ramp, overlay
from tests.inspect_data import texture

CONFIG = FitConfig(image_size=128)
BLOBS = [(70, 40, 14), (30, 80, 12)]


@pytest.fixture(scope="module")
def tiny():
    return create_backbone("tiny")


@pytest.fixture(scope="module", params=["nearest", "coreset"])
def inspector(request, tiny) -> Inspector:
    # layers 2+4: a stride-8 patch grid (16 x 16 at 128 px), fine enough to locate a 12-px blob
    config = FitConfig(image_size=128, layers=(2, 4), bank=request.param, coreset=0.2)
    return Inspector(fit_inspector("tex", tiny, [texture(i) for i in range(20)], config), tiny)


# --- coreset -------------------------------------------------------------------------------------------


def test_greedy_k_center_is_the_farthest_point_rule():
    x = np.array([[0.0, 0], [1, 0], [10, 0], [5, 0], [9, 0]], np.float32)
    # from 0: farthest is 10 (idx 2); then the point farthest from {0, 10} is 5 (idx 3)
    assert greedy_k_center(x, 3, start=0).tolist() == [0, 2, 3]


def test_coreset_keeps_the_requested_share_and_covers_the_set():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (20, 8))
    x = (centres[rng.integers(0, 20, 40_000)] + rng.normal(0, 0.1, (40_000, 8))).astype(np.float32)
    keep = coreset(x, 0.01, projection=0, chunk=4096)
    assert len(keep) == 400 and len(np.unique(keep)) == 400
    # every cluster is represented, so every point lies close to a kept one ...
    assert covering_radius(x, keep) < 1.5
    # ... while a random sample of the same size covers worse on skewed data
    skew = np.concatenate([x[:39_000] * 0 + x[0], x[39_000:]])  # one heavy cluster, 1,000 others
    random = np.random.default_rng(1).choice(len(skew), 40, replace=False)
    assert covering_radius(skew, coreset(skew, 0.001, projection=0)) < covering_radius(skew, random)


def test_coreset_share_one_keeps_everything_and_bad_sizes_are_refused():
    x = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    assert coreset(x, 1.0).tolist() == list(range(50))
    with pytest.raises(ConfigError, match="not possible"):
        greedy_k_center(x, 51)


# --- bank search against brute force --------------------------------------------------------------------


def _random_feats(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(n, 3, 4, 6)).astype(np.float32)
    descs = rng.normal(size=(n, 5)).astype(np.float32)
    return feats, descs / np.linalg.norm(descs, axis=1, keepdims=True)


def _brute(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.sqrt(((query[:, None, :] - rows[None, :, :]) ** 2).sum(-1)).min(1)


def test_nearest_bank_scores_against_the_k_most_similar_images_only():
    feats, descs = _random_feats(12, 0)
    bank = build_bank(feats, descs, FitConfig(dims=0, bank="nearest"))
    search = BankSearch(bank)
    q_feats, q_descs = _random_feats(2, 1)
    got = search.patch_scores(q_feats, q_descs, nearest_images=3, neighbours=1)
    for i in range(2):
        top = np.argsort(-(descs @ q_descs[i]))[:3]
        assert search.nearest_images(q_descs[i], 3).tolist() == top.tolist()
        want = _brute(q_feats[i].reshape(-1, 6), feats[top].reshape(-1, 6)).reshape(3, 4)
        np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-4)


def test_coreset_bank_of_everything_is_exact_nearest_neighbour_search():
    feats, descs = _random_feats(5, 2)
    bank = build_bank(feats, descs, FitConfig(dims=0, bank="coreset", coreset=1.0))
    assert bank.size == 5 * 12
    q_feats, q_descs = _random_feats(1, 3)
    got = BankSearch(bank).patch_scores(q_feats, q_descs, nearest_images=1, neighbours=1)
    want = _brute(q_feats[0].reshape(-1, 6), feats.reshape(-1, 6)).reshape(3, 4)
    np.testing.assert_allclose(got[0], want, rtol=1e-4, atol=1e-4)


# --- calibration ---------------------------------------------------------------------------------------


def test_threshold_is_the_gumbel_predictive_bound_of_the_held_back_scores():
    scores = np.array([5.0, 1.0, 2.0, 3.0, 4.0])
    cal = fit_calibration(scores, 0.01)
    scale = scores.std(ddof=1) * math.sqrt(6) / math.pi
    loc = scores.mean() - 0.5772156649 * scale
    assert cal.scale == pytest.approx(scale, rel=1e-9) and cal.loc == pytest.approx(loc, rel=1e-9)
    c = predictive_factor(5, 0.01)
    assert cal.threshold == pytest.approx(scores.mean() + c * scores.std(ddof=1), rel=1e-9)
    # with 5 scores the bound lies well above the plug-in 0.99 quantile (the fitted tail is uncertain)
    assert cal.threshold > loc - scale * math.log(-math.log(0.99)) + scale
    assert cal.probability(loc) == pytest.approx(math.exp(-1), abs=1e-9)
    assert cal.probability(cal.threshold) > 0.99
    assert cal.held_back == 5 and cal.held_back_max == 5.0 and cal.good_scores == (1.0, 2.0, 3.0, 4.0, 5.0)
    assert cal.method == "gumbel-predictive" and cal.guaranteed == 0.01


@pytest.mark.parametrize("n,a", [(8, 0.05), (47, 0.01)])
def test_gumbel_predictive_bound_keeps_its_rate_on_average_where_the_plug_in_does_not(n, a):
    # the realised false-alarm rate of a threshold fitted to n Gumbel scores, averaged over 4000 draws
    # (exact per draw: the Gumbel survival function at the threshold); independent of the simulation's seed
    rng = np.random.default_rng(7)
    draws = rng.gumbel(3.0, 0.5, size=(4000, n))
    mean, std = draws.mean(axis=1), draws.std(axis=1, ddof=1)

    def rate(thr):
        return float(np.mean(1 - np.exp(-np.exp(-(thr - 3.0) / 0.5))))

    assert rate(mean + predictive_factor(n, a) * std) == pytest.approx(a, rel=0.1)
    b = std * math.sqrt(6) / math.pi
    plug_in = mean - 0.5772156649 * b - b * math.log(-math.log(1 - a))
    assert rate(plug_in) > 1.2 * a


def test_conformal_threshold_is_the_order_statistic_and_says_when_it_cannot_reach_the_rate():
    scores = np.arange(1.0, 200.0)  # 199 scores: k = ceil(200 * 0.99) = 198
    cal = fit_calibration(scores, 0.01, "conformal")
    assert cal.method == "conformal" and cal.guaranteed == 0.01
    assert 198.0 < cal.threshold < 198.0 + 1e-9  # just above the 198th smallest: equal is not an alarm
    few = fit_calibration(np.arange(1.0, 48.0), 0.01, "conformal")  # 47 scores cannot guarantee 1 %
    assert few.threshold > 47.0 and few.guaranteed == pytest.approx(1 / 48)
    assert "only guarantee a false-alarm rate of 1/48" in few.describe() and "needs 99" in few.describe()


def test_conformal_threshold_holds_its_rate_on_any_law():
    rng = np.random.default_rng(3)
    n, a = 99, 0.05
    held, fresh = rng.lognormal(0, 1.5, size=(2000, n)), rng.lognormal(0, 1.5, size=2000)
    thr = np.array([fit_calibration(h, a, "conformal").threshold for h in held[:400]])
    assert (fresh[:400] >= thr).mean() <= a + 0.03
    with pytest.raises(InspectorError, match="not one of gumbel, conformal"):
        fit_calibration(held[0], a, "quantile")


def test_verdict_bands():
    cal = Calibration(threshold=10.0, loc=8.0, scale=2.0, false_alarm=0.01, held_back=10, held_back_max=9.0)
    assert [cal.verdict(s, 0.5) for s in (8.0, 9.5, 10.0, 10.9, 11.0)] == [
        "ok", "cannot tell", "cannot tell", "cannot tell", "defect"
    ]  # fmt: skip
    assert [cal.verdict(s, 0.0) for s in (9.99, 10.0)] == ["ok", "defect"]


def test_calibration_needs_two_finite_scores():
    with pytest.raises(InspectorError, match="at least 2"):
        fit_calibration(np.array([1.0]), 0.01)
    with pytest.raises(InspectorError, match="finite"):
        fit_calibration(np.array([1.0, np.nan]), 0.01)


# --- pure pieces ---------------------------------------------------------------------------------------


def test_input_shape_follows_the_median_aspect_and_rounds_to_16():
    assert input_shape([(1130, 460), (1540, 645), (512, 208)], 512) == (512, 208)
    assert input_shape([(300, 600)], 256) == (128, 256)
    assert input_shape([(100, 100)], 100) == (96, 96)
    assert input_shape([(512, 208)], 256) == (256, 112)  # 104 rounds up to 112, not half-to-even down


def test_score_map_leaves_the_border_out():
    grid = np.arange(30, dtype=np.float32).reshape(5, 6)
    sm = score_map(grid, 1)
    assert sm[1:-1, 1:-1].tolist() == grid[1:-1, 1:-1].tolist()
    assert (sm[0] == 7).all() and (sm[:, -1] == 7).all() and sm.max() == 22  # the interior's min and max
    assert score_map(grid, 3).tolist() == grid.tolist()  # nothing would be left: unchanged


def test_regions_are_connected_patches_above_the_level_in_image_pixels():
    scores = np.zeros((4, 8), np.float32)
    scores[0, 0:2] = 2.0
    scores[1, 2] = 2.5  # touches (0, 1) diagonally: the same region
    scores[3, 6] = 3.0
    found = regions(scores, 1.0, (80, 40))  # cells of 10 x 10 image pixels
    assert [(r.x0, r.y0, r.x1, r.y1, r.area, r.peak) for r in found] == [
        (60, 30, 70, 40, 100, 3.0),
        (0, 0, 30, 20, 300, 2.5),
    ]
    assert regions(scores, 10.0, (80, 40)) == []
    assert len(regions(scores, 1.0, (80, 40), limit=1)) == 1


def test_heatmap_upsamples_and_keeps_the_peak_where_it_was():
    grid = np.zeros((4, 8), np.float32)
    grid[1, 6] = 1.0
    heat = heatmap(grid, (64, 32), sigma=2.0)
    assert heat.shape == (32, 64)
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    assert 6 * 8 <= x < 7 * 8 and 8 <= y < 16


def test_overlay_and_colour_ramp():
    ramp = colour_ramp(np.array([[0.0, 1.0]]))
    assert ramp[0, 0].tolist() == [0, 0, 255] and ramp[0, 1].tolist() == [255, 0, 0]
    img = texture(0, 32)
    heat = np.zeros((32, 32), np.float32)
    heat[10:20, 10:20] = 3.0
    out = np.asarray(overlay(img, heat, 1.0))
    assert out.shape == (32, 32, 3)
    assert (out[:5, :5] == np.asarray(img)[:5, :5]).all()  # transparent where the score is low
    assert out[15, 15, 0] > out[15, 15, 2]  # red over the hot region


def test_reduction_is_principal_components():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5000, 3)) * [10.0, 1.0, 0.1]).astype(np.float32) @ np.eye(3)[[2, 0, 1]]
    mean, comps = fit_reduction(x, 1)
    assert comps.shape == (3, 1) and abs(abs(comps[2, 0]) - 1) < 1e-3  # the high-variance axis
    mean, comps = fit_reduction(x, 0)
    assert (comps == np.eye(3)).all() and (mean == 0).all()


def test_config_validation_and_backbone_registry():
    with pytest.raises(ConfigError, match="--bank"):
        FitConfig(bank="flat")
    with pytest.raises(ConfigError, match="false-alarm"):
        FitConfig(false_alarm=0.6)
    with pytest.raises(ConfigError, match="--band"):
        VerdictConfig(band=-1)
    with pytest.raises(UnknownNameError, match="Available: lite, tiny"):
        create_backbone("resnet")
    with pytest.raises(ConfigError, match="do not exist"):
        create_backbone("tiny").info.check_layers((9,))


# --- a fitted inspector --------------------------------------------------------------------------------


def test_the_planted_blob_scores_highest_and_the_heatmap_and_box_find_it(inspector):
    images = [texture(100), texture(101)] + [texture(200 + i, blob=b) for i, b in enumerate(BLOBS)]
    results = inspector.inspect(images, ["good a", "good b", "blob a", "blob b"])
    scores = [r.score for r in results]
    assert min(scores[2:]) > max(scores[:2])
    assert [r.verdict for r in results] == ["ok", "ok", "defect", "defect"]
    assert results[2].probability > 0.999 and results[0].probability < 0.99
    for r, (x, y, side) in zip(results[2:], BLOBS):
        assert r.heatmap.shape == (128, 128)
        py, px = np.unravel_index(np.argmax(r.heatmap), r.heatmap.shape)
        assert x - 16 <= px < x + side + 16 and y - 16 <= py < y + side + 16  # within one patch stride
        assert r.heatmap.max() <= r.score + 1e-6  # the heatmap is the smoothed patch scores
        top = r.boxes[0]
        assert top.x0 <= x and top.y0 <= y and top.x1 >= x + side and top.y1 >= y + side
    assert results[0].boxes == ()


def test_heatmap_and_boxes_come_back_at_the_image_size(inspector):
    big = texture(300, 256, blob=(140, 80, 28))
    r = inspector.inspect([big])[0]
    assert r.heatmap.shape == (256, 256) and r.verdict == "defect"
    top = r.boxes[0]
    assert top.x0 <= 140 and top.x1 >= 168 and top.y0 <= 80 and top.y1 >= 108


def test_default_layers_rank_the_blob_first(tiny):
    inspector = Inspector(fit_inspector("tex", tiny, [texture(i) for i in range(20)], CONFIG), tiny)
    results = inspector.inspect([texture(100), texture(101), texture(200, blob=BLOBS[0])])
    assert results[2].score > max(r.score for r in results[:2]) and results[2].verdict == "defect"


def test_fit_report_and_few_shot_cross_fitting(tiny):
    state = fit_inspector("few", tiny, [texture(i) for i in range(6)], CONFIG)
    assert state.report.images_used == 6 and state.report.bank_images == 6
    assert "cross-fitting" in state.report.threshold_method and state.calibration.held_back == 6
    state = fit_inspector("many", tiny, [texture(i) for i in range(45)], CONFIG)
    assert state.report.bank_images == 45 and state.calibration.held_back == 9
    assert "9 held-back images" in state.report.threshold_method
    assert state.bank.size == 45 * 8 * 8 and state.summary()["bank_size"] == state.bank.size


def test_a_defective_image_among_the_good_ones_hides_its_kind_of_defect(tiny):
    """The documented effect: the bank holds the defect's patches, so the same defect scores lower, and when
    the image is also scored for the threshold (held back, or cross-fitted as here) the threshold rises."""
    good = [texture(i) for i in range(20)]
    blob = (70, 40, 14)
    clean = Inspector(fit_inspector("clean", tiny, good, CONFIG), tiny)
    spoiled = Inspector(fit_inspector("spoiled", tiny, [*good[:19], texture(19, blob=blob)], CONFIG), tiny)
    probe = [texture(300, blob=blob)]
    assert clean.inspect(probe)[0].verdict == "defect"
    assert spoiled.inspect(probe)[0].score < clean.inspect(probe)[0].score
    assert spoiled.state.calibration.threshold > 1.3 * clean.state.calibration.threshold


def test_fit_refuses_fewer_than_two_images(tiny):
    with pytest.raises(InspectorError, match="at least 2 good images.*got 1"):
        fit_inspector("one", tiny, [texture(0)], CONFIG)
    with pytest.raises(InspectorError, match="got 0"):
        fit_inspector("none", tiny, [], CONFIG)
