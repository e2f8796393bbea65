"""Embed many image inputs batch by batch, decoding the next batch while the model runs on this one.

Decoded images are the memory that matters (a 1-bit 8000x8000 PNG is 192 MB as RGB at full size), so at
most two batches are ever decoded at once: the one being embedded and the one being decoded ahead; the
images of a batch are dropped as soon as it is embedded. Failures are collected per input, never raised:
one bad file does not stop a batch. The request's deadline (:mod:`multimodal.deadline`) is checked
before each batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image

from multimodal.deadline import check_deadline
from multimodal.encoders.base import Encoder
from multimodal.errors import ConfigError, InvalidImageError
from multimodal.images import DEFAULT_LIMITS, ImageLimits, ImageSource, describe_source, load_image

#: Inputs per progress report.
DEFAULT_CHUNK = 64
#: Images decoded ahead and embedded together: at most two batches of decoded images exist at once.
DEFAULT_BATCH = 32

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class EmbeddedBatch:
    """``vectors[k]`` belongs to input ``indices[k]``; ``errors`` maps other input indices to a message."""

    vectors: np.ndarray
    indices: tuple[int, ...]
    errors: dict[int, str]


def prefetch_one(items: Iterable[T], work: Callable[[T], R], pool: Executor) -> Iterator[tuple[T, R]]:
    """``(item, work(item))`` for each item, in order, ``work`` running in ``pool`` one item ahead of the
    consumer. Items are pulled (in the consumer's thread) one at a time; the result handed out last is
    released when the next one is asked for, so at most two results exist at once (if the consumer keeps
    none)."""
    it = iter(items)
    item = next(it, _END)
    pending = pool.submit(work, item) if item is not _END else None
    while pending is not None:
        result = pending.result()
        current, item = item, next(it, _END)
        pending = pool.submit(work, item) if item is not _END else None
        yield current, result
        del result, current  # before the next result arrives: this batch's images go now


_END = object()


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
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> EmbeddedBatch:
    """Load and embed ``sources``, ``min(batch, chunk)`` images at a time; ``progress(n)`` after each chunk of
    ``chunk`` inputs with the number it finished. Peak decoded images: two batches."""
    if chunk < 1 or batch < 1:
        raise ConfigError(f"chunk and batch must be >= 1, got chunk={chunk}, batch={batch}")
    names = list(names) if names is not None else [describe_source(s) for s in sources]
    step = min(batch, chunk)
    # Batches never straddle a chunk, so progress still comes once per chunk.
    batches = [
        list(range(s, min(s + step, c + chunk, len(sources))))
        for c in range(0, len(sources), chunk)
        for s in range(c, min(c + chunk, len(sources)), step)
    ]
    vectors, indices, errors = [np.zeros((0, encoder.dim), np.float32)], [], {}
    finished = 0  # inputs of the current chunk done so far

    def decode(idx: list[int]):
        return _decode(sources, names, idx, limits, encoder.image_size)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sceneqa-decode") as pool:
        for idx, (ok, images, errs) in prefetch_one(batches, decode, pool):
            check_deadline("embedding images")
            if images:
                vectors.append(encoder.embed_images(images))
                indices.extend(ok)
            del images
            errors.update(errs)
            finished += len(idx)
            end = idx[-1] + 1
            if end % chunk == 0 or end == len(sources):
                if progress:
                    progress(finished)
                finished = 0
    return EmbeddedBatch(np.concatenate(vectors), tuple(indices), errors)
