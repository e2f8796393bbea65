"""The ``lite`` encoder's joint space, as pure numpy functions.

Images and texts meet in an *ImageNet concept space* (1,000 dimensions, one per ImageNet class):

- an image becomes the class distribution ``p`` of a pretrained ImageNet classifier (softmax of logits at
  temperature ``image_temperature``, averaged over views);
- a text becomes a distribution ``q`` over the same classes: the softmax, at temperature
  ``concept_temperature``, of the sentence-embedding cosine between the text and each class's
  description (WordNet gloss) — which ImageNet concepts the text talks about;
- both are L2-normalised, so their dot product is a cosine.

This is ConSE (Norouzi et al., 2014) turned around: instead of projecting the image's classes into the
text space, the text is projected into the classes, which keeps fine visual concepts apart that a
sentence embedder blurs. Image vectors carry, in a second block, the classifier's pooled visual features
so that image-to-image similarity also sees colour, texture and shape; text vectors are zero there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multimodal.encoders.base import l2_normalize
from multimodal.errors import ConfigError


@dataclass(frozen=True)
class LiteSpaceParams:
    """Temperatures and block weight of the lite space.

    image_temperature: divides classifier logits before the softmax (> 1 spreads mass to runner-up classes).
    concept_temperature: softmax temperature over text-to-class-description cosines.
    semantic_weight: share (0..1] of an image vector's squared norm given to the concept block; the rest
        goes to the visual-feature block. Text-to-image cosines are scaled by ``sqrt(semantic_weight)``.

    The defaults were chosen on zero-shot article-type accuracy of a 2,000-product fashion catalog
    (see README "Results"); they are not tuned per dataset.
    """

    image_temperature: float = 1.5
    concept_temperature: float = 0.03
    semantic_weight: float = 0.5

    def __post_init__(self) -> None:
        if self.image_temperature <= 0 or self.concept_temperature <= 0:
            raise ConfigError("lite temperatures must be positive")
        if not 0.0 < self.semantic_weight <= 1.0:
            raise ConfigError(f"semantic_weight must be in (0, 1], got {self.semantic_weight}")


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def image_concepts(view_logits: np.ndarray, temperature: float) -> np.ndarray:
    """``(views, n, classes)`` logits -> ``(n, classes)`` class distribution averaged over views."""
    return softmax(np.asarray(view_logits, np.float64) / temperature, axis=-1).mean(axis=0)


def text_concepts(text_emb: np.ndarray, concept_emb: np.ndarray, temperature: float) -> np.ndarray:
    """``(m, d)`` unit text embeddings x ``(classes, d)`` unit class descriptions -> ``(m, classes)``."""
    return softmax(np.asarray(text_emb, np.float64) @ np.asarray(concept_emb, np.float64).T / temperature, axis=-1)


def join_image(concepts: np.ndarray, visual: np.ndarray, semantic_weight: float) -> np.ndarray:
    """Concatenate the weighted unit concept block and unit visual block: unit rows, float32."""
    a = np.sqrt(semantic_weight) * l2_normalize(concepts)
    b = np.sqrt(1.0 - semantic_weight) * l2_normalize(visual)
    return l2_normalize(np.concatenate([a, b], axis=1))


def join_text(concepts: np.ndarray, visual_dim: int) -> np.ndarray:
    """Unit concept block followed by zeros in the visual block: unit rows, float32."""
    zeros = np.zeros((concepts.shape[0], visual_dim), np.float32)
    return l2_normalize(np.concatenate([l2_normalize(concepts), zeros], axis=1))
