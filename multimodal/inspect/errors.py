"""Errors of inspectors; all derive from :class:`retrieval.errors.SceneQAError` (caught by the CLI)."""

from __future__ import annotations

from retrieval.errors import SceneQAError


class InspectorError(SceneQAError, ValueError):
    """An inspector name, folder or set of good images is unusable (bad name, too few images, ...)."""


class InspectorNotFoundError(InspectorError, KeyError):
    """No inspector of that name (the message lists the known ones)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CorruptInspectorError(InspectorError):
    """An inspector folder is damaged: a file is missing, unreadable or inconsistent with the manifest."""


class BackboneMismatchError(InspectorError):
    """An inspector is used with another backbone than the one that built its memory bank."""


class InspectorExistsError(InspectorError):
    """An inspector of that name exists and the fit did not ask to replace it."""
