"""Generated catalogs for ingestion tests: seeded PIL drawings with metadata, as a folder and as files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PIL import Image, ImageDraw

COLORS = {"Red": (220, 30, 30), "Blue": (30, 60, 220), "Green": (40, 170, 60), "Black": (20, 20, 20)}
SHAPES = ("circle", "square", "triangle")


def draw(color: str, shape: str, seed: int, size: int = 96) -> Image.Image:
    img = Image.new("RGB", (size, size), (245, 245, 245))
    d = ImageDraw.Draw(img)
    off = seed % 11
    box = (12 + off, 12, size - 12 - off, size - 12)
    fill = COLORS[color]
    if shape == "circle":
        d.ellipse(box, fill=fill)
    elif shape == "square":
        d.rectangle(box, fill=fill)
    else:
        d.polygon([(size // 2, 10 + off), (10, size - 10), (size - 10, size - 10 - off)], fill=fill)
    # a small seed-dependent mark keeps every generated image distinct (no accidental duplicates)
    x, y = 2 + (seed * 7) % (size - 8), 2 + (seed * 13) % 6
    d.rectangle((x, y, x + 4, y + 3), fill=(seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    return img


def make_catalog(root: Path, n: int = 24) -> list[dict]:
    """Write ``n`` JPEGs under ``root/images`` and return their rows (id, image, color, shape, year, title)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        color = list(COLORS)[i % len(COLORS)]
        shape = SHAPES[i % len(SHAPES)]
        name = f"images/{i:03d}.jpg"
        draw(color, shape, i).save(root / name, quality=92)
        rows.append(
            {
                "id": f"sku{i}",
                "image": name,
                "color": color,
                "shape": shape,
                "year": 2010 + i % 6,
                "title": f"{color} {shape} number {i}",
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path
