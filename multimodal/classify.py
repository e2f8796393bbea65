"""The classify use case: image inputs + labels -> per-image results, failures reported, not raised."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from multimodal.images import ImageSource, describe_source
from multimodal.ingest.batch_embed import embed_sources
from multimodal.services import Services
from multimodal.zeroshot import ZeroShotOptions, parse_labels
from multimodal.zeroshot_scores import Classification


@dataclass(frozen=True)
class ImageClassification:
    """One input's outcome: ``result`` when it could be classified, else ``error`` (one line)."""

    image: str
    result: Classification | None = None
    error: str | None = None

    def as_dict(self, services: Services) -> dict[str, object]:
        if self.result is None:
            return {"image": self.image, "error": self.error}
        return {
            "image": self.image,
            "labels": [s.as_dict() for s in self.result.labels],
            "abstained": self.result.abstained,
            "supported": list(self.result.supported),
            "multi_label": self.result.multi_label,
            "encoder": services.encoder.spec,
            "tier": services.tier.tier,
        }


def classify_sources(
    services: Services,
    sources: Sequence[ImageSource],
    labels: str | Sequence[str],
    options: ZeroShotOptions = ZeroShotOptions(),
    *,
    names: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[ImageClassification]:
    """Classify every source; a source that fails to load gets an ``error`` and the others go on.

    Raises only for problems of the call itself (no labels, bad options). ``progress(n)`` is called with
    the number of inputs finished after each chunk. Results come back in input order.
    """
    label_list = parse_labels(labels)
    names = list(names) if names is not None else [describe_source(s) for s in sources]
    batch = embed_sources(
        services.encoder, sources, limits=services.config.image_limits, names=names, progress=progress
    )
    results = services.zeroshot.classify_embeddings(batch.vectors, label_list, options) if batch.indices else []
    by_index = dict(zip(batch.indices, results))
    return [ImageClassification(names[i], by_index.get(i), batch.errors.get(i)) for i in range(len(sources))]
