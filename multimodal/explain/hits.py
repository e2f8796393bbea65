"""Why a search hit matched: the heatmap of each hit's image for the query (``search --explain DIR``, the Search
tab's "Show why"). The target is the text query, aimed as ``locate`` aims a phrase, or the query image's
embedding when there is no text; a "like" query has no target here (the item's own embedding is not kept with
its image). At most ``ExplainConfig.max_explanations`` hits per request, the rest skipped and said so."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from multimodal.deadline import check_deadline
from multimodal.errors import SceneQAError
from multimodal.explain.api import boxes_of, capped
from multimodal.explain.base import ExplainConfig, Explainer, Explanation
from multimodal.explain.boxes import Box, describe
from multimodal.explain.render import overlay

QUERY_IMAGE = "the query image"


@dataclass(frozen=True)
class HitWhy:
    """One explained hit: ``image`` (as loaded), its ``explanation`` and ``boxes``, or ``error`` (why its image
    could not be read; then the other fields are ``None``/empty)."""

    item_id: str
    image: Image.Image | None
    explanation: Explanation | None
    boxes: tuple[Box, ...] = ()
    error: str | None = None

    def picture(self) -> Image.Image | None:
        """The overlay (heatmap and boxes on the hit's image); ``None`` when the image could not be read."""
        if self.image is None or self.explanation is None:
            return None
        return overlay(self.image, self.explanation.heatmap, self.boxes)

    def summary(self) -> str:
        """One line: where the hit matches, or why it is not shown."""
        if self.error:
            return f"{self.item_id}: not explained: {self.error}"
        e = self.explanation
        if e is None or e.flat:
            return f"{self.item_id}: flat heatmap: {e.reason if e else 'no explanation'}"
        where = describe(self.boxes[0], self.image.size) if self.boxes and self.image is not None else "no box"
        return f"{self.item_id}: matches most at {where} ({e.method})"


def query_target(encoder, zeroshot, text: str | None, image: Image.Image | None) -> tuple[np.ndarray, str] | None:
    """``(target (dim,) float32 unit vector, what it is)`` for a search query: the text (as ``locate`` aims a
    phrase) when there is text, else the query image's embedding; ``None`` for neither (a "like" query)."""
    from multimodal.explain.targets import phrase_targets

    if text and text.strip():
        return phrase_targets(encoder, zeroshot, [text.strip()])[0][0], text.strip()
    if image is not None:
        return np.asarray(encoder.embed_images([image])[0], np.float32), QUERY_IMAGE
    return None


def explain_hits(
    explainer: Explainer,
    hits: Sequence[tuple[str, str | Path]],
    target: np.ndarray,
    config: ExplainConfig = ExplainConfig(),
    limits=None,
) -> tuple[list[HitWhy], str | None]:
    """Heatmaps of the first ``config.max_explanations`` hits ``(item id, image path)`` for ``target``, in order,
    and the cap note (``None`` when all were explained). A hit whose image cannot be read (``limits``: the
    loader's :class:`~multimodal.images.ImageLimits`) gets an ``error`` and does not stop the others."""
    from multimodal.images import DEFAULT_LIMITS, load_image

    keep, note = capped(len(hits), config, "hits")
    out = []
    for item_id, path in hits[:keep]:
        check_deadline("explaining search hits")
        try:
            image = load_image(path, limits=limits or DEFAULT_LIMITS)
        except SceneQAError as exc:
            out.append(HitWhy(item_id, None, None, error=f"the hit's image could not be read: {exc}"))
            continue
        exp = explainer.explain(explainer.prepare(image), target)
        out.append(HitWhy(item_id, image, exp, tuple(boxes_of(exp, config))))
    return out, note
