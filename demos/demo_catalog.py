"""A demo catalog for a first start with no index: photos that ship inside scikit-image and scikit-learn
plus generated product-style drawings, with metadata, built offline in seconds."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

PHOTOS = (
    ("astronaut", "person", "photo"),
    ("chelsea", "cat", "photo"),
    ("coffee", "cup of coffee", "photo"),
    ("rocket", "rocket", "photo"),
    ("stereo_motorcycle", "motorcycle", "photo"),
    ("camera", "person", "photo"),
    ("page", "document", "scan"),
    ("coins", "coins", "photo"),
    ("hubble_deep_field", "galaxies", "photo"),
)
COLOURS = {
    "red": (210, 40, 40),
    "blue": (40, 70, 200),
    "green": (40, 150, 70),
    "yellow": (235, 200, 40),
    "black": (25, 25, 25),
}
KINDS = ("mug", "tag", "badge", "sticker")


def build_demo_source(folder: Path, n_drawings: int = 40) -> Path:
    """Write images + ``catalog.csv`` (id, image, kind, colour, shape, price, year) and return the CSV path."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, kind, source in PHOTOS:
        arr = getattr(data, name)()
        arr = arr[0] if isinstance(arr, tuple) else arr
        Image.fromarray(arr).convert("RGB").save(images / f"{name}.jpg", quality=90)
        rows.append(
            {
                "id": name,
                "image": f"images/{name}.jpg",
                "kind": kind,
                "colour": "",
                "shape": "",
                "price": "",
                "year": 2019,
                "source": f"scikit-image {source}",
            }
        )
    for i, arr in enumerate(load_sample_images().images):
        name = ("china", "flower")[i]
        Image.fromarray(arr).save(images / f"{name}.jpg", quality=90)
        rows.append(
            {
                "id": name,
                "image": f"images/{name}.jpg",
                "kind": ("temple", "flower")[i],
                "colour": "",
                "shape": "",
                "price": "",
                "year": 2020,
                "source": "scikit-learn photo",
            }
        )
    rng = np.random.default_rng(0)
    for i in range(n_drawings):
        colour = list(COLOURS)[i % len(COLOURS)]
        shape = ("circle", "square", "triangle")[i % 3]
        kind = KINDS[i % len(KINDS)]
        img = Image.new("RGB", (256, 256), (246, 245, 240))
        d = ImageDraw.Draw(img)
        inset = 40 + int(rng.integers(0, 30))
        box = (inset, inset, 256 - inset, 256 - inset)
        if shape == "circle":
            d.ellipse(box, fill=COLOURS[colour])
        elif shape == "square":
            d.rectangle(box, fill=COLOURS[colour])
        else:
            d.polygon([(128, inset), (inset, 256 - inset), (256 - inset, 256 - inset)], fill=COLOURS[colour])
        d.text((12, 230), f"{kind.upper()} {i:03d}", fill=(60, 60, 60))
        name = f"{kind}-{i:03d}"
        img.save(images / f"{name}.png")
        rows.append(
            {
                "id": name,
                "image": f"images/{name}.png",
                "kind": kind,
                "colour": colour,
                "shape": shape,
                "price": round(float(rng.uniform(2, 40)), 2),
                "year": 2020 + i % 5,
                "source": "generated",
            }
        )
    path = folder / "catalog.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
