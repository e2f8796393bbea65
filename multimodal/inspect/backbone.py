"""Patch-feature backbones behind one small Protocol, built from a spec by :func:`create_backbone`.

- ``lite``: the packaged EfficientNet-Lite0 (ImageNet weights, see :mod:`multimodal.encoders.lite_parts`),
  run up to the deepest requested block only, channels-last (about 2x faster on CPU than the default layout).
- ``tiny``: a seeded random 6-block CNN with the same strides as Lite0's blocks 0..5; for tests, its features mean
  nothing beyond "different pixels give different features".
- ``timm:MODEL[.TAG][@/path/weights]``: a hub-pretrained timm CNN's feature levels (PatchCore's
  ``timm:wide_resnet50_2.tv_in1k``), cache checked before any download; ``tiny-timm:MODEL[/SEED]`` is the same
  architecture and code path with seeded random weights, recorded as not pretrained
  (:mod:`multimodal.inspect.backbone_timm`).

The input normalisation is part of the backbone (:class:`BackboneInfo` ``mean``/``std``, in 0..255 pixel units):
``(x - 127) / 128`` for lite and tiny (EfficientNet-Lite's TF preprocessing), the ImageNet mean and std of the
model's pretrained config for timm. It is saved with an inspector and checked on load.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from multimodal.errors import ConfigError, UnknownNameError
from multimodal.inspect.backbone_base import BackboneInfo, PatchBackbone

#: Lite0 block channels and strides (``model.blocks[i]``).
_LITE_CHANNELS = (16, 24, 40, 80, 112, 192, 320)
_LITE_STRIDES = (2, 4, 8, 16, 16, 32, 32)
_TINY_CHANNELS = (8, 12, 16, 24, 32, 48)
_TINY_STRIDES = (2, 4, 8, 16, 16, 32)
_TINY_STEPS = (1, 2, 2, 2, 1, 2)  # each block's own stride, after a stride-2 stem
#: Lite0 blocks 3+4 (stride 16) per patch, block 5 (stride 32) for the whole-image descriptor (README, Inspect).
LITE_LAYERS, LITE_DESCRIPTOR = (3, 4), 5
#: The ``full`` tier's inspect backbone: PatchCore's (Roth et al. 2022) WideResNet-50-2, torchvision weights.
FULL_BACKBONE = "timm:wide_resnet50_2.tv_in1k"


class _BlockBackbone:
    """A stem followed by a list of blocks; runs only as far as the deepest requested block."""

    default_layers = LITE_LAYERS
    default_descriptor = LITE_DESCRIPTOR

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


def _timm(rest: str, *, offline: bool = False) -> PatchBackbone:
    from multimodal.inspect.backbone_timm import load_timm

    return load_timm(rest, random=False, offline=offline)


def _tiny_timm(rest: str, *, offline: bool = False) -> PatchBackbone:
    from multimodal.inspect.backbone_timm import load_timm

    return load_timm(rest, random=True, offline=offline)


BACKBONES: dict[str, Callable[[], PatchBackbone]] = {"lite": _lite, "tiny": _tiny}
#: Families whose spec names a model after the colon (``timm:wide_resnet50_2.tv_in1k``).
FAMILIES: dict[str, Callable[..., PatchBackbone]] = {"timm": _timm, "tiny-timm": _tiny_timm}


def create_backbone(spec: str, *, offline: bool = False) -> PatchBackbone:
    """The backbone of ``spec``: ``lite``, ``tiny`` (``tiny:SEED`` for another seed), ``timm:MODEL[.TAG]``
    (``@/path/weights`` for a local file) or ``tiny-timm:MODEL[/SEED]``. Loads weights; ``offline``: never
    reach a hub (a timm spec whose weights are not cached then fails, naming the fix)."""
    name, _, rest = spec.partition(":")
    if name in FAMILIES:
        return FAMILIES[name](rest, offline=offline)
    if name not in BACKBONES:
        known = [*BACKBONES, *(f"{f}:MODEL" for f in FAMILIES)]
        raise UnknownNameError(f"unknown inspect backbone {spec!r}. Available: {', '.join(known)}")
    if name == "tiny" and rest:
        if not rest.isdigit():
            raise ConfigError(f"backbone {spec!r}: tiny takes a seed, e.g. tiny:1")
        return _tiny(int(rest))
    if rest:
        raise ConfigError(f"backbone {spec!r}: {name} takes no options; use {name!r}")
    return BACKBONES[name]()


def backbone_for_tier(tier: str, why_not: Callable[[str, bool], str | None]) -> tuple[str, str]:
    """``(spec, note)``: the inspect backbone of ``tier`` and, when it is not that tier's first choice, why.
    ``why_not(spec, download)``: ``None`` when the spec's weights are cached (or, with ``download``, can be
    downloaded), else the reason (:func:`multimodal.inspect.backbone_timm.timm_unavailable`). ``full`` takes
    :data:`FULL_BACKBONE` (downloaded once when the hub answers); ``auto`` takes it only when already cached
    (no surprise download); otherwise ``lite``, and for ``full`` the note says why."""
    if tier == "tiny":
        return "tiny", ""
    if tier not in ("full", "auto"):
        return "lite", ""
    why = why_not(FULL_BACKBONE, tier == "full")
    if why is None:
        return FULL_BACKBONE, ""
    if tier == "auto":
        return "lite", ""
    return "lite", (
        f"the full tier's inspect backbone {FULL_BACKBONE} is not available ({why}); using lite "
        f"(packaged EfficientNet-Lite0). Run once online, or pass --backbone {FULL_BACKBONE}@/path/to/weights"
    )
