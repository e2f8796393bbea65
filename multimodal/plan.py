"""The tier plan: which implementation of every component a run uses, resolved once from the tier (and
``--encoder`` / ``--answerer``), before any model loads. Tiers are rows of :data:`TIER_COMPONENTS`; each kind
of component has one registry mapping a spec to its display name and its builder. Adding a tier or a backend
edits these tables, not :class:`multimodal.services.Services`. Reporting which models run reads the plan and
the registries' names and never loads a model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from multimodal.errors import ConfigError, UnknownNameError
from multimodal.tiers import DEFAULT_ANSWERERS, TierChoice

T = TypeVar("T")


@dataclass(frozen=True)
class Component(Generic[T]):
    """One registered implementation: the name shown to users, and how to build it (arguments per kind)."""

    name: str
    build: Callable[..., T]


class Registry(Generic[T]):
    """An explicit name -> :class:`Component` table; a duplicate name is an error, an unknown one lists the known."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Component[T]] = {}

    def register(self, spec: str, component: Component[T]) -> None:
        if spec in self._items:
            raise ConfigError(f"{self.kind} {spec!r} is registered twice")
        self._items[spec] = component

    def __getitem__(self, spec: str) -> Component[T]:
        if spec not in self._items:
            raise UnknownNameError(f"unknown {self.kind} {spec!r}. Available: {', '.join(sorted(self._items))}")
        return self._items[spec]

    def names(self) -> list[str]:
        return sorted(self._items)


def _minilm(runtime):
    from multimodal.ask.text_embed import MiniLMEmbedder

    return MiniLMEmbedder.load(runtime)


def _hashing(runtime):
    from multimodal.ask.text_embed import HashingEmbedder

    return HashingEmbedder()


def _rapidocr():
    from multimodal.ask.facts.ocr import RapidOcrReader

    return LazyReader(RapidOcrReader, RapidOcrReader.name)


def _no_ocr():
    from multimodal.ask.facts.ocr import NoTextReader

    return NoTextReader()


def _cascade():
    from multimodal.ask.facts.faces import CascadeFaceDetector

    return CascadeFaceDetector()


def _mtcnn():
    from multimodal.ask.facts.mtcnn import MtcnnFaceDetector

    return MtcnnFaceDetector.load()


def _no_faces():
    from multimodal.ask.facts.faces import NoFaceDetector

    return NoFaceDetector()


def _centernet():
    from multimodal.detect.centernet import load_centernet

    return LazyReader(load_centernet, "centernet", method="detect")


def _tiny_detector():
    from multimodal.detect.tiny import load_tiny_detector

    return load_tiny_detector()


def _no_detector():
    return None


def _classifier_tags(encoder, zeroshot):
    from multimodal.ask.facts.tags import ClassifierTagger

    return ClassifierTagger(encoder)


def _zeroshot_tags(encoder, zeroshot):
    from multimodal.ask.facts.tags import ZeroShotTagger

    return ZeroShotTagger(zeroshot)


TEXT_EMBEDDERS: Registry = Registry("text embedder")
TEXT_EMBEDDERS.register("minilm", Component("all-MiniLM-L6-v2 (packaged)", _minilm))
TEXT_EMBEDDERS.register("tiny:hashing", Component("hashing bag of words (tiny)", _hashing))

OCR_READERS: Registry = Registry("text reader")
OCR_READERS.register("rapidocr", Component("RapidOCR PP-OCRv4 (packaged ONNX)", _rapidocr))
OCR_READERS.register("none", Component("none (tiny)", _no_ocr))

FACE_DETECTORS: Registry = Registry("face detector")
FACE_DETECTORS.register("cascade", Component("skimage LBP frontal-face cascade", _cascade))
FACE_DETECTORS.register("mtcnn", Component("MTCNN (facenet-pytorch weights, packaged)", _mtcnn))
FACE_DETECTORS.register("none", Component("none (tiny)", _no_faces))

