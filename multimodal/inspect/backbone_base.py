"""What every inspect backbone shares: :class:`BackboneInfo` (the provenance an inspector saves and checks) and
the :class:`PatchBackbone` Protocol. Backbones themselves are built in :mod:`multimodal.inspect.backbone`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from multimodal.errors import ConfigError

#: ``(x - 127) / 128``, the normalisation every inspector saved before it was recorded was built with.
TF_MEAN = (127.0, 127.0, 127.0)
TF_STD = (128.0, 128.0, 128.0)


@dataclass(frozen=True)
class BackboneInfo:
    """What an inspector records about the backbone that built it (and checks on load). ``mean``/``std``: the
    input normalisation ``(x - mean) / std`` per RGB channel, ``x`` in 0..255."""

    spec: str
    description: str
    pretrained: bool
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    mean: tuple[float, float, float] = TF_MEAN
    std: tuple[float, float, float] = TF_STD

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ConfigError(f"backbone {self.spec!r}: mean/std need 3 values, std > 0; got {self.mean}, {self.std}")

    def check_layers(self, layers: tuple[int, ...]) -> None:
        bad = [i for i in layers if i >= len(self.channels)]
        if bad:
            raise ConfigError(
                f"layers {bad} do not exist in backbone {self.spec!r} (blocks 0..{len(self.channels) - 1})"
            )


class PatchBackbone(Protocol):
    """Feature maps of a batch. ``feature_maps(x, layers)``: ``x`` float32 ``(n, 3, H, W)`` torch tensor,
    normalised; returns one float32 ``(n, c_i, ceil(H / s_i), ceil(W / s_i))`` tensor per layer (``s_i`` its
    stride), in the order of ``layers``. ``default_layers``: the patch layers a fit uses unless told;
    ``default_descriptor``: the layer whose mean describes a whole image."""

    info: BackboneInfo
    default_layers: tuple[int, ...]
    default_descriptor: int

    def feature_maps(self, x, layers: tuple[int, ...]) -> list: ...
