"""Sentence embedders for text relevance (attached records vs a question), behind one Protocol.

``minilm``: the packaged all-MiniLM-L6-v2 (every tier can use it: it ships in a pip package).
``hashing``: the tiny twin, a deterministic feature-hashing bag of words (no weights).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from multimodal.encoders.base import l2_normalize
from multimodal.runtime import Runtime


class TextEmbedder(Protocol):
    """``embed(texts)`` -> float32 ``(n, dim)`` unit rows."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class MiniLMEmbedder:
    name = "all-MiniLM-L6-v2 (packaged)"

    def __init__(self, tokenizer, model, batch_size: int = 64, cache_size: int = 20_000) -> None:
        self._tokenizer = tokenizer
        self._model = model
        self._batch = batch_size
        self._cache: dict[str, np.ndarray] = {}  # insertion-ordered: the oldest entries are evicted first
        self._cache_size = cache_size

    @classmethod
    def load(cls, runtime: Runtime) -> MiniLMEmbedder:
        from multimodal.encoders.lite_parts import load_text_model

        tokenizer, model = load_text_model()
        return cls(tokenizer, model.to(runtime.device, runtime.torch_dtype))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``; lines seen recently (the same log asked about again) come from a cache."""
        from multimodal.encoders.lite_parts import embed_sentences

        if not texts:
            return np.zeros((0, 384), np.float32)
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vec in zip(missing, embed_sentences(self._tokenizer, self._model, missing, self._batch)):
                self._cache[text] = vec
            while len(self._cache) > self._cache_size:
                self._cache.pop(next(iter(self._cache)))
        return np.stack([self._cache[t] for t in texts])


class HashingEmbedder:
    """Word unigrams and bigrams hashed into ``dim`` buckets (signed), L2-normalised. Deterministic."""

    name = "hashing bag of words (tiny)"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            for gram in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return l2_normalize(out)
