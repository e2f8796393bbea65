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
from multimodal.ask.facts.tags import Tagger
from multimodal.deadline import check_deadline
from multimodal.zeroshot import ZeroShotClassifier, ZeroShotOptions


@dataclass(frozen=True)
class FactTools:
    """The models scene facts use; each has a tiny twin."""

    zeroshot: ZeroShotClassifier
    faces: FaceDetector
    ocr: TextReader
    tagger: Tagger


class SceneFacts:
    """Facts about image number ``n`` (1-based), each computed on first use."""

    def __init__(self, img: Image.Image, n: int, tools: FactTools) -> None:
        self.img = img
        self.n = n
        self.tools = tools

    def cite(self, suffix: str, text: str, score: float, kind: str = "image") -> Evidence:
        """The evidence for one fact about this image (pure: the answer that uses it carries it)."""
        return Evidence(kind, f"image:{self.n}#{suffix}" if suffix else f"image:{self.n}", text, float(score))

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
    def tags(self) -> list[tuple[str, float]]:
        """Everyday concepts the image shows, best first, with a support score in [0, 1]."""
        check_deadline("image facts: tags")
        return self.tools.tagger.tags(self.img)

    def match(self, label: str) -> float:
        """How strongly the image supports ``label`` on its own (zero-shot ``match``, 0..1)."""
        res = self.tools.zeroshot.classify_embeddings(self.embedding, [label], ZeroShotOptions(multi_label=True))
        return res[0].labels[0].match
