"""The :class:`Services` object built once in ``main()`` and handed to the CLI, the web app and eval."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from multimodal.encoders.base import Encoder, EncoderOptions, default_cache_dir
from multimodal.encoders.factory import create_encoder
from multimodal.errors import ConfigError
from multimodal.images import DEFAULT_LIMITS, ImageLimits
from multimodal.runtime import Runtime, resolve_runtime
from multimodal.tiers import TierChoice, resolve_tier
from multimodal.zeroshot import ZeroShotClassifier


@dataclass(frozen=True)
class ServiceConfig:
    """Everything that decides which models run where. Override with ``dataclasses.replace``."""

    tier: str = "auto"
    encoder: str | None = None
    device: str = "auto"
    precision: str = "auto"
    batch_size: int = 32
    offline: bool = False
    cache_dir: Path | None = None
    image_limits: ImageLimits = field(default_factory=lambda: DEFAULT_LIMITS)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()


@dataclass
class Services:
    """Loaded, ready-to-use models and the choices that produced them."""

    config: ServiceConfig
    tier: TierChoice
    runtime: Runtime
    encoder: Encoder
    zeroshot: ZeroShotClassifier

    def banner(self) -> str:
        """One paragraph naming the tier, the models and why; shown by the CLI and the UI."""
        info = self.encoder.info
        weights = info.weights if info.pretrained else "RANDOM WEIGHTS (tiny test model, scores mean nothing)"
        return (
            f"tier {self.tier.tier} ({self.tier.reason}); encoder {info.spec}: {weights}; "
            f"runtime {self.runtime.describe()}"
        )


def build_services(config: ServiceConfig, *, tier: TierChoice | None = None) -> Services:
    """Resolve tier and runtime, load the encoder. ``tier`` may be pre-resolved (tests, the web app)."""
    choice = tier or resolve_tier(config.tier, config.encoder, offline=config.offline)
    runtime = resolve_runtime(config.device, config.precision)
    options = EncoderOptions(
        batch_size=config.batch_size, local_files_only=config.offline, cache_dir=config.resolved_cache_dir
    )
    encoder = create_encoder(choice.encoder, runtime, options)
    zeroshot = ZeroShotClassifier(encoder, cache_dir=config.resolved_cache_dir)
    return Services(config=config, tier=choice, runtime=runtime, encoder=encoder, zeroshot=zeroshot)
