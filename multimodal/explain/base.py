"""The explain Protocol, its plain data and the checks every explainer shares.

An :class:`Explainer` takes a :class:`PreparedImage` (its own :meth:`~Explainer.prepare` made it) and a
*target*: one unit vector in the encoder's joint space (a label's or a query's text embedding, or an image
embedding), or a taught label set's head logit for one label (:class:`~multimodal.explain.linear.LinearTarget`),
and returns an :class:`Explanation`: a float32 heatmap of the image's size in ``0..1`` telling
which regions raise the image's similarity to that target, or a flat map with the reason when none does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from multimodal.errors import ConfigError, EmptyInputError, SceneQAError

#: Longest phrase ``locate`` accepts: a phrase names a thing to find; CLIP reads 77 tokens at most.
MAX_PHRASE_CHARS = 200


class InvalidPhraseError(SceneQAError, ValueError):
    """A phrase to locate or explain is unusable (too long, no letters)."""


@dataclass(frozen=True)
class ExplainConfig:
    """What every explanation run shares.

    max_explanations: heatmaps made per request (labels of one image, hits of one search); the rest are skipped
        and the caller says so — one heatmap costs a forward and a backward pass.
    box_threshold: a pixel belongs to a box where the heatmap is at least this share of its maximum; ``None``:
        the explaining method's own (:attr:`Explanation.box_threshold`: a sharper map needs a lower one).
    min_box_area: components smaller than this share of the image are dropped (speckle).
    max_boxes: boxes returned per heatmap, largest evidence first.
    """

    max_explanations: int = 8
    box_threshold: float | None = None
    min_box_area: float = 0.005
    max_boxes: int = 3

    def __post_init__(self) -> None:
        if self.max_explanations < 1:
            raise ConfigError(f"max_explanations must be >= 1, got {self.max_explanations}")
        if self.box_threshold is not None and not 0.0 < self.box_threshold < 1.0:
            raise ConfigError(f"box_threshold must be in (0, 1), got {self.box_threshold}")
        if not 0.0 <= self.min_box_area < 1.0:
            raise ConfigError(f"min_box_area must be in [0, 1), got {self.min_box_area}")
        if self.max_boxes < 1:
            raise ConfigError(f"max_boxes must be >= 1, got {self.max_boxes}")


@dataclass(frozen=True)
class PreparedImage:
    """An image as an explainer's network reads it.

    pixels: float32 ``(H, W, 3)``, normalised for the network, the image resized (aspect kept) and padded.
    content: ``(x0, y0, x1, y1)`` of the image inside ``pixels`` (x1, y1 exclusive), to crop the map back.
    size: the original image's ``(width, height)``: the heatmap's size.
    """

    pixels: np.ndarray
    content: tuple[int, int, int, int]
    size: tuple[int, int]


@dataclass(frozen=True)
class Explanation:
    """heatmap: float32 ``(height, width)`` of the original image, values in ``0..1`` (all zero when ``flat``).
    flat: no region raises the target's score (or all raise it alike); ``reason`` says which.
    score: the explained score (similarity or logit, as ``method`` says) for the whole image.
    notes: things the user should know (a thin strip, a capped request).
    box_threshold: the share of the maximum this method's boxes are drawn at unless the caller says otherwise."""

    heatmap: np.ndarray
    flat: bool
    reason: str | None
    method: str
    score: float
    notes: tuple[str, ...] = ()
    box_threshold: float = 0.5

    @property
    def peak(self) -> tuple[int, int] | None:
        """``(x, y)`` of the heatmap's maximum in image pixels; ``None`` for a flat map."""
        if self.flat:
            return None
        y, x = np.unravel_index(int(np.argmax(self.heatmap)), self.heatmap.shape)
        return int(x), int(y)


@runtime_checkable
class Explainer(Protocol):
    """A heatmap method for one backbone. ``name`` is the method (``"gradcam:conv_head"`` ...)."""

    name: str

    def prepare(self, image: Image.Image) -> PreparedImage: ...

    def explain(self, prepared: PreparedImage, target) -> Explanation:
        """``target``: a ``(dim,)`` unit vector of the joint space, or a
        :class:`~multimodal.explain.linear.LinearTarget` (a label set's head)."""
        ...


def check_phrase(phrase: str) -> str:
    """The phrase, stripped; raises :class:`EmptyInputError` for an empty one and :class:`InvalidPhraseError`
    for one over :data:`MAX_PHRASE_CHARS` characters or with no letter or digit."""
    text = " ".join(str(phrase).split())
    if not text:
        raise EmptyInputError('the phrase is empty; say what to find, e.g. sceneqa locate photo.jpg "the red car"')
    if len(text) > MAX_PHRASE_CHARS:
        raise InvalidPhraseError(
            f"the phrase has {len(text)} characters; at most {MAX_PHRASE_CHARS} are accepted. Name the thing to "
            'find in a few words ("the red car"), not a description of the whole scene'
        )
    if not any(ch.isalnum() for ch in text):
        raise InvalidPhraseError(f"the phrase {text!r} has no letter or digit; say what to find, e.g. 'a cup'")
    return text


def check_target(target: np.ndarray, dim: int, who: str) -> np.ndarray:
    """``target`` as a finite float32 vector of length ``dim`` (an embedding row of the explainer's encoder)."""
    t = np.asarray(target, np.float32).reshape(-1)
    if t.shape[0] != dim:
        raise ConfigError(
            f"{who}: the target has dim {t.shape[0]} but the encoder's space has dim {dim}; embed the label or query "
            "with the same encoder that the explainer was built from"
        )
    if not np.all(np.isfinite(t)):
        raise ConfigError(f"{who}: the target vector has NaN or infinite values")
    return t
