"""Per-request caps in the library: context bytes and chunks, context embedding cost, declared pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from multimodal.ask.context_files import (
    MAX_CHUNKS,
    MAX_CONTEXT_BYTES,
    ContextError,
    load_context_bytes,
    load_context_file,
    load_context_text,
)
from multimodal.ask.context_select import MAX_EMBED, select_chunks, to_evidence
from multimodal.ask.text_embed import HashingEmbedder
from multimodal.errors import ConfigError, ImageTooLargeError
from multimodal.images import check_pixel_budget, declared_pixels
from tests import image_corpus as corpus


class CountingEmbedder:
    """HashingEmbedder that records how many texts each call asked for."""

    name = "counting"

    def __init__(self) -> None:
        self._inner = HashingEmbedder()
        self.calls: list[int] = []

    def embed(self, texts):
        self.calls.append(len(texts))
        return self._inner.embed(texts)


def plant_log(lines: int = 8000, needle_at: int = 5123) -> str:
    """About 75 bytes a line of routine readings, with one line about valve 3 at 1-based line ``needle_at``."""
    out = [
        f"2026-03-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} pump {i % 37} pressure nominal "
        f"flow {i * 7 % 1000} l/min temperature {40 + i % 9} C"
        for i in range(lines)
    ]
    out[needle_at - 1] = "2026-03-01T14:13:07 valve 3 inspected: seal cracked, leak found, replace before restart"
    return "\n".join(out) + "\n"


# ---- S5: the cost of attached context is bounded ---------------------------------------------------------


def test_a_600_kb_log_embeds_a_bounded_number_of_texts_and_still_finds_the_line():
    data = plant_log().encode()
    assert 550_000 < len(data) < 700_000
    chunks = load_context_bytes(data, "plant.log")
    assert len(chunks) == 8000
    embedder = CountingEmbedder()
    sel = select_chunks("is the seal on valve 3 intact?", chunks, embedder)
    assert sum(embedder.calls) <= MAX_EMBED + 1  # the question and at most MAX_EMBED chunks, whatever the size
    assert to_evidence(sel)[0].locator == "plant.log:L5123"
    assert sel.total == 8000 and "context truncated" in sel.notice


def test_fewer_embedded_candidates_keep_the_answer_and_the_bound():
    chunks = load_context_text(plant_log(2000, needle_at=1500), "plant.log")
    embedder = CountingEmbedder()
    sel = select_chunks("valve 3 seal", chunks, embedder, max_embed=16)
    assert embedder.calls == [17]
    assert to_evidence(sel)[0].locator == "plant.log:L1500"
    nothing = CountingEmbedder()  # no keyword matches: an even sample of the context, still bounded
    sel = select_chunks("zebra giraffe", chunks, nothing, max_embed=16)
    assert nothing.calls == [17] and 0 < len(sel.chunks) <= 12


def test_chunks_past_the_cap_are_not_read_and_the_notice_says_so():
    text = "\n".join(f"reading {i} nominal" for i in range(150)) + "\nvalve 3 seal cracked\n"
    chunks = load_context_text(text, "plant.log", max_chunks=100)
    assert len(chunks) == 101  # one past the cap: the selection knows the source went on
    sel = select_chunks("valve 3 seal", chunks, HashingEmbedder(), max_read=100)
    assert "at least 101 chunks" in sel.notice and "over the 100-chunk cap per question (MAX_CHUNKS)" in sel.notice
    assert "only the first 100 were searched" in sel.notice
    assert all(c.line_start <= 100 for c in sel.chunks)  # the line past the cap was never searched
    big = load_context_bytes(b"x\n" * (MAX_CHUNKS + 5000), "big.log")
    assert len(big) == MAX_CHUNKS + 1
    md = load_context_bytes(b"para\n\n" * 30, "n.md", max_chunks=10)
    rows = load_context_bytes(b"a,b\n" + b"1,2\n" * 30, "r.csv", max_chunks=10)
    jl = load_context_bytes(b'{"a": 1}\n' * 30, "r.jsonl", max_chunks=10)
    assert len(md) == len(rows) == len(jl) == 11


def test_context_bytes_and_text_are_capped_like_files(tmp_path):
    msg = (
        r"context big\.log: 6\.0 MB is over the 5\.0 MB limit for attached context "
        r"\(6,291,456 > 5,242,880 bytes, MAX_CONTEXT_BYTES\); attach only the part"
    )
    assert MAX_CONTEXT_BYTES == 5 * 2**20
    with pytest.raises(ContextError, match=msg):
        load_context_bytes(b"x" * (6 * 2**20), "big.log")
    with pytest.raises(ContextError, match=r"context pasted: 5\.7 MB is over the 5\.0 MB limit"):
        load_context_text("\u00e9" * 3_000_000)  # 3 M characters, 6,000,000 bytes of UTF-8
    with pytest.raises(ContextError, match=r"context notes: 0\.0 MB is over the 0\.0 MB limit .*\(1,001 > 1,000 bytes"):
        load_context_text("y" * 1001, "notes", max_bytes=1000)
    assert len(load_context_text("y" * 1000, max_bytes=1000)) == 1
    assert len(load_context_bytes(b"ok\n" * 10, "a.log", max_bytes=30)) == 10
    path = tmp_path / "f.log"
    path.write_bytes(b"z" * 2000)
    with pytest.raises(ContextError, match=r"context file .*f\.log: 0\.0 MB is over the 0\.0 MB limit"):
        load_context_file(path, max_bytes=1000)


# ---- C1: decoded pixels per request ----------------------------------------------------------------------


def bilevel_png(side: int) -> bytes:
    arr = np.zeros((side, side), bool)
    arr[::50, :] = True
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def test_declared_pixels_reads_headers_only(tmp_path, monkeypatch):
    png = bilevel_png(4000)
    path = tmp_path / "b.png"
    path.write_bytes(png)
    fh = io.BytesIO(b"junk" + png)
    fh.seek(4)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded pixels"))
    assert declared_pixels(png) == declared_pixels(path) == declared_pixels(str(path)) == 16_000_000
    assert declared_pixels(fh) == 16_000_000 and fh.tell() == 4  # the stream is put back
    assert declared_pixels(corpus.png_with_declared_size(30000, 30000)) == 900_000_000  # past Pillow's own guard
    assert declared_pixels(Image.new("L", (30, 20))) == 600
    assert declared_pixels(np.zeros((20, 30, 3), np.uint8)) == declared_pixels(np.zeros((3, 20, 30))) == 600
    assert declared_pixels(b"not an image") is None and declared_pixels(tmp_path / "none.png") is None
    assert declared_pixels(corpus.other_format("PCX")) is None  # outside the accepted formats


def test_pixel_budget_refuses_a_request_before_decoding(monkeypatch):
    four = [bilevel_png(4000)] * 4
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded pixels"))
    msg = (
        r"4 images declare 64\.0 MP in all \(largest: a\.png 16\.0 MP, b\.png 16\.0 MP, c\.png 16\.0 MP\), "
        r"over the 40 MP budget for one request, refused before decoding; send fewer images or downscale"
    )
    with pytest.raises(ImageTooLargeError, match=msg):
        check_pixel_budget(four, 40, names=["a.png", "b.png", "c.png", "d.png"])
    assert check_pixel_budget(four, 64) == 64_000_000
    assert check_pixel_budget([b"junk", four[0]], 20) == 16_000_000  # unreadable headers: load_image refuses them
    with pytest.raises(ConfigError, match="pixel budget must be positive"):
        check_pixel_budget(four, 0)
