"""Which threshold rule keeps its false-alarm rate, judged on the fit split only (``train/good``).

``python -m eval.anomaly_threshold --data DIR [--size 512] [--draws 4000]``: every ``train/good`` image is scored
against a bank of the others by 5-fold cross-fitting (as the fit scores its held-back images). Then, many times,
``n`` of these scores (the fit's held-back count) set a threshold by each rule and the rest are the unseen good
images: the printed rate is the mean share of them at or above it (the target is ``--false-alarm``), with its
median and 90th percentile over draws. A Kolmogorov-Smirnov test says how well a Gumbel law fits the scores.
The test split is not read.
"""

from __future__ import annotations

import argparse
import math

import numpy as np


def cross_fit_scores(data_dir: str, size: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Cross-fitted scores of every ``train/good`` image (lite backbone, default config) and the fit's
    held-back count."""
    from eval.anomaly_data import load_anomaly_data
    from multimodal.images import load_image
    from multimodal.inspect.backbone import create_backbone
    from multimodal.inspect.config import FitConfig
    from multimodal.inspect.features import input_shape
    from multimodal.inspect.fit import _extract_all, _fold_scores

    data = load_anomaly_data(data_dir)
    backbone = create_backbone("lite", offline=True)
    config = FitConfig(image_size=size, seed=seed).for_backbone(backbone.default_layers, backbone.default_descriptor)
    images = [load_image(p) for p in data.train]
    shape = input_shape([im.size for im in images], size)
    feats, descs = _extract_all(backbone, images, shape, config, None, 8)
    order = np.random.default_rng(seed).permutation(len(images))
    scores = np.zeros(len(images))
    for fold in np.array_split(order, 5):
        scores[fold] = _fold_scores(feats, descs, np.sort(fold), config)
    return scores, int(round(config.holdout * len(images)))


def rule_rates(scores: np.ndarray, n: int, a: float, draws: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Per rule, the false-alarm rate on the other scores of ``draws`` random ``n``-score calibrations."""
    from multimodal.inspect.calibrate import METHODS, fit_calibration

    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {"gumbel-moments": [], "gumbel-predictive": [], "conformal": []}
    for _ in range(draws):
        perm = rng.permutation(len(scores))
        cal, rest = scores[perm[:n]], scores[perm[n:]]
        for method in METHODS:
            got = fit_calibration(cal, a, method)
            out[got.method].append(float((rest >= got.threshold).mean()))
        c = fit_calibration(cal, a)
        out["gumbel-moments"].append(float((rest >= c.loc - c.scale * math.log(-math.log(1 - a))).mean()))
    return {k: np.array(v) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    from scipy import stats

    from multimodal.inspect.calibrate import fit_calibration

    p = argparse.ArgumentParser(prog="python -m eval.anomaly_threshold", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--false-alarm", type=float, default=0.01)
    p.add_argument("--draws", type=int, default=4000)
    args = p.parse_args(argv)
    scores, n = cross_fit_scores(args.data, args.size)
    whole = fit_calibration(scores, args.false_alarm)
    ks = stats.kstest(scores, "gumbel_r", args=(whole.loc, whole.scale))
    print(f"{len(scores)} cross-fitted train/good scores; Gumbel fit: KS {ks.statistic:.3f}, p {ks.pvalue:.2f}")
    print(f"rule: threshold from {n} scores, false alarms on the other {len(scores) - n} (target {args.false_alarm})")
    for rule, rates in rule_rates(scores, n, args.false_alarm, args.draws).items():
        print(f"  {rule:18s} mean {rates.mean():.4f}  median {np.median(rates):.4f}  p90 {np.quantile(rates, 0.9):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
