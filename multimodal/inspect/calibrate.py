"""From image scores to a threshold, a probability and a verdict: pure functions of numbers.

Only good images are seen at fit time, so the calibration describes the *good* score distribution. An image
score is the maximum of many patch scores, so it is modelled as Gumbel (the extreme-value law of maxima),
fitted by moments to the scores of held-back good images: scale ``b = std * sqrt(6) / pi``, location
``mu = mean - 0.5772 * b``.

- threshold: the fitted quantile ``1 - false_alarm`` (``mu - b * ln(-ln(1 - false_alarm))``); with a few
  dozen held-back images an empirical 99 % quantile would just be their maximum.
- probability: the fitted CDF at the score, ``exp(-exp(-(s - mu) / b))``: the chance that a good image scores
  lower. It is calibrated against good images (among good images, ``P(probability >= 1 - a) = a`` if the
  model holds; ``eval anomaly`` measures it); it is not a posterior over defects, which would need a prior
  and defect examples. It equals ``1 - false_alarm`` at the threshold.
- verdict: ``defect`` above ``threshold + band * b``, ``ok`` below ``threshold - band * b``, else ``cannot tell``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from multimodal.inspect.errors import InspectorError

EULER_GAMMA = 0.5772156649015329
VERDICTS = ("ok", "cannot tell", "defect")


@dataclass(frozen=True)
class Calibration:
    """The threshold and the fitted Gumbel law of good image scores, with how they were set."""

    threshold: float
    loc: float
    scale: float
    false_alarm: float
    held_back: int
    held_back_max: float
    method: str = "gumbel-moments"

    def probability(self, score: float) -> float:
        """Fitted probability that a good image scores below ``score`` (0..1)."""
        z = (score - self.loc) / self.scale
        return float(math.exp(-math.exp(-z))) if z > -30 else 0.0

    def verdict(self, score: float, band: float) -> str:
        """``ok``, ``cannot tell`` or ``defect`` (see the module docstring)."""
        if score >= self.threshold + band * self.scale:
            return "defect"
        if score < self.threshold - band * self.scale:
            return "ok"
        return "cannot tell"

    def describe(self) -> str:
        return (
            f"threshold {self.threshold:.4g}: the {1 - self.false_alarm:.3g} quantile of a Gumbel law fitted "
            f"(moments) to {self.held_back} held-back good images (their max {self.held_back_max:.4g})"
        )


def fit_calibration(good_scores: np.ndarray, false_alarm: float) -> Calibration:
    """Calibration from the scores of held-back good images (at least 2)."""
    s = np.asarray(good_scores, np.float64)
    if s.ndim != 1 or len(s) < 2 or not np.all(np.isfinite(s)):
        raise InspectorError(f"the threshold needs at least 2 finite held-back good scores, got {s.tolist()[:5]}")
    mean, std = float(s.mean()), float(s.std(ddof=1))
    scale = max(std * math.sqrt(6.0) / math.pi, 1e-6 * max(abs(mean), 1.0))
    loc = mean - EULER_GAMMA * scale
    threshold = loc - scale * math.log(-math.log(1.0 - false_alarm))
    return Calibration(
        threshold=threshold,
        loc=loc,
        scale=scale,
        false_alarm=false_alarm,
        held_back=len(s),
        held_back_max=float(s.max()),
    )
