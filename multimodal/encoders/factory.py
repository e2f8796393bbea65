"""Turn an encoder spec string into a ready :class:`~multimodal.encoders.base.Encoder`.

Specs: ``open_clip:...``, ``hf:...``, ``lite``, ``tiny:...``. The registry is an explicit dict; an unknown
family lists the known ones. After this, no code touches paths, hubs or ``from_pretrained``.
"""

from __future__ import annotations

from typing import Callable

from multimodal.encoders.base import Encoder, EncoderOptions
from multimodal.errors import SpecError, UnknownNameError
from multimodal.runtime import Runtime


def _open_clip(rest: str, runtime: Runtime, options: EncoderOptions) -> Encoder:
    from multimodal.encoders.open_clip_backend import load_open_clip

    return load_open_clip(rest, runtime, options)


def _hf(rest: str, runtime: Runtime, options: EncoderOptions) -> Encoder:
    from multimodal.encoders.hf_backend import load_hf

    return load_hf(rest, runtime, options)


def _lite(rest: str, runtime: Runtime, options: EncoderOptions) -> Encoder:
    if rest:
        raise SpecError(f"'lite:{rest}': the lite encoder takes no arguments; use lite")
    from multimodal.encoders.lite import load_lite

    return load_lite(runtime, options)


def _tiny(rest: str, runtime: Runtime, options: EncoderOptions) -> Encoder:
    from multimodal.encoders.tiny import load_tiny

    return load_tiny(rest, runtime, options)


ENCODER_FAMILIES: dict[str, Callable[[str, Runtime, EncoderOptions], Encoder]] = {
    "open_clip": _open_clip,
    "hf": _hf,
    "lite": _lite,
    "tiny": _tiny,
}


def split_spec(spec: str) -> tuple[str, str]:
    """``"open_clip:ViT-B-32/x"`` -> ``("open_clip", "ViT-B-32/x")``; ``"lite"`` -> ``("lite", "")``."""
    spec = spec.strip()
    if not spec:
        raise SpecError("empty encoder spec; use e.g. lite, open_clip:ViT-B-32/laion2b_s34b_b79k or tiny:open_clip")
    family, _, rest = spec.partition(":")
    if family not in ENCODER_FAMILIES:
        raise UnknownNameError(
            f"unknown encoder family {family!r} in spec {spec!r}. Available: {', '.join(ENCODER_FAMILIES)}"
        )
    return family, rest


def create_encoder(spec: str, runtime: Runtime, options: EncoderOptions | None = None) -> Encoder:
    """Load the encoder named by ``spec`` on ``runtime``. Raises our errors, never returns random weights
    unless the spec says ``tiny``."""
    family, rest = split_spec(spec)
    return ENCODER_FAMILIES[family](rest, runtime, options or EncoderOptions())
