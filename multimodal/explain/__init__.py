"""Explain: "why" heatmaps for a label, a text query or a phrase, and "where is it?" boxes (issue 17).

Pre-process (:mod:`.prep`), forward (one :class:`~multimodal.explain.base.Explainer` per backbone: Grad-CAM for
lite's EfficientNet in :mod:`.lite`, token Grad-CAM or patch-token similarity for open_clip ViTs in :mod:`.vit`,
which the ``tiny`` twin runs through the same code), post-process (:mod:`.post`, :mod:`.boxes`, :mod:`.render`).
Pick an explainer for a built encoder with :func:`multimodal.explain.factory.create_explainer`. Targets are unit
vectors of the joint space, or a taught label set's head logit per label (:mod:`.linear`). Nothing here
imports torch at import time.
"""

from multimodal.explain.base import (
    MAX_PHRASE_CHARS,
    ExplainConfig,
    Explainer,
    Explanation,
    InvalidPhraseError,
    PreparedImage,
    check_phrase,
)

__all__ = [
    "MAX_PHRASE_CHARS",
    "ExplainConfig",
    "Explainer",
    "Explanation",
    "InvalidPhraseError",
    "PreparedImage",
    "check_phrase",
]
