"""Safe image loading: the one function every entry point uses to turn user input into an RGB image.

``load_image`` accepts a path, bytes, a binary file object, a PIL image or a numpy array and returns a
loaded 8-bit RGB :class:`PIL.Image.Image`. It refuses, with :class:`InvalidImageError` (or its subclass
:class:`ImageTooLargeError`) naming the input and the limit: empty files, files over the byte cap,
non-images, formats outside :data:`ACCEPTED_FORMATS`, truncated/corrupt data, decompression bombs (the
pixel cap is checked from the header, *before* any pixel is decoded) and absurd dimensions.

It applies EXIF orientation, converts every colour mode to RGB (alpha on white, see ``multimodal.images.modes``),
takes the first frame of animations and, when ``draft_size`` is given, lets libjpeg decode large JPEGs
at 1/2, 1/4 or 1/8 scale (never below ``draft_size`` on the short side): a 12 MP JPEG decodes about 5x
faster, which matters on a 2-core machine where decoding costs more than a ViT-B/32 forward pass. Other
formats cannot be decoded at reduced scale; when their short side is at least 4x ``draft_size`` they are
box-reduced by an integer factor *in their own mode*, band by band, before the RGB conversion (keeping the
short side at least 2x ``draft_size``): a 1-bit 8000x8000 PNG then never becomes a 192 MB RGB image.

For a request carrying several images, :func:`check_pixel_budget` sums the sizes their headers declare
(:func:`declared_pixels`, nothing decoded) and refuses the lot when it is over a budget.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from multimodal.errors import ConfigError, DependencyError, ImageTooLargeError, InvalidImageError
from multimodal.images.modes import array_to_rgb, to_rgb
from multimodal.images.sniff import describe_payload

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO | Image.Image | np.ndarray

#: Pillow decoders we allow. Anything else (EPS, PSD, ICO, PCX, ...) is refused without being parsed.
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF")

#: Pillow releases before this miss security fixes in decoders we use.
MIN_PILLOW = (12, 3)

_MB = 1024 * 1024


@dataclass(frozen=True)
class ImageLimits:
    """Caps applied before decoding. Units: bytes, pixels (width*height), pixels per side, ratio."""

    max_bytes: int = 50 * _MB
    max_pixels: int = 64_000_000
    max_side: int = 20_000
    max_aspect: float = 50.0

    def __post_init__(self) -> None:
        for field in ("max_bytes", "max_pixels", "max_side"):
            if getattr(self, field) <= 0:
                raise ConfigError(f"ImageLimits.{field} must be positive, got {getattr(self, field)}")
        if self.max_aspect < 1.0:
            raise ConfigError(f"ImageLimits.max_aspect must be >= 1, got {self.max_aspect}")


DEFAULT_LIMITS = ImageLimits()

# Errors Pillow raises for corrupt data while parsing headers or decoding pixels.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


def load_image(
    src: ImageSource,
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    draft_size: int | None = None,
    name: str | None = None,
) -> Image.Image:
    """Load ``src`` as a decoded 8-bit RGB image.

    Args:
        src: a filesystem path, raw bytes, a binary file object, a PIL image or a numpy array.
        limits: byte, pixel and dimension caps (:class:`ImageLimits`).
        draft_size: short-side pixels the caller needs (e.g. 224 for a CLIP encoder); large JPEGs are
            then decoded at a reduced scale that still covers it. ``None`` decodes full size.
        name: how to call the input in error messages (defaults to the path or ``"<bytes>"``).

    Returns:
        A loaded PIL image in mode ``RGB``, EXIF orientation applied, first frame of an animation.

    Raises:
        InvalidImageError: empty, missing, not an image, unsupported format, truncated or corrupt.
        ImageTooLargeError: over ``limits`` (checked before pixels are decoded).
    """
    check_pillow()
    label = name or describe_source(src)
    if isinstance(src, Image.Image):
        _check_dimensions(src.size, label, limits)
        return _finish(src, label)
    if isinstance(src, np.ndarray):
        if src.ndim >= 2:
            _check_dimensions((int(src.shape[1]), int(src.shape[0])), label, limits)
        return array_to_rgb(src, label)
    data = read_source_bytes(src, label, limits)
    return _decode(data, label, limits, draft_size)


def declared_pixels(src: ImageSource) -> int | None:
    """Width x height that ``src`` declares, read from its header only (no pixel is decoded; a file is not
    read past its header; a file object is put back where it was).

    Returns ``None`` when no size can be read (not an image, a format outside :data:`ACCEPTED_FORMATS`, a
    corrupt header, an unseekable stream): :func:`load_image` refuses the first three itself, without
    decoding; an unseekable stream is read by it once, so it cannot be sized here.
    """
    if isinstance(src, Image.Image):
        return src.width * src.height
    if isinstance(src, np.ndarray):
        if src.ndim < 2:
            return None
        chw = src.ndim == 3 and src.shape[0] in (1, 3, 4) and src.shape[-1] > 4 and src.shape[1] > 4
        return int(src.shape[1] * src.shape[2]) if chw else int(src.shape[0] * src.shape[1])
    if isinstance(src, (str, os.PathLike)):
        try:
            with open(src, "rb") as fh:
                return _header_pixels(fh)
        except OSError:
            return None
    if isinstance(src, (bytes, bytearray, memoryview)):
        return _header_pixels(io.BytesIO(src))
    if hasattr(src, "read") and hasattr(src, "seek"):
        # load_image reads from the current position and Pillow would seek to 0: read what load_image would
        # (compressed bytes, under the byte cap), then put the stream back.
        try:
            where = src.tell()
            data = src.read(DEFAULT_LIMITS.max_bytes + 1)
            src.seek(where)
        except (OSError, ValueError):
            return None
        return _header_pixels(io.BytesIO(data)) if isinstance(data, (bytes, bytearray)) else None
    return None


def _header_pixels(fh: BinaryIO) -> int | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's bomb warning: the size is what we are after
        try:
            with Image.open(fh, formats=_accepted_formats()) as img:  # lazy: parses the header only
                return img.width * img.height
        except Image.DecompressionBombError as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            return int(found.group(1)) if found else None
        except (UnidentifiedImageError,) + _DECODE_ERRORS:
            return None


def check_pixel_budget(
    sources: Sequence[ImageSource],
    budget_megapixels: float,
    names: Sequence[str] | None = None,
    *,
    per_image_max: int | None = None,
) -> int:
    """Refuse a set of images (one request's) whose headers declare more than ``budget_megapixels`` in all,
    before any of them is decoded. Returns the declared total in pixels.

    Inputs whose size cannot be read, or that declare more than ``per_image_max`` pixels, count 0 here
    (:func:`load_image` refuses each of them on its own, and the rest of the request is answered). Raises
    :class:`ImageTooLargeError` naming the total, the budget, the largest inputs and the fix;
    :class:`ConfigError` when the budget is not positive.
    """
    if not budget_megapixels > 0:
        raise ConfigError(f"pixel budget must be positive (megapixels), got {budget_megapixels}")
    labels = list(names) if names is not None else [describe_source(s) for s in sources]
    sizes = [declared_pixels(s) or 0 for s in sources]
    if per_image_max is not None:
        sizes = [0 if px > per_image_max else px for px in sizes]
    total = sum(sizes)
    if total > budget_megapixels * 1e6:
        largest = sorted(zip(sizes, labels), key=lambda p: -p[0])[:3]
        listed = ", ".join(f"{label} {px / 1e6:.1f} MP" for px, label in largest)
        raise ImageTooLargeError(
            f"{len(sources)} images declare {total / 1e6:.1f} MP in all (largest: {listed}), over the "
            f"{budget_megapixels:g} MP budget for one request, refused before decoding; send fewer images or "
            "downscale them (a few MP each is plenty for every model here)"
        )
    return total


def describe_source(src: object) -> str:
    """A short human name for an image input, for messages."""
    if isinstance(src, (str, os.PathLike)):
        return os.fspath(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(src, Image.Image):
        return "<PIL image>"
    if isinstance(src, np.ndarray):
        return "<array>"
    file_name = getattr(src, "name", None)
    return str(file_name) if isinstance(file_name, str) else "<file>"


@lru_cache(maxsize=1)
def check_pillow() -> None:
    """Raise :class:`DependencyError` if the installed Pillow predates :data:`MIN_PILLOW`."""
    import PIL

    parts = tuple(int(p) for p in PIL.__version__.split(".")[:2] if p.isdigit())
    if parts < MIN_PILLOW:
        want = ".".join(map(str, MIN_PILLOW))
        raise DependencyError(
            f"Pillow {PIL.__version__} lacks security fixes sceneqa relies on; "
            f"install Pillow >= {want}: pip install -U 'pillow>={want}'"
        )


def read_source_bytes(src: ImageSource, label: str, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """The raw bytes of a path, bytes or file object, with the byte cap applied (before reading a file)."""
    if isinstance(src, (str, os.PathLike)):
        path = Path(src)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise InvalidImageError(f"{label}: file not found") from None
        except OSError as exc:
            raise InvalidImageError(f"{label}: cannot be read ({exc.strerror or exc})") from None
        if path.is_dir():
            raise InvalidImageError(f"{label}: is a folder, not an image file")
        _check_byte_count(size, label, limits)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidImageError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif hasattr(src, "read"):
        chunk = src.read(limits.max_bytes + 1)
        if not isinstance(chunk, (bytes, bytearray)):
            raise InvalidImageError(f"{label}: file object returned {type(chunk).__name__}; open it in binary mode")
        data = bytes(chunk)
    else:
        raise InvalidImageError(
            f"{label}: cannot load an image from {type(src).__name__}; "
            "pass a path, bytes, a binary file, a PIL image or a numpy array"
        )
    _check_byte_count(len(data), label, limits)
    return data


def _check_byte_count(size: int, label: str, limits: ImageLimits) -> None:
    if size == 0:
        raise InvalidImageError(f"{label}: empty file (0 bytes), not an image")
    if size > limits.max_bytes:
        raise ImageTooLargeError(
            f"{label}: {_human_bytes(size)} is over the {_human_bytes(limits.max_bytes)} limit for one image "
            "(ImageLimits.max_bytes); downscale or recompress it"
        )


def _human_bytes(n: int) -> str:
    return f"{n / _MB:.1f} MB" if n >= _MB else f"{n / 1024:.1f} KB"


def _check_dimensions(size: tuple[int, int], label: str, limits: ImageLimits) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidImageError(f"{label}: has no pixels ({width}x{height})")
    pixels = width * height
    if pixels > limits.max_pixels:
        raise ImageTooLargeError(
            f"{label}: {width}x{height} = {pixels / 1e6:.1f} MP is over the {limits.max_pixels / 1e6:.1f} MP "
            "pixel limit (ImageLimits.max_pixels), refused before decoding (a decompression bomb guard); "
            "downscale it or raise the limit if you trust the file"
        )
    if max(width, height) > limits.max_side:
        raise ImageTooLargeError(
            f"{label}: {width}x{height} has a side over {limits.max_side} px (ImageLimits.max_side)"
        )
    aspect = max(width, height) / min(width, height)
    if aspect > limits.max_aspect:
        raise ImageTooLargeError(
            f"{label}: {width}x{height} has an aspect ratio of {aspect:.0f}:1, over the "
            f"{limits.max_aspect:.0f}:1 limit (ImageLimits.max_aspect); crop it to the part that matters"
        )


def _accepted_formats() -> list[str]:
    Image.init()  # registers plugins; a no-op after the first call
    return [fmt for fmt in ACCEPTED_FORMATS if fmt in Image.OPEN]


def _decode(data: bytes, label: str, limits: ImageLimits, draft_size: int | None) -> Image.Image:
    with warnings.catch_warnings():
        # Our own pixel cap decides; Pillow's process-wide bomb threshold is left as the user set it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data": handled in _finish
        try:
            img = Image.open(io.BytesIO(data), formats=_accepted_formats())
        except UnidentifiedImageError:
            raise InvalidImageError(_not_an_image_message(data, label)) from None
        except Image.DecompressionBombError as exc:
            # Pillow's own guard fired first (far over its ~179 MP ceiling): same refusal, our wording.
            found = re.search(r"\((\d+) pixels\)", str(exc))
            size = f"{int(found.group(1)) / 1e6:.1f} MP" if found else "the image"
            raise ImageTooLargeError(
                f"{label}: {size} is over the {limits.max_pixels / 1e6:.1f} MP pixel limit "
                "(ImageLimits.max_pixels), refused before decoding (a decompression bomb guard)"
            ) from None
        except _DECODE_ERRORS as exc:
            raise InvalidImageError(f"{label}: corrupt image header ({exc})") from None
        _check_dimensions(img.size, label, limits)
        jpeg = img.format in ("JPEG", "MPO")
        if draft_size and jpeg:
            img.draft(None, (draft_size, draft_size))
        try:
            img.load()  # first frame of an animation
        except _DECODE_ERRORS as exc:
            raise InvalidImageError(
                f"{label}: truncated or corrupt {img.format} data ({exc}); re-export or re-download the file"
            ) from None
        return _finish(img, label, None if jpeg else draft_size)


def _finish(img: Image.Image, label: str, reduce_to: int | None = None) -> Image.Image:
    try:
        img.load()
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(f"{label}: truncated or corrupt image data ({exc})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF; we handle it below
            # exif_transpose copies even an upright image: ask first, so a large image is not held twice
            turned = img.getexif().get(_ORIENTATION, 1) not in (1, None)
            oriented = ImageOps.exif_transpose(img) if turned else img
    except _DECODE_ERRORS + (KeyError, TypeError):
        # A broken EXIF block does not make the pixels wrong; show them as stored, as browsers do.
        oriented = img
    oriented = oriented if oriented is not None else img
    if reduce_to:
        oriented = reduce_in_bands(oriented, min(oriented.size) // (2 * reduce_to))
    out = to_rgb(oriented, label)
    # A new image, as exif_transpose always gave: not the caller's object, not tied to the source bytes.
    return out.copy() if out is img else out


_ORIENTATION = 0x0112
_BAND_PIXELS = 1_000_000
# Modes Image.reduce averages as they are; "1" and "P" are widened band by band first ("I;16", "I", "F",
# CMYK ... are left alone: rare, and their conversion to 8 bits depends on the whole image's range).
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA"})


def reduce_in_bands(img: Image.Image, factor: int) -> Image.Image:
    """``img`` box-averaged by ``factor`` (an integer >= 2; smaller returns ``img``), converted from "1"/"P"
    to "L"/"RGB"/"RGBA" one band of rows at a time, so no full-size copy is made. Bands are whole multiples
    of ``factor`` rows, so the result equals ``img.convert(mode).reduce(factor)``."""
    if factor < 2:
        return img
    if img.mode == "1":
        mode = "L"
    elif img.mode == "P":
        mode = "RGBA" if "transparency" in img.info else "RGB"  # as to_rgb decides
    elif img.mode in _REDUCIBLE:
        mode = img.mode
    else:
        return img
    width, height = img.size
    band = factor * max(1, _BAND_PIXELS // (width * factor))
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    for top in range(0, height, band):
        piece = img.crop((0, top, width, min(height, top + band)))
        out.paste((piece if piece.mode == mode else piece.convert(mode)).reduce(factor), (0, top // factor))
    return out


def _not_an_image_message(data: bytes, label: str) -> str:
    accepted = ", ".join(_accepted_formats())
    what = describe_payload(data[:512])
    if what is None:
        return f"{label}: not a recognised image (accepted formats: {accepted})"
    return f"{label}: not an image, it looks like {what} (accepted formats: {accepted})"
