"""Pick the explainer for a built encoder. The registry is an explicit dict keyed by the encoder's family; an
unsupported family lists the supported ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from multimodal.errors import ConfigError
from multimodal.explain.base import Explainer
from multimodal.explain.lite import CnnExplainConfig
from multimodal.explain.vit import VitExplainConfig


@dataclass(frozen=True)
class ExplainerOptions:
    """Per-backbone settings: ``cnn`` for lite's EfficientNet, ``vit`` for open_clip ViTs (tiny included)."""

    cnn: CnnExplainConfig = field(default_factory=CnnExplainConfig)
    vit: VitExplainConfig = field(default_factory=VitExplainConfig)


def _lite(encoder, options: ExplainerOptions) -> Explainer:
    from multimodal.explain.lite import lite_explainer

    return lite_explainer(encoder, options.cnn)


def _open_clip(encoder, options: ExplainerOptions) -> Explainer:
    from multimodal.explain.vit import open_clip_explainer

    return open_clip_explainer(encoder, options.vit)


EXPLAINERS: dict[str, Callable[[object, ExplainerOptions], Explainer]] = {
    "lite": _lite,
    "open_clip": _open_clip,
}


def create_explainer(encoder, options: ExplainerOptions = ExplainerOptions()) -> Explainer:
    """The explainer for ``encoder`` (its ``info.family``: lite, open_clip; ``tiny:open_clip`` is open_clip)."""
    family = encoder.info.family
    if family not in EXPLAINERS:
        raise ConfigError(
            f"encoder {encoder.spec!r} (family {family!r}) has no explain method yet. Supported families: "
            f"{', '.join(EXPLAINERS)}; use --tier lite or an open_clip: encoder"
        )
    return EXPLAINERS[family](encoder, options)
