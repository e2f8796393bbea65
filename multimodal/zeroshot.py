"""Zero-shot classification from free-text labels: prompt ensembles, cached label embeddings, decisions.

Pre-processing (label parsing, prompt building) and post-processing (:mod:`multimodal.zeroshot_scores`)
are pure; only :class:`ZeroShotClassifier` touches the encoder.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.array_cache import cached_array
from multimodal.encoders.base import Encoder, l2_normalize
from multimodal.encoders.imagenet import imagenet_names
from multimodal.errors import ConfigError, EmptyInputError
from multimodal.zeroshot_scores import Classification, ScoreCalibration, decide, match_scores, softmax_scores

MAX_LABELS = 1000
MAX_LABEL_CHARS = 200
BACKGROUND_FORMAT = "v1"

#: Calibration per encoder family, where it is not the model's own (learned logit scale / SigLIP bias).
#: lite: fitted with `sceneqa eval zeroshot` (report.json "calibration_fit") on the fashion catalog:
#: temperature scaling of log-cosines chose 1.5 (98 article types) and 2.9 (6 master categories); the
#: background z-score center/slope keep "none of these" rare on products and common on out-of-vocabulary
#: photos (README "Results").
FAMILY_CALIBRATION: dict[str, dict[str, float]] = {
    "lite": {"center": 4.0, "slope": 1.0, "logit_scale": 2.0, "log_floor": 1e-3},
    "open_clip": {"center": 3.0, "slope": 1.5},
    "hf": {"center": 3.0, "slope": 1.5},
}


def calibration_for(encoder: Encoder) -> ScoreCalibration:
    """The score calibration for ``encoder``: its own logit scale/bias unless its family overrides them."""
    base = ScoreCalibration(
        activation="sigmoid" if encoder.score_mode == "sigmoid" else "background",
        logit_scale=encoder.logit_scale,
        logit_bias=encoder.logit_bias,
    )
    return replace(base, **FAMILY_CALIBRATION.get(encoder.info.family, {}))


@dataclass(frozen=True)
class ZeroShotOptions:
    """multi_label: independent per-label decisions; top_k: labels reported per image;
    threshold: ``match`` at or above which a label counts as supported (else "none of these")."""

    multi_label: bool = False
    top_k: int = 5
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ConfigError(f"top_k must be >= 1, got {self.top_k}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {self.threshold}")


def parse_labels(labels: str | Sequence[str]) -> list[str]:
    """Labels from ``"cat, dog"``, ``"cat\\ndog"`` or a list; trimmed, blanks dropped, duplicates removed
    (first kept). Raises :class:`EmptyInputError` / :class:`ConfigError` naming the problem."""
    items = re.split(r"[,\n]", labels) if isinstance(labels, str) else list(labels)
    out: list[str] = []
    seen: set[str] = set()
    for raw in items:
        if not isinstance(raw, str):
            raise ConfigError(f"label {raw!r} is not text")
        label = " ".join(raw.split())
        if not label or label.casefold() in seen:
            continue
        if len(label) > MAX_LABEL_CHARS:
            raise ConfigError(f"label {label[:40]!r}... is {len(label)} characters; the limit is {MAX_LABEL_CHARS}")
        seen.add(label.casefold())
        out.append(label)
    if not out:
        raise EmptyInputError("no labels given; pass --labels 'cat, dog' or --labels-file FILE (one per line)")
    if len(out) > MAX_LABELS:
        raise ConfigError(f"{len(out)} labels given; the limit is {MAX_LABELS}")
    return out


def build_prompts(label: str, templates: Sequence[str]) -> list[str]:
    """One prompt per template (``"a photo of a {}."`` -> ``"a photo of a cat."``)."""
    return [t.format(label) for t in templates]


def background_vocabulary() -> list[str]:
    """1,000 everyday concepts (ImageNet class names, first synonym) used to calibrate ``match``."""
    return list(imagenet_names())


class ZeroShotClassifier:
    """Classifies images against free-text labels with one encoder; caches label embeddings."""

    def __init__(
        self,
        encoder: Encoder,
        *,
        cache_dir: Path | None = None,
        background: Sequence[str] | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.encoder = encoder
        self._cache_dir = cache_dir
        self._background_labels = list(background) if background is not None else None
        self._background: np.ndarray | None = None
        self._labels: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self.calibration = calibration_for(encoder)

    def label_embeddings(self, labels: Sequence[str]) -> np.ndarray:
        """``(L, dim)`` unit rows: the mean of each label's prompt-ensemble embeddings, re-normalised."""
        templates = tuple(self.encoder.prompt_templates)
        missing = [lab for lab in labels if lab not in self._labels]
        if missing:
            prompts = [p for lab in missing for p in build_prompts(lab, templates)]
            emb = self.encoder.embed_texts(prompts).reshape(len(missing), len(templates), -1)
            for lab, vec in zip(missing, l2_normalize(emb.mean(axis=1))):
                self._labels[lab] = vec
        for lab in labels:
            self._labels.move_to_end(lab)
        while len(self._labels) > self._cache_size:
            self._labels.popitem(last=False)
        return np.stack([self._labels[lab] for lab in labels]) if labels else np.zeros((0, self.encoder.dim))

    def background_embeddings(self) -> np.ndarray:
        """``(B, dim)`` embeddings of the background vocabulary (first template), cached on disk for
        pretrained encoders."""
        if self._background is None:
            vocab = self._background_labels or background_vocabulary()
            template = self.encoder.prompt_templates[0]
            prompts = [template.format(v) for v in vocab]
            self._background = self._cached(prompts)
        return self._background

    def classify_embeddings(
        self, image_emb: np.ndarray, labels: Sequence[str], options: ZeroShotOptions = ZeroShotOptions()
    ) -> list[Classification]:
        """Classify ``(n, dim)`` unit image embeddings against ``labels``."""
        labels = parse_labels(labels)
        cos = image_emb @ self.label_embeddings(labels).T
        scores = softmax_scores(cos, self.calibration.logit_scale, self.calibration.log_floor)
        bg = image_emb @ self.background_embeddings().T if self.calibration.activation == "background" else None
        match = match_scores(cos, bg, self.calibration)
        return [
            decide(
                labels,
                scores[i],
                match[i],
                multi_label=options.multi_label,
                threshold=options.threshold,
                top_k=min(options.top_k, len(labels)),
            )
            for i in range(image_emb.shape[0])
        ]

    def classify(
        self, images: Sequence[Image.Image], labels: Sequence[str], options: ZeroShotOptions = ZeroShotOptions()
    ) -> list[Classification]:
        return self.classify_embeddings(self.encoder.embed_images(images), labels, options)

    def _cached(self, prompts: list[str]) -> np.ndarray:
        info = self.encoder.info
        if self._cache_dir is None or not info.pretrained:
            return self.encoder.embed_texts(prompts)
        key = hashlib.sha256(
            "\n".join([BACKGROUND_FORMAT, info.spec, info.weights, str(info.dim)] + prompts).encode()
        ).hexdigest()[:20]
        path = self._cache_dir / "background" / f"{key}.npy"
        return cached_array(path, (len(prompts), info.dim), lambda: self.encoder.embed_texts(prompts))
