"""Concept tags for an image: which everyday things it shows, with a support score in [0, 1].

Two implementations behind one Protocol, chosen by tier in ``Services``:
- :class:`ClassifierTagger`: the lite tier's ImageNet classifier, read directly (its own class probabilities);
- :class:`ZeroShotTagger`: zero-shot over the 1,000-concept vocabulary with any image-text encoder.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from PIL import Image

from multimodal.encoders.imagenet import imagenet_names
from multimodal.zeroshot import ZeroShotClassifier, ZeroShotOptions, background_vocabulary


class Tagger(Protocol):
    name: str

    def tags(self, img: Image.Image, top: int = 5) -> list[tuple[str, float]]: ...


class ClassifierTagger:
    """Top ImageNet classes of the lite encoder's classifier (probability averaged over its views)."""

    name = "EfficientNet-Lite0 ImageNet classes"

    def __init__(self, lite_encoder) -> None:
        self._enc = lite_encoder

    def tags(self, img: Image.Image, top: int = 5) -> list[tuple[str, float]]:
        logits, _ = self._enc.classify_views([img])
        z = logits - logits.max(axis=-1, keepdims=True)
        p = (np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)).mean(axis=0)[0]
        names = imagenet_names()
        order = np.argsort(-p)[:top]
        return [(names[i], float(p[i])) for i in order]


class ZeroShotTagger:
    """Zero-shot over the everyday-concept vocabulary; scores are ``match`` (see zeroshot_scores)."""

    name = "zero-shot over 1,000 everyday concepts"

    def __init__(self, zeroshot: ZeroShotClassifier) -> None:
        self._zs = zeroshot

    def tags(self, img: Image.Image, top: int = 5) -> list[tuple[str, float]]:
        emb = self._zs.encoder.embed_images([img])
        res = self._zs.classify_embeddings(emb, background_vocabulary(), ZeroShotOptions(top_k=top))
        return [(s.label, s.match) for s in res[0].labels]
