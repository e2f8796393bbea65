"""Per-request caps shared by the HTTP API and the UI, checked before any image is decoded or any record read:
how many images, their declared pixels together, the bytes of attached records, the rows of an uploaded
catalog file. One request can then only cost a bounded amount of model time and memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from multimodal.ask.context_files import MAX_CONTEXT_BYTES
from multimodal.errors import ConfigError
from multimodal.images import ImageSource, check_pixel_budget
from retrieval.errors import RequestTooLargeError

MAX_IMAGES = 16
MAX_CATALOG_ROWS = 1_000


@dataclass(frozen=True)
class RequestLimits:
    """max_images: images per request; max_megapixels: their declared pixels together (images over
    ``per_image_max_pixels`` are refused one by one by the loader instead); max_context_bytes: attached records
    together; max_catalog_rows: rows of one uploaded catalog file (bulk loads: ``sceneqa index add``)."""

    max_images: int = MAX_IMAGES
    max_megapixels: float = 100.0
    per_image_max_pixels: int = 64_000_000
    max_context_bytes: int = MAX_CONTEXT_BYTES
    max_catalog_rows: int = MAX_CATALOG_ROWS

    def __post_init__(self) -> None:
        if min(self.max_images, self.max_megapixels, self.max_context_bytes, self.max_catalog_rows) <= 0:
            raise ConfigError("request limits must be positive")

    def check_images(self, sources: Sequence[ImageSource], names: Sequence[str] | None = None) -> None:
        if len(sources) > self.max_images:
            raise RequestTooLargeError(
                f"{len(sources)} images in one request; at most {self.max_images} (send them in several requests, "
                "or use `sceneqa index add` for bulk loads)"
            )
        check_pixel_budget(sources, self.max_megapixels, names=names, per_image_max=self.per_image_max_pixels)

    def check_context(self, sizes: Sequence[int]) -> None:
        total = sum(sizes)
        if total > self.max_context_bytes:
            raise RequestTooLargeError(
                f"attached records are {total / 2**20:.1f} MB together; at most "
                f"{self.max_context_bytes / 2**20:.1f} MB per request"
            )

    def check_catalog_rows(self, rows: int) -> None:
        if rows > self.max_catalog_rows:
            raise RequestTooLargeError(
                f"the uploaded catalog file has more than {self.max_catalog_rows} rows; upload at most that many "
                "per request, or load large catalogs with `sceneqa index add`"
            )
