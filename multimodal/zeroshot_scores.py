"""Zero-shot post-processing: cosines in, label scores and the "none of these" decision out.

Pure functions of numpy arrays and explicit options; no model, no encoder lookups.

Two scores per (image, label):

- ``score``: in single-label mode the softmax over the given labels of ``logit_scale * cos`` (sums to 1),
  or of ``logit_scale * log(cos + log_floor)`` when ``log_floor`` is set (the lite encoder, whose
  cosines are overlaps of concept distributions and compare as ratios); in multi-label mode ``match``.
- ``match``: how strongly the label is supported *on its own*, in [0, 1], comparable across label sets.
  ``activation="sigmoid"`` (SigLIP-family): ``sigmoid(logit_scale * cos + logit_bias)``, the model's own
  pairwise probability. ``activation="background"`` (CLIP-family and lite): the label's cosine is
  compared with the cosines of the same image to a background vocabulary of 1,000 everyday concepts,
  ``z = (cos - mean_bg) / std_bg``, and ``match = sigmoid(slope * (z - center))``. A label at
  ``center`` standard deviations above the typical concept scores 0.5.

A label is *supported* when ``match >= threshold`` (default 0.5). Single-label: the answer is the top
label, or "none of these" (``abstained``) when the top label is not supported. Multi-label: the labels
that are supported, or "none of these" when none is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multimodal.errors import ConfigError

ACTIVATIONS = ("background", "sigmoid")


@dataclass(frozen=True)
class ScoreCalibration:
    """How ``score`` and ``match`` are formed. ``center``/``slope`` apply to the background z-score;
    ``logit_scale``/``log_floor`` to the single-label softmax; ``logit_bias`` to the sigmoid."""

    activation: str = "background"
    center: float = 3.0
    slope: float = 1.5
    logit_scale: float = 100.0
    logit_bias: float = 0.0
    log_floor: float | None = None

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation {self.activation!r} is not one of {', '.join(ACTIVATIONS)}")
        if self.slope <= 0:
            raise ConfigError(f"calibration slope must be positive, got {self.slope}")
        if self.log_floor is not None and self.log_floor <= 0:
            raise ConfigError(f"log_floor must be positive, got {self.log_floor}")


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float
    match: float

    def as_dict(self) -> dict[str, object]:
        return {"label": self.label, "score": round(self.score, 6), "match": round(self.match, 6)}


@dataclass(frozen=True)
class Classification:
    """Ranked labels (best first, at most top_k), whether the outcome is "none of these", and which
    labels are supported (``match >= threshold``)."""

    labels: tuple[LabelScore, ...]
    abstained: bool
    multi_label: bool
    supported: tuple[str, ...]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def softmax_scores(cos: np.ndarray, logit_scale: float, log_floor: float | None = None) -> np.ndarray:
    """``(n, L)`` cosines -> ``(n, L)`` probabilities over the L labels (rows sum to 1)."""
    x = np.asarray(cos, np.float64)
    if log_floor is not None:
        x = np.log(np.maximum(x, 0.0) + log_floor)
    logits = x * logit_scale
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def match_scores(cos: np.ndarray, background_cos: np.ndarray | None, cal: ScoreCalibration) -> np.ndarray:
    """``(n, L)`` per-label support in [0, 1]; ``background_cos`` is ``(n, B)`` (needed for "background")."""
    cos = np.asarray(cos, np.float64)
    if cal.activation == "sigmoid":
        return sigmoid(cos * cal.logit_scale + cal.logit_bias)
    if background_cos is None or background_cos.shape[1] < 2:
        raise ConfigError("background activation needs cosines to at least 2 background concepts")
    bg = np.asarray(background_cos, np.float64)
    z = (cos - bg.mean(axis=1, keepdims=True)) / np.maximum(bg.std(axis=1, keepdims=True), 1e-6)
    return sigmoid(cal.slope * (z - cal.center))


def decide(
    labels: list[str],
    scores: np.ndarray,
    match: np.ndarray,
    *,
    multi_label: bool,
    threshold: float,
    top_k: int,
) -> Classification:
    """Rank one image's labels and decide. ``scores`` and ``match`` are ``(L,)``.

    Ties are broken by label order (stable sort), so results are deterministic.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"threshold must be in [0, 1], got {threshold}")
    if top_k < 1:
        raise ConfigError(f"top_k must be >= 1, got {top_k}")
    key = match if multi_label else scores
    order = np.argsort(-np.asarray(key), kind="stable")
    ranked = tuple(
        LabelScore(labels[i], float(match[i] if multi_label else scores[i]), float(match[i])) for i in order[:top_k]
    )
    supported = tuple(labels[i] for i in order if match[i] >= threshold)
    if multi_label:
        abstained = not supported
    else:
        abstained = bool(match[order[0]] < threshold)
        supported = () if abstained else (labels[order[0]],)
    return Classification(labels=ranked, abstained=abstained, multi_label=multi_label, supported=supported)
