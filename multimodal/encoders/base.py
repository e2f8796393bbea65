"""The Encoder protocol every image-text backend meets, and the options a factory takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
from PIL import Image

from multimodal.errors import ConfigError
from multimodal.runtime import Runtime

SCORE_MODES = ("softmax", "sigmoid")

#: Prompt ensemble for CLIP-family models (a subset of the OpenAI ImageNet templates).
CLIP_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a good photo of a {}.",
    "a close-up photo of a {}.",
    "a photo of the {}.",
    "a bright photo of a {}.",
    "a cropped photo of a {}.",
    "a photo of one {}.",
    "a rendering of a {}.",
)


def default_cache_dir() -> Path:
    """``$SCENEQA_CACHE`` or ``~/.cache/sceneqa``: where tiny checkpoints and derived tables are kept."""
    import os

    env = os.environ.get("SCENEQA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sceneqa"


@dataclass(frozen=True)
class EncoderOptions:
    """How a factory loads an encoder.

    batch_size: images (or texts) per forward pass.
    local_files_only: never contact a model hub; use the cache or a local folder only.
    cache_dir: where tiny checkpoints and derived tables go (``None`` = :func:`default_cache_dir`).
    seed: seed of the random weights of ``tiny`` encoders.
    """

    batch_size: int = 32
    local_files_only: bool = False
    cache_dir: Path | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()


@dataclass(frozen=True)
class EncoderInfo:
    """What a user is told about an encoder: its spec, family, weights and how it scores."""

    spec: str
    family: str
    dim: int
    image_size: int
    pretrained: bool
    weights: str
    runtime: str
    score_mode: str = "softmax"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(
        cls,
        encoder: Encoder,
        runtime: Runtime,
        *,
        family: str,
        pretrained: bool,
        weights: str,
        notes: tuple[str, ...] = (),
    ) -> EncoderInfo:
        """The info of a built encoder: its ``spec``, ``dim``, ``image_size`` and ``score_mode`` are read off it,
        so every backend reports them the same way."""
        return cls(
            spec=encoder.spec,
            family=family,
            dim=encoder.dim,
            image_size=encoder.image_size,
            pretrained=pretrained,
            weights=weights,
            runtime=runtime.describe(),
            score_mode=encoder.score_mode,
            notes=notes,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "spec": self.spec,
            "family": self.family,
            "dim": self.dim,
            "image_size": self.image_size,
            "pretrained": self.pretrained,
            "weights": self.weights,
            "runtime": self.runtime,
            "score_mode": self.score_mode,
            "notes": list(self.notes),
        }


@runtime_checkable
class Encoder(Protocol):
    """An image-text encoder mapping both modalities into one space.

    Both ``embed_*`` methods return ``float32`` arrays of shape ``(n, dim)`` whose rows have unit L2 norm,
    so a dot product is a cosine similarity. ``score_mode`` says how zero-shot scores are formed from
    cosines: ``"softmax"`` (CLIP: ``softmax(logit_scale * cos)``) or ``"sigmoid"`` (SigLIP:
    ``sigmoid(logit_scale * cos + logit_bias)``). ``image_size`` is the short side (pixels) the model
    consumes, used to decode large JPEGs at reduced scale.
    """

    spec: str
    dim: int
    image_size: int
    score_mode: str
    logit_scale: float
    logit_bias: float
    prompt_templates: tuple[str, ...]
    info: EncoderInfo

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm, as float32. Zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, eps)).astype(np.float32, copy=False)


def learned_scale_and_bias(model) -> tuple[float, float | None]:
    """``exp(logit_scale)`` and the SigLIP ``logit_bias`` (``None`` for CLIP) of a torch dual encoder."""
    scale = float(model.logit_scale.detach().float().exp().item())
    bias = getattr(model, "logit_bias", None)
    return scale, (float(bias.detach().float().reshape(-1)[0].item()) if bias is not None else None)


def short_side(size) -> int:
    """An image size given as ``224`` or ``(224, 224)`` -> ``224``."""
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def batched(items: Sequence, size: int):
    """Yield consecutive slices of ``items`` of length ``size`` (the last may be shorter)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
