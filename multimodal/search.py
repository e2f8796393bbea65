"""The search use case: text, image, both, or "more like this", with negatives, filters and keyword fusion."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multimodal.encoders.base import l2_normalize
from multimodal.errors import ConfigError, EmptyInputError
from multimodal.images import ImageSource, load_image
from multimodal.search_tune import TEXT_WEIGHT, fused_text_search, tuned_query
from multimodal.services import Services
from retrieval.catalog import Catalog
from retrieval.filters import parse_filter
from retrieval.tune import load_tuned
from retrieval.vector_index import SearchParams


@dataclass(frozen=True)
class SearchRequest:
    """weight: share of the image in a text+image query (0..1); negative_weight: how far to push away from
    ``negative``; hybrid: fuse FTS5 keyword ranks of ``text`` with vector ranks (RRF); tune: map ``text`` with the
    index's tuned map (``sceneqa index tune``) when it has one (``False``: the encoder's own text embedding)."""

    text: str | None = None
    image: ImageSource | None = None
    image_name: str | None = None
    like: str | None = None
    weight: float = 0.5
    negative: str | None = None
    negative_weight: float = 0.5
    filters: tuple[str, ...] = ()
    k: int = 10
    hybrid: bool = False
    ef_search: int = 64
    nprobe: int = 32
    tune: bool = True

    def __post_init__(self) -> None:
        if self.text is None and self.image is None and self.like is None:
            raise EmptyInputError("nothing to search for: give --text, --image or --like ID")
        if self.text is not None and not self.text.strip():
            raise EmptyInputError("--text is empty")
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"--weight must be between 0 and 1 (the image's share), got {self.weight}")
        if not 0.0 <= self.negative_weight <= 1.0:
            raise ConfigError(f"--negative-weight must be between 0 and 1, got {self.negative_weight}")
        if self.k < 1 or self.k > 1000:
            raise ConfigError(f"-k must be between 1 and 1000, got {self.k}")
        if self.hybrid and not self.text:
            raise ConfigError("--hybrid fuses keyword matches of --text; give --text too")


def compose_query(
    parts: list[tuple[np.ndarray, float]], negative: np.ndarray | None = None, negative_weight: float = 0.5
) -> np.ndarray:
    """Weighted sum of unit vectors minus a weighted negative, re-normalised: a unit float32 ``(dim,)``."""
    q = sum(w * v for v, w in parts)
    if negative is not None:
        q = q - negative_weight * negative
    if not np.any(q):
        raise ConfigError("the query cancels out (the negative equals the positive); change --negative")
    return l2_normalize(np.asarray(q, np.float32)[None])[0]


def search_catalog(services: Services, catalog: Catalog, req: SearchRequest) -> dict[str, object]:
    """Run ``req`` against ``catalog``: ``{"results": [...], "query": {...}}`` (the CLI's ``--json``)."""
    enc = services.encoder
    parts: list[tuple[np.ndarray, float]] = []
    text_w = 1.0 - req.weight if req.image is not None or req.like else 1.0
    tuned = load_tuned(catalog.folder, encoder=enc.spec, dim=enc.dim) if req.text and req.tune else None
    if req.text:
        text_q, text_feats = tuned_query(enc, tuned, req.text) if tuned else (enc.embed_texts([req.text])[0], None)
        parts.append((text_q, text_w))
    visual_w = req.weight if req.text else 1.0
    if req.image is not None:
        img = load_image(req.image, limits=services.config.image_limits, draft_size=enc.image_size, name=req.image_name)
        parts.append((enc.embed_images([img])[0], visual_w))
    if req.like:
        parts.append((catalog.vector_of(req.like), visual_w))
    negative = enc.embed_texts([req.negative])[0] if req.negative else None
    query = compose_query(parts, negative, req.negative_weight)
    filters = [parse_filter(f) for f in req.filters]
    params = SearchParams(ef_search=req.ef_search, nprobe=req.nprobe)
    fuse_text = tuned is not None and len(tuned.item_vids) > 0 and len(parts) == 1 and not req.hybrid
    if fuse_text:  # a text-only query also matches each item's own text (multimodal.search_tune)
        hits = fused_text_search(catalog, tuned, query, text_feats, req.k, filters=filters, params=params)
    else:
        hits = catalog.search(
            query,
            req.k,
            filters=filters,
            params=params,
            keyword=req.text if req.hybrid else None,
            exclude_ids=(req.like,) if req.like else (),
        )
    return {
        "results": [h.as_dict() for h in hits],
        "query": {
            "text": req.text,
            "image": req.image_name,
            "like": req.like,
            "weight": req.weight,
            "negative": req.negative,
            "filters": list(req.filters),
            "k": req.k,
            "hybrid": req.hybrid,
            "tuned": tuned is not None,
            "item_text_weight": TEXT_WEIGHT if fuse_text else 0.0,
            "encoder": enc.spec,
            "tier": services.tier.tier,
            "index": str(catalog.folder),
        },
    }
