"""multimodal/images/recent.py: the per-image LRU keyed by pixel content."""

from __future__ import annotations

from PIL import Image

from multimodal.images.recent import RecentImages, image_key


def test_key_depends_on_pixels_mode_and_size():
    a = Image.new("RGB", (4, 2), (1, 2, 3))
    assert image_key(a) == image_key(a.copy())
    assert image_key(a) != image_key(Image.new("RGB", (4, 2), (1, 2, 4)))
    assert image_key(a) != image_key(Image.new("RGB", (2, 4), (1, 2, 3)))  # same bytes, other shape
    assert image_key(Image.new("L", (4, 2), 7)) != image_key(Image.new("P", (4, 2), 7))


def test_lru_computes_once_and_evicts_the_oldest():
    calls = []
    recent: RecentImages[int] = RecentImages(size=2)

    def compute(img):
        calls.append(img.getpixel((0, 0)))
        return len(calls)

    imgs = [Image.new("L", (3, 3), v) for v in (1, 2, 3)]
    assert recent.get(imgs[0], compute) == 1 and recent.get(imgs[0].copy(), compute) == 1
    recent.get(imgs[1], compute)
    recent.get(imgs[0], compute)  # 0 is now the most recent
    recent.get(imgs[2], compute)  # evicts 1
    recent.get(imgs[0], compute)
    recent.get(imgs[1], compute)
    assert calls == [1, 2, 3, 2]
