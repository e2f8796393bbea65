"""Generators of bad and unusual image files for the loader tests (seeded, written with PIL or by hand)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()


def gradient(w: int = 96, h: int = 64, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None, None]
    arr = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2) + rng.normal(0, 3, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width x height`` RGB pixels (a decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def exif_rotated_jpeg(orientation: int = 6) -> bytes:
    """A 60x20 JPEG (red left half, blue right half) with an EXIF orientation tag."""
    img = Image.new("RGB", (60, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 30, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return jpeg_bytes(img, exif=exif.tobytes(), quality=95)


def corrupt_exif_jpeg() -> bytes:
    """A JPEG whose APP1 EXIF segment holds garbage after the Exif header."""
    good = jpeg_bytes(gradient(), quality=90)
    payload = b"Exif\x00\x00" + b"II*\x00\xff\xff\xff\x7f" + b"\x13" * 40
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return good[:2] + app1 + good[2:]


def cmyk_jpeg() -> bytes:
    return jpeg_bytes(Image.new("CMYK", (32, 32), (0, 255, 255, 0)))  # pure red in CMYK


def gray16_png() -> bytes:
    arr = np.zeros((8, 16), np.uint16)
    arr[:, :8] = 65535
    arr[:, 8:] = 32768
    return png_bytes(Image.fromarray(arr))


def palette_transparent_png() -> bytes:
    img = Image.new("P", (16, 16), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (8, 0, 16, 16))
    return png_bytes(img, transparency=0)  # left half transparent, right half red


def la_png() -> bytes:
    img = Image.new("LA", (16, 16), (0, 0))  # fully transparent black
    img.paste((0, 255), (8, 0, 16, 16))  # right half opaque black
    return png_bytes(img)


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (24, 24), c) for c in ((0, 200, 0), (200, 0, 0), (0, 0, 200))]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def other_format(fmt: str) -> bytes:
    buf = io.BytesIO()
    gradient(32, 32).save(buf, fmt)
    return buf.getvalue()


def minimal_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
HTML = b"<!DOCTYPE html><html><head><title>x</title></head><body>not an image</body></html>"
TEXT = b"inspection log\nvalve 3: seal intact\n"


def gray_jpeg() -> bytes:
    return jpeg_bytes(gradient().convert("L"), quality=90)


def big_png(side: int = 900) -> bytes:
    """A valid PNG over 1 MB (noise does not compress)."""
    rng = np.random.default_rng(1)
    return png_bytes(Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)))


def strip_png() -> bytes:
    return png_bytes(Image.new("RGB", (1, 100_000), (10, 20, 30)))


def entry_point_corpus() -> list[tuple[str, str, bytes, str | None]]:
    """(kind, file name, bytes, expected error fragment or None for a valid image): 24 kinds, used through
    the CLI, the HTTP API and the Gradio handlers with a 1 MB byte cap."""
    return [
        ("zero-byte", "empty.jpg", b"", "empty"),
        ("text renamed .jpg", "notes.jpg", TEXT, "not an image"),
        ("HTML renamed .jpg", "page.jpg", HTML, "not an image"),
        ("PDF renamed .png", "doc.png", minimal_pdf(), "not an image"),
        ("SVG", "logo.svg.png", SVG, "not an image"),
        ("truncated JPEG", "cut.jpg", jpeg_bytes(gradient(200, 150), quality=95)[:1500], "truncated"),
        ("truncated PNG", "cut.png", png_bytes(gradient(200, 150))[:400], "corrupt"),
        ("decompression bomb PNG", "bomb.png", png_with_declared_size(9000, 9000), "pixel limit"),
        ("30000x30000 declared", "huge.png", png_with_declared_size(30000, 30000), "pixel limit"),
        ("1x100000 strip", "strip.png", strip_png(), "side over"),
        ("over the byte cap", "big.png", big_png(), "limit"),
        ("unsupported format (ICO)", "icon.ico", other_format("ICO"), "not a recognised image"),
        ("unsupported format (PCX)", "old.pcx", other_format("PCX"), "not a recognised image"),
        ("random bytes", "noise.jpg", bytes(range(256)) * 8, "not a recognised image"),
        ("animated GIF", "anim.gif", animated("GIF"), None),
        ("animated WebP", "anim.webp", animated("WEBP"), None),
        ("APNG", "anim.png", animated("PNG"), None),
        ("CMYK JPEG", "cmyk.jpg", cmyk_jpeg(), None),
        ("16-bit PNG", "deep.png", gray16_png(), None),
        ("palette with transparency", "pal.png", palette_transparent_png(), None),
        ("LA", "la.png", la_png(), None),
        ("EXIF-rotated JPEG", "rotated.jpg", exif_rotated_jpeg(6), None),
        ("corrupt EXIF", "badexif.jpg", corrupt_exif_jpeg(), None),
        ("grayscale JPEG", "gray.jpg", gray_jpeg(), None),
    ]