OBJECT_DETECTORS: Registry = Registry("object detector")
OBJECT_DETECTORS.register(
    "centernet", Component("CenterNet MobileNetV3, 80 COCO categories (packaged TF.js weights)", _centernet)
)
OBJECT_DETECTORS.register("tiny:centernet", Component("CenterNet code path, random weights (tiny)", _tiny_detector))
OBJECT_DETECTORS.register("none", Component("none", _no_detector))

TAGGERS: Registry = Registry("tagger")
TAGGERS.register("classifier", Component("EfficientNet-Lite0 ImageNet classes", _classifier_tags))
TAGGERS.register("zeroshot", Component("zero-shot over 1,000 everyday concepts", _zeroshot_tags))

#: Per tier, the spec of every component besides the encoder and the answerer (see ``tiers``). ``calibration``:
#: the lite answerer's confidence table (:func:`multimodal.ask.calibration.load_calibration`): the shipped one
#: was fitted on the lite tier's models; the full tier's facts have no fitted table (raw values, "no"/"0"
#: abstain); the tiny tier's random weights have nothing to calibrate (raw values).
TIER_COMPONENTS: dict[str, dict[str, str]] = {
    "full": {
        "text_embedder": "minilm",
        "ocr": "rapidocr",
        "faces": "mtcnn",
        "tagger": "zeroshot",
        "detector": "centernet",
        "calibration": "unfitted",
    },
    "lite": {
        "text_embedder": "minilm",
        "ocr": "rapidocr",
        "faces": "mtcnn",
        "tagger": "classifier",
        "detector": "centernet",
        "calibration": "shipped",
    },
    "tiny": {
        "text_embedder": "tiny:hashing",
        "ocr": "none",
        "faces": "none",
        "tagger": "zeroshot",
        "detector": "none",
        "calibration": "none",
    },
}


@dataclass(frozen=True)
class TierPlan:
    """The resolved plan: the tier (and why) and a spec for every component."""

    tier: str
    reason: str
    encoder: str
    answerer: str
    text_embedder: str
    ocr: str
    faces: str
    tagger: str
    calibration: str = "shipped"
    detector: str = "none"

    def __post_init__(self) -> None:
        for registry, spec in (
            (TEXT_EMBEDDERS, self.text_embedder),
            (OCR_READERS, self.ocr),
            (FACE_DETECTORS, self.faces),
            (TAGGERS, self.tagger),
            (OBJECT_DETECTORS, self.detector),
        ):
            registry[spec]  # noqa: B018 -- raises UnknownNameError listing the known specs

    @property
    def choice(self) -> TierChoice:
        return TierChoice(self.tier, self.encoder, self.reason)


def make_plan(choice: TierChoice, answerer: str | None = None) -> TierPlan:
    """The plan for a resolved tier; ``answerer`` (``--answerer``) replaces the tier's default answerer.
    Other components are changed with ``dataclasses.replace(plan, ocr="none")``."""
    if choice.tier not in TIER_COMPONENTS:
        raise ConfigError(f"no component plan for tier {choice.tier!r}; known: {', '.join(TIER_COMPONENTS)}")
    specs = TIER_COMPONENTS[choice.tier]
    return TierPlan(
        tier=choice.tier,
        reason=choice.reason,
        encoder=choice.encoder,
        answerer=answerer or DEFAULT_ANSWERERS[choice.tier],
        text_embedder=specs["text_embedder"],
        ocr=specs["ocr"],
        faces=specs["faces"],
        tagger=specs["tagger"],
        calibration=specs["calibration"],
        detector=specs["detector"],
    )


class LazyReader:
    """Loads a text reader (RapidOCR: about a second) on first use, so questions that need no OCR never pay."""

    def __init__(self, factory, name: str = "ocr", method: str = "read") -> None:
        self._factory = factory
        self._reader = None
        self.name = name
        self._method = method

    def _call(self, img):
        if self._reader is None:
            self._reader = self._factory()
        return getattr(self._reader, self._method)(img)

    def read(self, img):
        return self._call(img)

    def detect(self, img):
        return self._call(img)
