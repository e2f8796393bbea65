"""Naming non-image payloads from their first bytes."""

from __future__ import annotations

import pytest

from multimodal.images.sniff import describe_payload


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"%PDF-1.7 ...", "a PDF document"),
        (b"\x00\x00\x00\x18ftypheic....", "a HEIC photo"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "a WAV audio file"),
        (b"\xef\xbb\xbf<svg width='1'>", "an SVG drawing"),
        (b'{"a": 1}', "JSON text"),
        (b"hello world\n", "text"),
        (b"SQLite format 3\x00....", "an SQLite database"),
    ],
)
def test_known_payloads(head, what):
    assert describe_payload(head).startswith(what)


def test_binary_noise_is_unknown():
    assert describe_payload(bytes(range(256))) is None
    assert describe_payload(b"") is None
