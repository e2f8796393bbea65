"""Chunked embedding with decode overlap: order kept, failures collected, progress reported."""

from __future__ import annotations

import numpy as np

from multimodal.batch_embed import embed_sources
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
