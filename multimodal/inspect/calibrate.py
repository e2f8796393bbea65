"""From image scores to a threshold, a probability and a verdict: pure functions of numbers.

Only good images are seen at fit time, so the calibration describes the *good* score distribution, from the
scores of good images outside the bank (held back, or cross-fitted when there are few). Two threshold methods:

- ``gumbel`` (default): an image score is the maximum of many patch scores, so it is modelled as Gumbel (the
  extreme-value law of maxima). The threshold is the Gumbel *predictive* bound ``mean + c(n, a) * std`` of the
  ``n`` scores: ``c`` is set so that a new good image from the same Gumbel law exceeds it with probability
  exactly ``a`` (the false-alarm rate), averaged over the draw of the ``n`` scores. Because ``(x - mean) / std``
  does not depend on the law's location and scale, ``c`` depends only on ``n`` and ``a``; it is computed by a
  seeded simulation. The plain plug-in quantile (``gumbel-moments``, inspectors saved before) runs above
  ``a`` on small ``n`` (1.3 % for 1 % at n = 47), because the fitted tail is itself uncertain.
- ``conformal``: the ``k = ceil((n + 1)(1 - a))``-th smallest of the ``n`` scores; a new good image exchangeable
  with them exceeds it with probability at most ``a``, whatever the law. It needs ``n >= 1/a - 1`` scores
  (99 for 1 %); with fewer, the threshold is their maximum and the rate it guarantees, ``1 / (n + 1)``, is
  recorded and announced instead of ``a``.

Both guarantees hold for good images like the held-back ones; a later, dirtier batch of good parts is not
(``eval anomaly`` measures the rate on unseen good images). The probability is the moments-fitted Gumbel CDF
at the score (``b = std * sqrt(6) / pi``, ``mu = mean - 0.5772 * b``), the chance that a good image scores
lower; it is not a posterior over defects, which would need a prior and defect examples. Verdict: ``defect``
above ``threshold + band * b``, ``ok`` below ``threshold - band * b``, else ``cannot tell``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from multimodal.inspect.errors import InspectorError

EULER_GAMMA = 0.5772156649015329
VERDICTS = ("ok", "cannot tell", "defect")
METHODS = ("gumbel", "conformal")
_DRAWS, _CHUNK = 200_000, 10_000  # simulation size of c(n, a): its false-alarm rate is within about 2e-4


@dataclass(frozen=True)
class Calibration:
    """The threshold and the fitted Gumbel law of good image scores, with how they were set. ``method``:
    ``gumbel-predictive``, ``conformal`` or ``gumbel-moments`` (older inspectors); ``guaranteed``: the
    false-alarm rate the threshold is set for (above ``false_alarm`` only for ``conformal`` with too few
    scores); ``good_scores``: the held-back scores, sorted."""

    threshold: float
    loc: float
    scale: float
    false_alarm: float
    held_back: int
    held_back_max: float
    method: str = "gumbel-moments"
    guaranteed: float = 0.0
    good_scores: tuple[float, ...] = ()

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
        n, top = self.held_back, f"their max {self.held_back_max:.4g}"
        if self.method == "conformal":
            k = math.ceil((n + 1) * (1 - self.false_alarm))
            if k > n:
                return (
                    f"threshold {self.threshold:.4g}: the largest of {n} held-back good scores; {n} scores can "
                    f"only guarantee a false-alarm rate of 1/{n + 1} = {self.guaranteed:.3g}, not the asked "
                    f"{self.false_alarm:.3g} (that needs {math.ceil(1 / self.false_alarm) - 1})"
                )
            return f"threshold {self.threshold:.4g}: the {k}-th smallest of {n} held-back good scores ({top})"
        if self.method == "gumbel-predictive":
            return (
                f"threshold {self.threshold:.4g}: Gumbel predictive bound for false alarms {self.false_alarm:.3g} "
                f"from {n} held-back good images ({top})"
            )
        return (
            f"threshold {self.threshold:.4g}: the {1 - self.false_alarm:.3g} quantile of a Gumbel law fitted "
            f"(moments) to {n} held-back good images ({top})"
        )


@lru_cache(maxsize=64)
def predictive_factor(n: int, false_alarm: float) -> float:
    """``c`` with ``P(X > mean + c * std) = false_alarm`` for ``X`` and ``n`` scores drawn from one Gumbel law
    (``std`` with ``ddof=1``); seeded simulation, ``n >= 2``."""
    rng = np.random.default_rng(12345)
    t = []
    for _ in range(_DRAWS // _CHUNK):
        g = rng.gumbel(size=(_CHUNK, n + 1))
        t.append((g[:, n] - g[:, :n].mean(axis=1)) / g[:, :n].std(axis=1, ddof=1))
    return float(np.quantile(np.concatenate(t), 1.0 - false_alarm))


def fit_calibration(good_scores: np.ndarray, false_alarm: float, method: str = "gumbel") -> Calibration:
    """Calibration from the scores of held-back good images (at least 2)."""
    s = np.sort(np.asarray(good_scores, np.float64))
    if s.ndim != 1 or len(s) < 2 or not np.all(np.isfinite(s)):
        raise InspectorError(f"the threshold needs at least 2 finite held-back good scores, got {s.tolist()[:5]}")
    if method not in METHODS:
        raise InspectorError(f"threshold method {method!r} is not one of {', '.join(METHODS)}")
    n, mean, std = len(s), float(s.mean()), float(s.std(ddof=1))
    scale = max(std * math.sqrt(6.0) / math.pi, 1e-6 * max(abs(mean), 1.0))
    loc = mean - EULER_GAMMA * scale
    guaranteed = false_alarm
    if method == "conformal":
        k = math.ceil((n + 1) * (1.0 - false_alarm))
        threshold = float(np.nextafter(s[min(k, n) - 1], np.inf))  # a score equal to the k-th is not an alarm
        guaranteed = false_alarm if k <= n else 1.0 / (n + 1)
        name = "conformal"
    else:
        spread = max(std, scale * math.pi / math.sqrt(6.0))  # the floor on scale, for identical scores
        threshold = mean + predictive_factor(n, false_alarm) * spread
        name = "gumbel-predictive"
    return Calibration(
        threshold=threshold,
        loc=loc,
        scale=scale,
        false_alarm=false_alarm,
        held_back=n,
        held_back_max=float(s[-1]),
        method=name,
        guaranteed=guaranteed,
        good_scores=tuple(round(float(v), 6) for v in s),
    )
