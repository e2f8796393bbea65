"""Patch-feature backbones behind one small Protocol, built from a spec by :func:`create_backbone`.

- ``lite``: the packaged EfficientNet-Lite0 (ImageNet weights, see :mod:`multimodal.encoders.lite_parts`),
  run up to the deepest requested block only, channels-last (about 2x faster on CPU than the default layout).
- ``tiny``: a seeded random 6-block CNN with the same strides as Lite0's blocks 0..5; for tests, its features mean
  nothing beyond "different pixels give different features".

Both take images normalised as ``(x - 127) / 128`` (EfficientNet-Lite's TF preprocessing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from multimodal.errors import ConfigError, UnknownNameError

#: Lite0 block channels and strides (``model.blocks[i]``).
_LITE_CHANNELS = (16, 24, 40, 80, 112, 192, 320)
_LITE_STRIDES = (2, 4, 8, 16, 16, 32, 32)
_TINY_CHANNELS = (8, 12, 16, 24, 32, 48)
_TINY_STRIDES = (2, 4, 8, 16, 16, 32)
_TINY_STEPS = (1, 2, 2, 2, 1, 2)  # each block's own stride, after a stride-2 stem


@dataclass(frozen=True)
class BackboneInfo:
    """What an inspector records about the backbone that built it (and checks on load)."""

    spec: str
    description: str
    pretrained: bool
    channels: tuple[int, ...]
    strides: tuple[int, ...]

    def check_layers(self, layers: tuple[int, ...]) -> None:
        bad = [i for i in layers if i >= len(self.channels)]
        if bad:
            raise ConfigError(
                f"layers {bad} do not exist in backbone {self.spec!r} (blocks 0..{len(self.channels) - 1})"
            )


class PatchBackbone(Protocol):
    """Feature maps of a batch. ``feature_maps(x, layers)``: ``x`` float32 ``(n, 3, H, W)`` torch tensor,
    normalised; returns one float32 ``(n, c_i, ceil(H / s_i), ceil(W / s_i))`` tensor per layer (``s_i`` its
    stride), in the order of ``layers``."""

    info: BackboneInfo

    def feature_maps(self, x, layers: tuple[int, ...]) -> list: ...


class _BlockBackbone:
    """A stem followed by a list of blocks; runs only as far as the deepest requested block."""

    def __init__(self, info: BackboneInfo, stem, blocks) -> None:
        import torch

        self.info = info
        self._torch = torch
        self._stem = stem.eval().to(memory_format=torch.channels_last)
        self._blocks = [b.eval().to(memory_format=torch.channels_last) for b in blocks]

    def feature_maps(self, x, layers: tuple[int, ...]) -> list:
        self.info.check_layers(layers)
        torch = self._torch
        out: dict[int, object] = {}
        with torch.inference_mode():
            h = self._stem(x.contiguous(memory_format=torch.channels_last))
            for i, block in enumerate(self._blocks[: max(layers) + 1]):
                h = block(h)
                if i in layers:
                    out[i] = h.float().contiguous()
        return [out[i] for i in layers]


def _lite() -> PatchBackbone:
    import torch

    from multimodal.encoders.lite_parts import load_classifier

    model = load_classifier()
    info = BackboneInfo(
        "lite", "EfficientNet-Lite0, ImageNet-1k (packaged weights)", True, _LITE_CHANNELS, _LITE_STRIDES
    )
    return _BlockBackbone(info, torch.nn.Sequential(model.conv_stem, model.bn1), list(model.blocks))


def _tiny(seed: int = 0) -> PatchBackbone:
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)

    def conv(cin: int, cout: int, stride: int) -> nn.Module:
        layer = nn.Conv2d(cin, cout, 3, stride, 1)
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * np.sqrt(2.0 / (cin * 9)))
            layer.bias.zero_()
        return nn.Sequential(layer, nn.ReLU())

    chans = (8, *_TINY_CHANNELS)
    blocks = [conv(chans[i], chans[i + 1], step) for i, step in enumerate(_TINY_STEPS)]
    spec = "tiny" if seed == 0 else f"tiny:{seed}"
    info = BackboneInfo(spec, "tiny random CNN (seeded; features mean nothing)", False, _TINY_CHANNELS, _TINY_STRIDES)
    return _BlockBackbone(info, conv(3, 8, 2), blocks)


BACKBONES: dict[str, Callable[[], PatchBackbone]] = {"lite": _lite, "tiny": _tiny}


def create_backbone(spec: str) -> PatchBackbone:
    """The backbone of ``spec``: ``lite`` or ``tiny`` (``tiny:SEED`` for another seed). Loads weights."""
    name, _, rest = spec.partition(":")
    if name not in BACKBONES:
        raise UnknownNameError(f"unknown inspect backbone {spec!r}. Available: {', '.join(sorted(BACKBONES))}")
    if name == "tiny" and rest:
        if not rest.isdigit():
            raise ConfigError(f"backbone {spec!r}: tiny takes a seed, e.g. tiny:1")
        return _tiny(int(rest))
    if rest:
        raise ConfigError(f"backbone {spec!r}: {name} takes no options; use {name!r}")
    return BACKBONES[name]()
