"""Shared pieces of the speed benchmarks: sample photos, best-of timing, the plain open_clip reference."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

PHONE_PHOTO = (4032, 3024)


def photo_set(n: int, size: tuple[int, int]) -> list[Image.Image]:
    """``n`` real-photo images (skimage's package photos, flipped/cropped variants), resized to ``size``;
    distinct for ``n <= 240``."""
    from skimage import data

    bases = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.stereo_motorcycle()[0]]
    out = []
    for i in range(n):
        img = Image.fromarray(bases[i % len(bases)]).convert("RGB")
        if (i // len(bases)) % 2:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        w, h = img.size
        k = (i // (2 * len(bases))) % 24  # distinct crops: 240 distinct images before any repeats
        img = img.crop((k * w // 96, k * h // 96, w - k * w // 96, h - k * h // 96))
        out.append(img.resize(size, Image.BICUBIC))
    return out


def timed_ms(fn, repeats: int) -> dict[str, float]:
    """Milliseconds of ``repeats`` calls of ``fn`` after one warm-up call (first-call allocations, lazy init,
    new shapes): ``p50_ms``, ``p90_ms``, ``min_ms``, rounded to 0.1 ms."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 1),
        "p90_ms": round(float(np.percentile(times, 90)), 1),
        "min_ms": round(min(times), 1),
    }


def best_rate(fn, n_items: int, repeats: int) -> tuple[float, object]:
    """Items per second of the fastest of ``repeats`` calls of ``fn``, and its last result."""
    result, best = None, float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return n_items / best, result


class PlainOpenClip:
    """The reference: open_clip fp32 as its README uses it."""

    def __init__(self, arch: str, weights: Path) -> None:
        import open_clip
        import torch
        from safetensors.torch import load_file

        self.torch = torch
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(arch)
        self.model.load_state_dict(load_file(str(weights)))
        self.model.eval()

    def loop(self, images) -> np.ndarray:
        out = []
        with self.torch.no_grad():
            for im in images:
                im = Image.open(im).convert("RGB") if isinstance(im, Path) else im
                feats = self.model.encode_image(self.preprocess(im).unsqueeze(0))
                out.append(self.torch.nn.functional.normalize(feats, dim=-1).numpy())
        return np.concatenate(out)

    def batched(self, images, bs: int) -> np.ndarray:
        out = []
        with self.torch.no_grad():
            for s in range(0, len(images), bs):
                ims = [Image.open(p).convert("RGB") if isinstance(p, Path) else p for p in images[s : s + bs]]
                x = self.torch.stack([self.preprocess(im) for im in ims])
                out.append(self.torch.nn.functional.normalize(self.model.encode_image(x), dim=-1).numpy())
        return np.concatenate(out)
