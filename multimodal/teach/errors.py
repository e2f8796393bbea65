"""Errors of label sets; all derive from :class:`retrieval.errors.SceneQAError` (caught by the CLI and the API)."""

from __future__ import annotations

from retrieval.errors import SceneQAError


class LabelSetError(SceneQAError, ValueError):
    """A label set name, folder or example set is unusable (bad name, missing, corrupted, too few examples)."""


class LabelSetNotFoundError(LabelSetError, KeyError):
    """No label set of that name (the message lists the known ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class LabelSetEncoderMismatchError(LabelSetError):
    """A label set is used with another encoder (or dimension) than the one that taught it."""
