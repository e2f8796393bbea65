"""An :class:`~multimodal.encoders.base.Encoder` whose ``embed_images`` / ``embed_texts`` go through the
engine's batching workers, and the :class:`~multimodal.services.Services` built on it: the server hands
these to every handler, so classify, search, the zero-shot label cache, the ask pipeline's tagger and catalog
uploads all batch together. Every other attribute is the wrapped encoder's."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from multimodal.engine.engine import Engine
from multimodal.services import Services
from multimodal.zeroshot import ZeroShotClassifier


class BatchedEncoder:
    """Same spec, dim and scores as ``inner``; embeddings computed by ``engine``'s image and text workers
    (``float32 (n, dim)`` unit rows, input order, as the Encoder protocol says)."""

    def __init__(self, inner, engine: Engine) -> None:
        self._inner = inner
        self._engine = engine

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    @property
    def inner(self):
        return self._inner

    def embed_images(self, images: Sequence) -> np.ndarray:
        return self._engine.embed("image", images)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._engine.embed("text", texts)


def batched_services(services: Services, engine: Engine) -> Services:
    """``services`` with its encoder (and the zero-shot classifier over it) going through ``engine``. Models
    ``services`` already built (answerer, fact tools, text embedder) are shared, not built again."""
    encoder = BatchedEncoder(services.encoder, engine)
    zeroshot = ZeroShotClassifier(encoder, cache_dir=services.config.resolved_cache_dir)
    out = dataclasses.replace(services, encoder=encoder, zeroshot=zeroshot)
    for name in ("_text", "_facts", "_answerer"):
        if getattr(services, name).built:
            object.__setattr__(out, name, getattr(services, name))
    return out
