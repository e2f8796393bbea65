"""The features a label set's head sees, computed in one pass with the joint-space embedding.

Feature kinds (:data:`FEATURE_KINDS`):

- ``embedding``: the encoder's own image embedding (every encoder; CLIP-family and tiny);
- ``lite-views``: for the ``lite`` encoder, its pooled visual features of the centre-crop and the padded
  (whole-object) views, each made unit length, and its ImageNet concept distribution, concatenated
  (``2 x 1280 + 1000`` dims, :func:`lite_view_features`). The joint-space embedding (needed for the
  zero-shot text blend) is formed from the same forward pass.

``flip=True`` also computes the features of the mirrored image: the examples' flips train the head
(augmentation), and a query's features are the mean of its two views (test-time augmentation). It doubles
the embedding time and measured within the seed-to-seed spread on fashion article types (README "Teach"),
so the default is off.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from multimodal.encoders.base import Encoder, l2_normalize
from multimodal.errors import ConfigError
from multimodal.images import DEFAULT_LIMITS, ImageLimits, ImageSource
from multimodal.ingest.batch_embed import embed_sources

FEATURE_KINDS = ("embedding", "lite-views")


@dataclass(frozen=True)
class FeatureSpec:
    """Which features (``kind``, one of :data:`FEATURE_KINDS`) and whether flipped views are used."""

    kind: str = "embedding"
    flip: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ConfigError(f"feature kind {self.kind!r} is not one of {', '.join(FEATURE_KINDS)}")

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "flip": self.flip}


def default_spec(encoder: Encoder) -> FeatureSpec:
    """``lite-views`` for an encoder that exposes its views (``lite``), else ``embedding``; no flips."""
    return FeatureSpec("lite-views" if _has_views(encoder) else "embedding", flip=False)


def _has_views(encoder: Encoder) -> bool:
    return callable(getattr(encoder, "classify_views", None)) and hasattr(encoder, "params")


@dataclass(frozen=True)
class Features:
    """``embedding`` ``(n, d)`` joint-space unit rows (for zero-shot), ``x`` ``(n, f)`` head features (unit
    rows), ``x_flip`` ``(n, f)`` of the mirrored images or ``None``; ``indices`` / ``errors`` as
    :class:`~multimodal.ingest.batch_embed.EmbeddedBatch` (input index -> one-line message)."""

    embedding: np.ndarray
    x: np.ndarray
    x_flip: np.ndarray | None
    indices: tuple[int, ...]
    errors: dict[int, str]

    def query(self) -> np.ndarray:
        """The features a query is classified with: the mean of its views, unit length."""
        return l2_normalize(self.x + self.x_flip) if self.x_flip is not None else self.x


class _ViewEncoder:
    """Looks like an encoder to :func:`embed_sources`; its rows are ``[embedding | x | x_flip]``."""

    def __init__(self, encoder: Encoder, spec: FeatureSpec) -> None:
        if spec.kind == "lite-views" and not _has_views(encoder):
            raise ConfigError(f"feature kind 'lite-views' needs the lite encoder, not {encoder.spec!r}")
        self.encoder, self.spec = encoder, spec
        self.image_size = encoder.image_size
        lite_dim = 2 * int(getattr(encoder, "visual_dim", 0)) + int(getattr(encoder, "num_concepts", 0))
        self.feature_dim = lite_dim if spec.kind == "lite-views" else encoder.dim
        self.dim = encoder.dim + self.feature_dim * (2 if spec.flip else 1)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        emb, x = self._one(images)
        parts = [emb, x]
        if self.spec.flip:
            parts.append(self._one([ImageOps.mirror(im) for im in images], embedding=False)[1])
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _one(self, images, embedding: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
        if self.spec.kind == "embedding":
            emb = self.encoder.embed_images(images)
            return emb, emb
        from multimodal.encoders.lite_space import image_concepts, join_image

        logits, feats = self.encoder.classify_views(images)  # (2, n, 1000), (2, n, 1280)
        p = self.encoder.params
        concepts = image_concepts(logits, p.image_temperature)
        x = lite_view_features(feats, concepts)
        if not embedding:
            return None, x
        # the lite encoder's own embed_images, from the same forward pass
        return join_image(concepts, feats.mean(axis=0), p.semantic_weight), x


#: Weight of the ImageNet concept block relative to each (unit) view block in ``lite-views`` features.
CONCEPT_WEIGHT = 0.7


def lite_view_features(feats: np.ndarray, concepts: np.ndarray, concept_weight: float = CONCEPT_WEIGHT) -> np.ndarray:
    """``(2, n, 1280)`` pooled crop / pad view features and ``(n, 1000)`` concept distributions -> ``(n, 3560)``
    unit rows: ``[unit crop | unit pad | concept_weight * unit concepts]``, then made unit length.

    Chosen on k-shot fashion article types (README "Teach"): the two views together beat either alone and
    the lite embedding; the concept block helps most at 1 shot."""
    blocks = [l2_normalize(feats[0]), l2_normalize(feats[1]), concept_weight * l2_normalize(concepts)]
    return l2_normalize(np.concatenate(blocks, axis=1))


def extract(
    encoder: Encoder,
    sources: Sequence[ImageSource],
    spec: FeatureSpec,
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    names: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Features:
    """Load every source and compute its features; a source that fails to load is reported in ``errors``."""
    view = _ViewEncoder(encoder, spec)
    batch = embed_sources(view, sources, limits=limits, names=names, progress=progress)
    d, f = encoder.dim, view.feature_dim
    v = batch.vectors
    return Features(
        embedding=v[:, :d],
        x=v[:, d : d + f],
        x_flip=v[:, d + f :] if spec.flip else None,
        indices=batch.indices,
        errors=batch.errors,
    )
