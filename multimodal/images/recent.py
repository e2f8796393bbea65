"""A small thread-safe LRU of results per image, keyed by pixel content (mode, size and a BLAKE2b digest of
the pixels): several questions about one photo compute its regions or detections once."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

from PIL import Image

T = TypeVar("T")


def image_key(img: Image.Image) -> bytes:
    """Equal for images with the same mode, size and pixels."""
    digest = hashlib.blake2b(img.tobytes(), digest_size=16, person=img.mode.encode()[:16]).digest()
    return digest + repr(img.size).encode()


class RecentImages(Generic[T]):
    """``get(img, compute)``: ``compute(img)`` unless the same pixels were seen among the last ``size`` images.
    Two threads asking about a new image at once may both compute it (no lock is held while computing)."""

    def __init__(self, size: int = 32) -> None:
        self._items: OrderedDict[bytes, T] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, img: Image.Image, compute: Callable[[Image.Image], T]) -> T:
        key = image_key(img)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute(img)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value
