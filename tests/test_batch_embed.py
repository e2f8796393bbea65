"""Batched embedding with decode overlap: order kept, failures collected, progress reported, decoded images
bounded to two batches, deadlines checked between batches."""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pytest

from multimodal.deadline import Deadline, DeadlineExceeded, deadline_scope
from multimodal.errors import ConfigError
from multimodal.ingest import batch_embed
from multimodal.ingest.batch_embed import embed_sources
from tests.image_corpus import gradient, png_bytes


def test_order_failures_and_progress(tiny_services):
    enc = tiny_services.encoder
    good = [png_bytes(gradient(seed=s)) for s in range(5)]
    sources = [good[0], b"", good[1], b"junk", good[2], good[3], good[4]]
    ticks = []
    out = embed_sources(enc, sources, names=[f"s{i}" for i in range(7)], chunk=3, progress=ticks.append)
    assert out.indices == (0, 2, 4, 5, 6)
    assert set(out.errors) == {1, 3} and "s1: empty file" in out.errors[1]
    assert sum(ticks) == 7 and len(ticks) == 3
    direct = enc.embed_images([gradient(seed=s) for s in range(5)])
    np.testing.assert_allclose(out.vectors, direct, rtol=1e-4, atol=1e-5)


def test_nothing_to_do(tiny_services):
    out = embed_sources(tiny_services.encoder, [])
    assert out.vectors.shape == (0, tiny_services.encoder.dim) and out.indices == () and out.errors == {}


class LiveImages:
    """Wraps ``load_image``: counts decoded images still alive (weakref finalizers) and the peak."""

    def __init__(self, real) -> None:
        self.real, self.live, self.peak, self.decoded = real, 0, 0, 0
        self._lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        img = self.real(*args, **kwargs)
        with self._lock:
            self.live += 1
            self.decoded += 1
            self.peak = max(self.peak, self.live)
        weakref.finalize(img, self._gone)
        return img

    def _gone(self) -> None:
        with self._lock:
            self.live -= 1


def test_at_most_two_batches_are_decoded_at_once(tiny_services, monkeypatch):
    enc = tiny_services.encoder
    sources = [png_bytes(gradient(seed=s)) for s in range(24)]
    live = LiveImages(batch_embed.load_image)
    monkeypatch.setattr(batch_embed, "load_image", live)
    ticks = []
    out = embed_sources(enc, sources, chunk=12, batch=3, progress=ticks.append)
    assert live.decoded == 24 and 1 <= live.peak <= 2 * 3  # one batch embedded, one decoded ahead; not a chunk
    assert out.indices == tuple(range(24)) and ticks == [12, 12]
    np.testing.assert_allclose(out.vectors, enc.embed_images([gradient(seed=s) for s in range(24)]), atol=1e-5)


def test_a_passed_deadline_stops_between_batches(tiny_services):
    calls = []
    enc = tiny_services.encoder

    class Counting:
        dim, image_size = enc.dim, enc.image_size

        def embed_images(self, images):
            calls.append(len(images))
            return enc.embed_images(images)

    deadline = Deadline(60)
    sources = [png_bytes(gradient(seed=s)) for s in range(8)]
    with deadline_scope(deadline), pytest.raises(DeadlineExceeded, match="cancelled .*at embedding images"):
        embed_sources(Counting(), sources, chunk=2, batch=2, progress=lambda n: deadline.cancel())
    assert calls == [2]  # the first batch, then nothing
    with pytest.raises(ConfigError, match="chunk and batch must be >= 1"):
        embed_sources(enc, sources, batch=0)
