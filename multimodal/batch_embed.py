"""Embed many image inputs in chunks, decoding the next chunk while the model runs on this one.

Failures are collected per input, never raised: one bad file does not stop a batch.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from multimodal.encoders.base import Encoder
from multimodal.errors import InvalidImageError
from multimodal.images import DEFAULT_LIMITS, ImageLimits, ImageSource, describe_source, load_image

DEFAULT_CHUNK = 64


@dataclass(frozen=True)
class EmbeddedBatch:
    """``vectors[k]`` belongs to input ``indices[k]``; ``errors`` maps other input indices to a message."""

    vectors: np.ndarray
    indices: tuple[int, ...]
    errors: dict[int, str]


def _decode(sources, names, idx, limits, draft) -> tuple[list[int], list[Image.Image], dict[int, str]]:
    ok, images, errors = [], [], {}
    for i in idx:
        try:
            images.append(load_image(sources[i], limits=limits, draft_size=draft, name=names[i]))
            ok.append(i)
        except InvalidImageError as exc:
            errors[i] = str(exc)
    return ok, images, errors


def embed_sources(
    encoder: Encoder,
    sources: Sequence[ImageSource],
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    names: Sequence[str] | None = None,
    chunk: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> EmbeddedBatch:
    """Load and embed ``sources``; ``progress(n)`` after each chunk with the inputs it finished."""
    names = list(names) if names is not None else [describe_source(s) for s in sources]
    chunks = [list(range(s, min(s + chunk, len(sources)))) for s in range(0, len(sources), chunk)]
    vectors, indices, errors = [np.zeros((0, encoder.dim), np.float32)], [], {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sceneqa-decode") as pool:
        pending = pool.submit(_decode, sources, names, chunks[0], limits, encoder.image_size) if chunks else None
        for n, idx in enumerate(chunks):
            ok, images, errs = pending.result()
            if n + 1 < len(chunks):
                pending = pool.submit(_decode, sources, names, chunks[n + 1], limits, encoder.image_size)
            if images:
                vectors.append(encoder.embed_images(images))
                indices.extend(ok)
            errors.update(errs)
            if progress:
                progress(len(idx))
    return EmbeddedBatch(np.concatenate(vectors), tuple(indices), errors)
