"""Errors raised by ``multimodal``; all derive from :class:`retrieval.errors.SceneQAError`."""

from __future__ import annotations

from retrieval.errors import ConfigError, SceneQAError, UnknownNameError

__all__ = [
    "ConfigError",
    "DependencyError",
    "EmptyInputError",
    "ImageTooLargeError",
    "InvalidImageError",
    "ModelUnavailableError",
    "SceneQAError",
    "SpecError",
    "UnknownNameError",
]


class InvalidImageError(SceneQAError, ValueError):
    """An input could not be turned into an RGB image (not an image, truncated, unsupported, ...)."""


class ImageTooLargeError(InvalidImageError):
    """An image exceeds a byte, pixel or dimension limit; refused before its pixels are decoded."""


class EmptyInputError(SceneQAError, ValueError):
    """A required list or text (labels, images, a question) is empty."""


class SpecError(SceneQAError, ValueError):
    """A model spec string (``open_clip:ViT-B-32/laion2b_s34b_b79k``, ``lite`` ...) is malformed."""


class ModelUnavailableError(SceneQAError, RuntimeError):
    """Weights for a model could not be loaded (not cached, no network, missing folder/file)."""


class DependencyError(SceneQAError, ImportError):
    """An installed package is missing or too old for a feature."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (or its type name), for one-line error reports."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else type(exc).__name__
