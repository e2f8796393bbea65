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
    abstain_below: float = 0.5
    answerer: str | None = None
    max_image_side: int = 1024
    max_new_tokens: int = 96

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.abstain_below <= 1.0:
            raise ConfigError(f"the abstention threshold must be in [0, 1], got {self.abstain_below}")

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()


@dataclass
class Services:
    """Loaded, ready-to-use models and the choices that produced them. The models only the ask pipeline
    needs (OCR, faces, sentence embedder) load on first use, once."""

    config: ServiceConfig
    tier: TierChoice
    runtime: Runtime
    encoder: Encoder
    zeroshot: ZeroShotClassifier
    _parts: dict = field(default_factory=dict, repr=False)

    def banner(self) -> str:
        """One paragraph naming the tier, the models and why; shown by the CLI and the UI."""
        info = self.encoder.info
        weights = info.weights if info.pretrained else "RANDOM WEIGHTS (tiny test model, scores mean nothing)"
        return (
            f"tier {self.tier.tier} ({self.tier.reason}); encoder {info.spec}: {weights}; "
            f"answerer {self.answerer_spec}; runtime {self.runtime.describe()}"
        )

    def text_embedder(self):
        """Sentence embedder for context relevance: packaged MiniLM, or the hashing twin in the tiny tier."""
        if "text" not in self._parts:
            from multimodal.text_embed import HashingEmbedder, MiniLMEmbedder

            self._parts["text"] = HashingEmbedder() if self.tier.tier == "tiny" else MiniLMEmbedder.load(self.runtime)
        return self._parts["text"]

    def fact_tools(self):
        if "facts" not in self._parts:
            from multimodal.facts.faces import CascadeFaceDetector, NoFaceDetector
            from multimodal.facts.ocr import NoTextReader, RapidOcrReader
            from multimodal.facts.tags import ClassifierTagger, ZeroShotTagger
            from multimodal.scene_facts import FactTools

            tiny = self.tier.tier == "tiny"
            lite = self.encoder.info.family == "lite"
            self._parts["facts"] = FactTools(
                zeroshot=self.zeroshot,
                faces=NoFaceDetector() if tiny else CascadeFaceDetector(),
                ocr=NoTextReader() if tiny else LazyReader(RapidOcrReader),
                tagger=ClassifierTagger(self.encoder) if lite else ZeroShotTagger(self.zeroshot),
            )
        return self._parts["facts"]

    def answerer(self):
        """The answerer named by ``--answerer``, else the tier's default (see ``tiers.DEFAULT_ANSWERERS``)."""
        if "answerer" not in self._parts:
            from multimodal.answerers import create_answerer

            self._parts["answerer"] = create_answerer(self.answerer_spec, self)
        return self._parts["answerer"]

    @property
    def answerer_spec(self) -> str:
        from multimodal.tiers import DEFAULT_ANSWERERS

        return self.config.answerer or DEFAULT_ANSWERERS[self.tier.tier]

    def encoder_options(self) -> EncoderOptions:
        return EncoderOptions(
            batch_size=self.config.batch_size,
            local_files_only=self.config.offline,
            cache_dir=self.config.resolved_cache_dir,
        )

    def vlm_options(self):
        from multimodal.vlm.hf_vlm import VlmOptions

        return VlmOptions(
            threshold=self.config.abstain_below,
            max_image_side=self.config.max_image_side,
            max_new_tokens=self.config.max_new_tokens,
        )

    def models(self) -> dict[str, str]:
        out = {"encoder": self.encoder.spec, "answerer": self.answerer().name, "text": self.text_embedder().name}
        if self.answerer_spec == "lite":
            tools = self.fact_tools()
            out.update({"ocr": tools.ocr.name, "faces": tools.faces.name, "tags": tools.tagger.name})
        return out


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


class LazyReader:
    """Loads a text reader (RapidOCR: about a second) on first use, so questions that need no OCR never pay."""

    def __init__(self, factory) -> None:
        self._factory = factory
        self._reader = None
        self.name = getattr(factory, "name", "ocr")

    def read(self, img):
        if self._reader is None:
            self._reader = self._factory()
        return self._reader.read(img)
