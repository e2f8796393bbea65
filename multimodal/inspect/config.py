"""How an inspector is fitted and how its verdicts are drawn: frozen, validated configs.

The defaults are the ones measured on ``../shared/data/defects/bsdata`` (README, "Inspect").
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from multimodal.errors import ConfigError

#: Layers are indices into the backbone's block list (``None``: the backbone's defaults, see
#: :func:`FitConfig.for_backbone`). Lite and tiny share the strides of these indices (EfficientNet-Lite0:
#: block 3 = stride 16, 80 channels; block 4 = stride 16, 112; block 5 = stride 32, 192); timm CNNs use their
#: feature levels (WideResNet-50-2: 2 = layer2, stride 8; 3 = layer3, stride 16).
DEFAULT_LAYERS = (3, 4)
BANKS = ("nearest", "coreset")
THRESHOLDS = ("gumbel", "conformal")


@dataclass(frozen=True)
class FitConfig:
    """Knobs of ``inspect fit``.

    - ``image_size``: the longest side, in pixels, images are resized to before the backbone (the other side
      follows the good images' median aspect ratio; both are rounded to a multiple of 16).
    - ``layers``: backbone blocks whose feature maps are joined per patch (the first one sets the patch grid);
      ``None``: the backbone's default (set by :meth:`for_backbone` when fitting).
    - ``pool``: side of the local average pooling applied to every feature map (patch neighbourhood).
    - ``dims``: patch features are reduced to this many principal components of the good patches (0: keep all).
    - ``bank``: ``nearest`` keeps every patch of every bank image and scores a patch against the patches of the
      ``nearest_images`` good images most like the whole image (SPADE's alignment step); ``coreset`` keeps a
      greedy k-centre ``coreset`` share of all patches in one bank (PatchCore).
    - ``descriptor_layer``: block whose mean feature describes a whole image (for ``nearest``; ``None``: the
      backbone's default).
    - ``projection``: dimensions of the random projection the coreset distances are computed in (0: none).
    - ``holdout``: share of the good images kept out of the bank to set the threshold.
    - ``false_alarm``: the share of good images allowed above the threshold.
    - ``threshold``: how the threshold is set from held-back scores, ``gumbel`` (predictive bound of a Gumbel
      fit) or ``conformal`` (an order statistic); see :mod:`multimodal.inspect.calibrate`.
    - ``neighbours``: nearest bank patches averaged into a patch score (1 in PatchCore).
    - ``border``: patch rows/columns at each edge that are not scored (zero padding makes edge patches noisy):
      they count as the image's least anomalous patch in the score, the heatmap and the regions.
    - ``blur``: sigma, in input pixels, of the Gaussian that smooths the heatmap (4 in PatchCore).
    """

    image_size: int = 512
    layers: tuple[int, ...] | None = None
    pool: int = 3
    dims: int = 32
    bank: str = "nearest"
    nearest_images: int = 5
    descriptor_layer: int | None = None
    coreset: float = 0.01
    projection: int = 32
    holdout: float = 0.2
    false_alarm: float = 0.01
    threshold: str = "gumbel"
    neighbours: int = 1
    border: int = 1
    blur: float = 4.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 32 <= self.image_size <= 2048:
            raise ConfigError(f"--size must be in 32..2048 pixels, got {self.image_size}")
        if self.layers is not None and (
            not self.layers or len(set(self.layers)) != len(self.layers) or min(self.layers) < 0
        ):
            raise ConfigError(f"layers must be distinct non-negative block indices, got {self.layers}")
        if self.pool < 1 or self.pool % 2 == 0:
            raise ConfigError(f"pool must be an odd size >= 1, got {self.pool}")
        if self.bank not in BANKS:
            raise ConfigError(f"--bank {self.bank!r} is not one of {', '.join(BANKS)}")
        if self.threshold not in THRESHOLDS:
            raise ConfigError(f"--threshold {self.threshold!r} is not one of {', '.join(THRESHOLDS)}")
        if self.dims < 0 or self.projection < 0 or self.border < 0 or (self.descriptor_layer or 0) < 0:
            raise ConfigError("dims, projection, border and descriptor_layer must be >= 0")
        if not 1 <= self.nearest_images <= 1000:
            raise ConfigError(f"--nearest-images must be in 1..1000, got {self.nearest_images}")
        if not 0.0 < self.coreset <= 1.0:
            raise ConfigError(f"--coreset is a share of the patches in (0, 1], got {self.coreset}")
        if not 0.0 < self.holdout < 1.0:
            raise ConfigError(f"--holdout is a share of the good images in (0, 1), got {self.holdout}")
        if not 0.0 < self.false_alarm < 0.5:
            raise ConfigError(f"--false-alarm must be in (0, 0.5), got {self.false_alarm}")
        if not 1 <= self.neighbours <= 16:
            raise ConfigError(f"neighbours must be in 1..16, got {self.neighbours}")
        if self.blur < 0:
            raise ConfigError(f"blur sigma must be >= 0, got {self.blur}")

    def for_backbone(self, default_layers: tuple[int, ...], default_descriptor: int) -> FitConfig:
        """This config with unset ``layers`` / ``descriptor_layer`` taken from a backbone's defaults."""
        return replace(
            self,
            layers=self.layers if self.layers is not None else tuple(default_layers),
            descriptor_layer=self.descriptor_layer if self.descriptor_layer is not None else default_descriptor,
        )

    @property
    def blocks(self) -> tuple[int, ...]:
        """Every block the backbone must return: the patch layers, then the descriptor layer."""
        if self.layers is None or self.descriptor_layer is None:
            raise ConfigError("layers are not set: resolve them with FitConfig.for_backbone(...) first")
        return (*self.layers, self.descriptor_layer)


@dataclass(frozen=True)
class VerdictConfig:
    """How a score becomes a verdict and boxes.

    - ``band``: half-width of the "cannot tell" zone around the threshold, in units of the good scores'
      spread (the fitted Gumbel scale); 0 gives only ok / defect.
    - ``region_level``: patch-score level, relative to the image threshold, at which patches form regions.
    - ``max_boxes``: the highest-scoring regions reported per image.
    """

    band: float = 0.5
    region_level: float = 1.0
    max_boxes: int = 10

    def __post_init__(self) -> None:
        if self.band < 0:
            raise ConfigError(f"--band must be >= 0, got {self.band}")
        if not 0.0 < self.region_level <= 4.0:
            raise ConfigError(f"region_level must be in (0, 4], got {self.region_level}")
        if self.max_boxes < 1:
            raise ConfigError(f"max_boxes must be >= 1, got {self.max_boxes}")
