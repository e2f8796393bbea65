"""Calibration of the lite answerer's confidence: a frozen table of monotone piecewise-linear maps, one per route
key (``presence:concept:yes``, ``count:people:zero``, ...; see :mod:`multimodal.ask.answer_lite`), from the raw
strength of the facts to the share of answers that were right on the fit split.

The shipped table (``lite_calibration.json``, next to this file) is fitted by ``sceneqa eval vqa --split train
--fit-calibration OUT.json`` (:mod:`eval.vqa_calibrate`) and records its provenance. Rules beyond the maps:

- a key without a map keeps its raw confidence, except a *negative* key (one ending in ``:no`` or ``:zero``:
  an absence or a count of 0), whose value is capped at :data:`NEGATIVE_CAP`, below the default abstention
  threshold: "no" is only said where its precision was measured;
- a negative key's calibrated value below :data:`NEGATIVE_MIN_PRECISION` is capped the same way: "no" and "0"
  are answered only where the measured precision is at least that (issue 14: no "no" at confidence >= 0.5
  unless it is right >= 9 times in 10).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from multimodal.errors import ConfigError

SHIPPED = Path(__file__).with_name("lite_calibration.json")
NEGATIVE_SUFFIXES = (":no", ":zero")
NEGATIVE_MIN_PRECISION = 0.9
NEGATIVE_CAP = 0.45  # below the default threshold 0.5: an unmeasured or imprecise "no" abstains


def is_negative(key: str) -> bool:
    """Whether ``key`` is a route key of an absence ("no") or a count of 0."""
    return key.endswith(NEGATIVE_SUFFIXES)


@dataclass(frozen=True)
class PiecewiseMap:
    """A monotone (non-decreasing) piecewise-linear map from breakpoints ``xs`` (increasing) to ``ys`` in
    [0, 1]; constant beyond the ends. ``n``: the samples it was fitted on."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    n: int = 0

    def __post_init__(self) -> None:
        if not self.xs or len(self.xs) != len(self.ys):
            raise ConfigError(f"a calibration map needs as many xs as ys (>= 1), got {len(self.xs)}/{len(self.ys)}")
        if any(b < a for a, b in zip(self.xs, self.xs[1:])) or any(b < a for a, b in zip(self.ys, self.ys[1:])):
            raise ConfigError(f"a calibration map must be non-decreasing, got xs={self.xs} ys={self.ys}")
        if not all(0.0 <= y <= 1.0 for y in self.ys):
            raise ConfigError(f"calibrated confidences must be in [0, 1], got {self.ys}")

    def __call__(self, raw: float) -> float:
        return float(np.interp(raw, self.xs, self.ys))


@dataclass(frozen=True)
class LogisticModel:
    """P(present) = sigmoid(intercept + coef . signals) over the named ``features`` (missing ones count 0): the
    presence models of the lite answerer (``presence:concept``, ``presence:people``), fitted on the fit split's
    yes/no questions by :mod:`eval.vqa_calibrate`. ``n``: the questions it was fitted on."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    n: int = 0

    def __post_init__(self) -> None:
        if len(self.features) != len(self.coef) or not all(np.isfinite([*self.coef, self.intercept])):
            raise ConfigError(
                f"a presence model needs one finite coefficient per feature, got {len(self.coef)} for "
                f"{len(self.features)} features"
            )

    def __call__(self, signals: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * float(signals.get(f, 0.0)) for f, c in zip(self.features, self.coef))
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0))))


@dataclass(frozen=True)
class Calibration:
    """Route key -> map. ``provenance``: what it was fitted on (data, split, date, counts). An empty table with
    ``raw=True`` (:meth:`identity`) returns every confidence unchanged, negative keys included (fitting)."""

    maps: Mapping[str, PiecewiseMap] = field(default_factory=dict)
    provenance: Mapping[str, object] = field(default_factory=dict)
    raw: bool = False
    models: Mapping[str, LogisticModel] = field(default_factory=dict)

    def probability(self, name: str, signals: Mapping[str, float]) -> float | None:
        """The presence model ``name``'s probability for ``signals``, or ``None`` without a fitted model."""
        model = self.models.get(name)
        return model(signals) if model is not None else None

    @classmethod
    def identity(cls) -> Calibration:
        return cls(raw=True, provenance={"fitted_on": "nothing: raw confidences"})

    def __call__(self, key: str, raw: float, *, fitted: bool = False) -> float:
        """The calibrated confidence in [0, 1] of an answer of route ``key`` with raw confidence ``raw``;
        ``fitted``: ``raw`` already is a fitted probability (a presence model's): no map, only the negative rule."""
        if self.raw:
            return float(raw)
        m = None if fitted else self.maps.get(key)
        value = m(raw) if m is not None else float(raw)
        unmeasured = not fitted and m is None  # a "no" whose precision was never measured
        if is_negative(key) and (unmeasured or value < NEGATIVE_MIN_PRECISION):
            value = min(value, NEGATIVE_CAP)
        return float(min(1.0, max(0.0, value)))

    def as_dict(self) -> dict[str, object]:
        return {
            "provenance": dict(self.provenance),
            "maps": {k: {"xs": list(m.xs), "ys": list(m.ys), "n": m.n} for k, m in sorted(self.maps.items())},
            "models": {
                k: {"features": list(m.features), "coef": list(m.coef), "intercept": m.intercept, "n": m.n}
                for k, m in sorted(self.models.items())
            },
        }

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=1) + "\n", encoding="utf-8")
        return path


def load_calibration(spec: str | Path = "shipped") -> Calibration:
    """``shipped`` (the package's table, fitted on the lite tier's models), ``unfitted`` (no maps: raw values,
    negative keys abstain), ``none`` (raw confidences, no rule) or the path of a fitted JSON."""
    if str(spec) == "none":
        return Calibration.identity()
    if str(spec) == "unfitted":
        return Calibration(provenance={"fitted_on": "nothing: no table for these models"})
    path = SHIPPED if str(spec) == "shipped" else Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        maps = {
            k: PiecewiseMap(tuple(map(float, v["xs"])), tuple(map(float, v["ys"])), int(v.get("n", 0)))
            for k, v in data["maps"].items()
        }
        models = {
            k: LogisticModel(tuple(v["features"]), tuple(map(float, v["coef"])), float(v["intercept"]), int(v["n"]))
            for k, v in data.get("models", {}).items()
        }
        return Calibration(maps, dict(data.get("provenance", {})), models=models)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"calibration {path}: cannot read it ({type(exc).__name__}: {exc}); expected a JSON with 'maps' "
            "({key: {xs, ys, n}}) and optional 'models' as written by sceneqa eval vqa --fit-calibration, "
            "or pass 'shipped' or 'none'"
        ) from exc
