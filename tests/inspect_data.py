"""Seeded synthetic textures for the inspect tests: diagonal stripes with noise, optionally a planted blob."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def texture(seed: int, size: int = 128, blob: tuple[int, int, int] | None = None) -> Image.Image:
    """A ``size`` x ``size`` RGB texture; ``blob`` ``(x, y, side)`` paints a bright square there."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    grey = 128 + 40 * np.sin((xx + yy) / 4.0 + rng.uniform(0, 2 * np.pi)) + rng.normal(0, 8, (size, size))
    if blob is not None:
        x, y, side = blob
        grey[y : y + side, x : x + side] = 250
    return Image.fromarray(np.clip(np.stack([grey] * 3, -1), 0, 255).astype(np.uint8))


def write_good(folder: Path, n: int, size: int = 128, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        paths.append(folder / f"good{start + i:03d}.png")
        texture(start + i, size).save(paths[-1])
    return paths


def write_anomaly_layout(root: Path, n_train: int = 12, n_good: int = 4, n_bad: int = 4) -> Path:
    """An MVTec-style folder: train/good, test/good, test/blob with ground_truth/blob/<stem>_mask.png."""
    write_good(root / "train" / "good", n_train)
    write_good(root / "test" / "good", n_good, start=500)
    (root / "test" / "blob").mkdir(parents=True)
    (root / "ground_truth" / "blob").mkdir(parents=True)
    for i in range(n_bad):
        x, y, side = 20 + 17 * i, 30 + 11 * i, 12 + 2 * i
        texture(900 + i, blob=(x, y, side)).save(root / "test" / "blob" / f"{i:03d}.png")
        mask = np.zeros((128, 128), np.uint8)
        mask[y : y + side, x : x + side] = 255
        Image.fromarray(mask).save(root / "ground_truth" / "blob" / f"{i:03d}_mask.png")
    return root
