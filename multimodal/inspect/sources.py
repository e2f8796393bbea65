"""Good images for ``inspect fit``: a folder (searched recursively) or a CSV / JSONL / Parquet catalog, read
with the catalog reader of :mod:`retrieval.sources` and decoded with :func:`multimodal.images.load_image`.
Unreadable rows and files are skipped and reported, never fatal on their own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from multimodal.errors import InvalidImageError
from multimodal.images import DEFAULT_LIMITS, ImageLimits, load_image
from retrieval.sources import SourceProblem, is_url, read_source


@dataclass(frozen=True)
class GoodImages:
    """Decoded RGB images with their names, and ``skipped`` inputs as ``where: reason`` lines."""

    images: tuple[Image.Image, ...]
    names: tuple[str, ...]
    skipped: tuple[str, ...]


def read_good_images(
    source: Path,
    *,
    limits: ImageLimits = DEFAULT_LIMITS,
    image_column: str | None = None,
    roots: tuple[Path, ...] = (),
    draft_size: int | None = None,
) -> GoodImages:
    """Every image of ``source`` (a folder or catalog file); raises ``SourceError`` only for an unusable
    source as a whole (missing, wrong kind). ``draft_size``: the short side needed (large JPEGs then decode at
    a reduced scale, see :func:`~multimodal.images.load_image`)."""
    images, names, skipped = [], [], []
    for row in read_source(Path(source), image_column=image_column, roots=roots):
        if isinstance(row, SourceProblem):
            skipped.append(f"{row.where}: {row.reason}")
            continue
        if is_url(row.image):
            skipped.append(f"{row.where}: {row.image} is a URL; inspect fit reads local files only")
            continue
        try:
            images.append(load_image(row.image, limits=limits, draft_size=draft_size))
        except InvalidImageError as exc:
            skipped.append(f"{row.where}: {exc}")
            continue
        names.append(row.id)
    return GoodImages(tuple(images), tuple(names), tuple(skipped))
