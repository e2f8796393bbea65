"""Convert a decoded Pillow image of any colour mode to 8-bit RGB.

Pure pixel transforms, no I/O. Alpha is composited on white (what a person sees on a page), 16-bit and
32-bit greyscale are scaled (not clipped) to 8 bits, palette images keep their transparency.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from multimodal.errors import InvalidImageError

_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})

WHITE = (255, 255, 255)


def to_rgb(img: Image.Image, name: str = "image") -> Image.Image:
    """Return ``img`` as a loaded 8-bit ``RGB`` image (``img`` itself when it already is).

    Raises :class:`InvalidImageError` for a mode Pillow cannot convert.
    """
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        if "transparency" in img.info:
            return _composite_on_white(img.convert("RGBA"))
        return img.convert("RGB")
    if mode in _ALPHA_MODES:
        return _composite_on_white(img.convert("RGBA"))
    if mode in _SIXTEEN_BIT or mode in ("I", "F"):
        return Image.fromarray(_wide_grey_to_uint8(np.asarray(img), mode), mode="L").convert("RGB")
    try:
        return img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV ...
    except (ValueError, OSError) as exc:
        raise InvalidImageError(
            f"{name}: colour mode {mode!r} cannot be converted to RGB ({exc}); save it as 8-bit RGB PNG or JPEG"
        ) from exc


def _composite_on_white(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGBA", rgba.size, WHITE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _wide_grey_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale a 16-bit, 32-bit integer or float greyscale array to uint8 (0..255)."""
    if mode in _SIXTEEN_BIT:
        return (arr.astype(np.uint32) >> 8).astype(np.uint8)
    if mode == "F":
        finite = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if finite.size and finite.max() <= 1.0 else 255.0
        return np.clip(np.rint(finite / top * 255.0), 0, 255).astype(np.uint8)
    # mode "I": 32-bit signed; 16-bit PNGs open this way on some Pillow versions.
    wide = arr.astype(np.int64)
    top = 65535 if wide.size and wide.max() > 255 else 255
    return np.clip(np.rint(np.clip(wide, 0, top) * (255.0 / top)), 0, 255).astype(np.uint8)


def array_to_rgb(arr: np.ndarray, name: str = "array") -> Image.Image:
    """Turn an ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)`` array (C in 1, 3, 4) into an RGB image.

    dtypes: uint8 as is; bool; uint16 (scaled); float in ``[0, 1]`` or ``[0, 255]``.
    """
    if not isinstance(arr, np.ndarray):
        raise InvalidImageError(f"{name}: expected a numpy array, got {type(arr).__name__}")
    a = arr
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] > 4 and a.shape[1] > 4:
        a = np.moveaxis(a, 0, -1)  # CHW -> HWC
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise InvalidImageError(
            f"{name}: array of shape {tuple(arr.shape)} is not an image; expected (H, W), (H, W, 3) or (H, W, 4)"
        )
    a = _array_to_uint8(a, name)
    if a.ndim == 2:
        return Image.fromarray(a, mode="L").convert("RGB")
    if a.shape[-1] == 4:
        return _composite_on_white(Image.fromarray(np.ascontiguousarray(a), mode="RGBA"))
    return Image.fromarray(np.ascontiguousarray(a), mode="RGB")


def _array_to_uint8(a: np.ndarray, name: str) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype == np.uint16:
        return (a >> 8).astype(np.uint8)
    if np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise InvalidImageError(f"{name}: float array holds NaN or infinite values")
        top = 1.0 if a.max(initial=0.0) <= 1.0 else 255.0
        if a.min(initial=0.0) < 0.0 or a.max(initial=0.0) > 255.0:
            raise InvalidImageError(
                f"{name}: float array values span [{a.min():.3g}, {a.max():.3g}]; expected [0, 1] or [0, 255]"
            )
        return np.rint(a / top * 255.0).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer) and a.min(initial=0) >= 0 and a.max(initial=0) <= 255:
        return a.astype(np.uint8)
    raise InvalidImageError(f"{name}: array dtype {a.dtype} is not supported; use uint8, uint16, bool or float")
