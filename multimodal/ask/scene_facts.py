"""Scene facts about one image, computed lazily (only what a question needs) and turned into evidence."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

from multimodal.ask.answers import Evidence
from multimodal.ask.facts.colours import dominant_colours
from multimodal.ask.facts.faces import Box, FaceDetector
from multimodal.ask.facts.objects import ObjectFact, find_objects
from multimodal.ask.facts.ocr import TextLine, TextReader
from multimodal.ask.facts.regions import (
    ConceptSignals,
    RegionClassifier,
    RegionProbs,
    classify_regions,
    concept_signals,
)
from multimodal.ask.facts.tags import Tagger
from multimodal.deadline import check_deadline
from multimodal.detect.base import Detection, ObjectDetector
from multimodal.zeroshot import ZeroShotClassifier, ZeroShotOptions


@dataclass(frozen=True)
class FactTools:
    """The models scene facts use; each has a tiny twin. ``regions``: an ImageNet classifier over regions (lite);
    ``None`` where the tier has none (everyday nouns then go through zero-shot ``match``). ``detector``: a
    COCO object detector (lite, full), ``None`` in tiny."""

    zeroshot: ZeroShotClassifier
    faces: FaceDetector
    ocr: TextReader
    tagger: Tagger
    regions: RegionClassifier | None = None
    detector: ObjectDetector | None = None


class SceneFacts:
    """Facts about image number ``n`` (1-based), each computed on first use."""

    def __init__(self, img: Image.Image, n: int, tools: FactTools) -> None:
        self.img = img
        self.n = n
        self.tools = tools

    def cite(self, suffix: str, text: str, score: float, kind: str = "image", boxes=()) -> Evidence:
        """The evidence for one fact about this image (pure: the answer that uses it carries it); ``boxes``:
        where in the image it lies, ``(left, top, right, bottom)`` pixels."""
        locator = f"image:{self.n}#{suffix}" if suffix else f"image:{self.n}"
        return Evidence(kind, locator, text, float(score), tuple(tuple(int(v) for v in b) for b in boxes))

    @cached_property
    def objects(self) -> list[ObjectFact]:
        check_deadline("image facts: objects")
        return find_objects(self.img)

    @cached_property
    def colours(self) -> list[tuple[str, float]]:
        check_deadline("image facts: colours")
        arr = np.asarray(self.img.convert("RGB").resize((96, 96)))
        return dominant_colours(arr.reshape(-1, 3))

    @cached_property
    def faces(self) -> list[Box]:
        check_deadline("image facts: faces")
        return self.tools.faces.detect(self.img)

    @cached_property
    def text(self) -> list[TextLine]:
        check_deadline("image facts: text")
        return self.tools.ocr.read(self.img)

    @cached_property
    def embedding(self) -> np.ndarray:
        check_deadline("image facts: embedding")
        return self.tools.zeroshot.encoder.embed_images([self.img])

    @cached_property
    def detections(self) -> list[Detection] | None:
        """COCO objects found, best first (``None`` without a detector)."""
        if self.tools.detector is None:
            return None
        check_deadline("image facts: objects detected")
        return self.tools.detector.detect(self.img)

    @cached_property
    def tags(self) -> list[tuple[str, float]]:
        """Everyday concepts the image shows, best first, with a support score in [0, 1]."""
        check_deadline("image facts: tags")
        return self.tools.tagger.tags(self.img)

    @cached_property
    def regions(self) -> RegionProbs | None:
        """ImageNet class probabilities over the whole image and 12 regions (``None`` without a classifier)."""
        if self.tools.regions is None:
            return None
        check_deadline("image facts: regions")
        cached = getattr(self.tools.regions, "regions", None)  # ImageNetRegions keeps recent images' regions
        return cached(self.img) if cached is not None else classify_regions(self.img, self.tools.regions)

    def concept(self, classes: tuple[int, ...]) -> ConceptSignals | None:
        """The presence signals of ImageNet classes ``classes`` here (``None`` without a region classifier)."""
        rp = self.regions
        return concept_signals(rp, classes) if rp is not None and classes else None

    def match(self, label: str) -> float:
        """How strongly the image supports ``label`` on its own (zero-shot ``match``, 0..1)."""
        res = self.tools.zeroshot.classify_embeddings(self.embedding, [label], ZeroShotOptions(multi_label=True))
        return res[0].labels[0].match
