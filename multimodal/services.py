"""The :class:`Services` object built once in ``main()`` and handed to the CLI, the web app and eval.

It holds the resolved :class:`~multimodal.plan.TierPlan`, the runtime and the encoder; the models only the ask
pipeline needs (answerer, OCR, faces, tagger, sentence embedder) are typed lazy holders that build on first use,
once, under a lock (two requests never load a model twice). Which implementation each is comes from the plan's
registries; no tier is special-cased here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from multimodal.ask.answerers import Answerer, AnswererNeeds, answerer_name, create_answerer
from multimodal.encoders.base import Encoder, EncoderOptions, default_cache_dir
from multimodal.encoders.factory import create_encoder
from multimodal.errors import ConfigError
from multimodal.images import DEFAULT_LIMITS, ImageLimits
from multimodal.plan import (
    FACE_DETECTORS,
    OBJECT_DETECTORS,
    OCR_READERS,
    TAGGERS,
    TEXT_EMBEDDERS,
    TierPlan,
    make_plan,
)
from multimodal.runtime import Runtime, resolve_runtime
from multimodal.tiers import TierChoice, resolve_tier
from multimodal.zeroshot import ZeroShotClassifier

T = TypeVar("T")


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
    calibration: str | None = None  # the lite answerer's confidence table (None: the tier's); see load_calibration

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not 0.0 <= self.abstain_below <= 1.0:
            raise ConfigError(f"the abstention threshold must be in [0, 1], got {self.abstain_below}")

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else default_cache_dir()


class Lazy(Generic[T]):
    """A value built on first :meth:`get`, exactly once even when threads race for it."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None
        self._built = False

    @property
    def built(self) -> bool:
        return self._built

    def get(self) -> T:
        if not self._built:
            with self._lock:
                if not self._built:
                    self._value = self._build()
                    self._built = True
        return self._value  # type: ignore[return-value]


@dataclass(frozen=True)
class Services:
    """Loaded, ready-to-use models and the plan that chose them."""

    config: ServiceConfig
    plan: TierPlan
    runtime: Runtime
    encoder: Encoder
    zeroshot: ZeroShotClassifier
    _text: Lazy = field(init=False, repr=False, compare=False)
    _facts: Lazy = field(init=False, repr=False, compare=False)
    _answerer: Lazy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_text", Lazy(lambda: TEXT_EMBEDDERS[self.plan.text_embedder].build(self.runtime)))
        object.__setattr__(self, "_facts", Lazy(self._build_fact_tools))
        object.__setattr__(self, "_answerer", Lazy(lambda: create_answerer(self.plan.answerer, self.answerer_needs())))

    @property
    def tier(self) -> TierChoice:
        """The resolved tier, its encoder spec and why."""
        return self.plan.choice

    @property
    def answerer_spec(self) -> str:
        return self.plan.answerer

    def text_embedder(self):
        """Sentence embedder for context relevance (the plan's ``text_embedder``)."""
        return self._text.get()

    def fact_tools(self):
        """The scene-fact tools (OCR, faces, tagger, zero-shot) of the plan."""
        return self._facts.get()

    def answerer(self) -> Answerer:
        """The plan's answerer (``--answerer``, else the tier's default)."""
        return self._answerer.get()

    def encoder_options(self) -> EncoderOptions:
        return EncoderOptions(
            batch_size=self.config.batch_size,
            local_files_only=self.config.offline,
            cache_dir=self.config.resolved_cache_dir,
        )

    def vlm_options(self):
        from multimodal.ask.vlm.hf_vlm import VlmOptions

        return VlmOptions(
            threshold=self.config.abstain_below,
            max_image_side=self.config.max_image_side,
            max_new_tokens=self.config.max_new_tokens,
        )

    def models(self) -> dict[str, str]:
        """Which models run, by role, read from the plan: loads nothing."""
        plan = self.plan
        out = {
            "encoder": self.encoder.spec,
            "answerer": answerer_name(plan.answerer),
            "text": TEXT_EMBEDDERS[plan.text_embedder].name,
        }
        if plan.answerer.strip() == "lite":
            out.update(
                {
                    "ocr": OCR_READERS[plan.ocr].name,
                    "faces": FACE_DETECTORS[plan.faces].name,
                    "detector": OBJECT_DETECTORS[plan.detector].name,
                    "tags": TAGGERS[plan.tagger].name,
                }
            )
        return out

    def answerer_needs(self) -> AnswererNeeds:
        return AnswererNeeds(
            runtime=self.runtime,
            encoder_options=self.encoder_options(),
            vlm_options=self.vlm_options(),
            threshold=self.config.abstain_below,
            fact_tools=self.fact_tools,
            calibration=self.config.calibration or self.plan.calibration,
        )

    def _build_fact_tools(self):
        from multimodal.ask.scene_facts import FactTools

        plan = self.plan
        return FactTools(
            zeroshot=self.zeroshot,
            faces=FACE_DETECTORS[plan.faces].build(),
            ocr=OCR_READERS[plan.ocr].build(),
            tagger=TAGGERS[plan.tagger].build(self.encoder, self.zeroshot),
            regions=_region_classifier(self.encoder),
            detector=OBJECT_DETECTORS[plan.detector].build(),
        )


def _region_classifier(encoder):
    """The encoder's ImageNet classifier over regions where it has one (lite), else ``None``."""
    if not callable(getattr(encoder, "class_probabilities", None)):
        return None
    from multimodal.ask.facts.regions import ImageNetRegions

    return ImageNetRegions(encoder)


def build_services(config: ServiceConfig, *, tier: TierChoice | None = None) -> Services:
    """Resolve tier, plan and runtime, load the encoder. ``tier`` may be pre-resolved (tests, the web app)."""
    choice = tier or resolve_tier(config.tier, config.encoder, offline=config.offline)
    plan = make_plan(choice, config.answerer)
    runtime = resolve_runtime(config.device, config.precision)
    options = EncoderOptions(
        batch_size=config.batch_size, local_files_only=config.offline, cache_dir=config.resolved_cache_dir
    )
    encoder = create_encoder(plan.encoder, runtime, options)
    zeroshot = ZeroShotClassifier(encoder, cache_dir=config.resolved_cache_dir)
    return Services(config=config, plan=plan, runtime=runtime, encoder=encoder, zeroshot=zeroshot)
