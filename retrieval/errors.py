"""The project's exception hierarchy root.

It lives in the lowest layer (``retrieval`` imports nothing of ours) so that both ``retrieval`` and
``multimodal`` raise subclasses of one base class, and callers (CLI, web app) catch one type.
Every message names the bad input, what was expected, and the fix where there is one.
"""

from __future__ import annotations


class SceneQAError(Exception):
    """Base class of every error sceneqa raises on purpose."""


class ConfigError(SceneQAError, ValueError):
    """A configuration value is out of range or inconsistent."""


class UnknownNameError(SceneQAError, KeyError):
    """A registry lookup failed; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CatalogError(SceneQAError):
    """An index folder is missing, damaged, or used inconsistently."""


class EncoderMismatchError(CatalogError):
    """An index is opened with a different encoder (or dimension) than the one that built it."""


class IndexLockedError(CatalogError):
    """Another process holds the index folder's writer lock."""


class FilterError(SceneQAError, ValueError):
    """A metadata filter is malformed, names an unknown column, or has a value of the wrong type."""


class SourceError(SceneQAError, ValueError):
    """A catalog source (folder, CSV, JSONL, Parquet) cannot be read as a whole."""


class CatalogEmptyError(CatalogError):
    """The catalog holds no items yet (HTTP 404)."""


class ItemNotFoundError(CatalogError, KeyError):
    """No item with the given id (HTTP 404)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ItemExistsError(CatalogError):
    """An add names an id that is already in the catalog and did not ask to replace it (HTTP 409)."""


class InvalidItemIdError(CatalogError, ValueError):
    """An item id breaks the id rules (empty, too long, ``/``, NUL or control characters) (HTTP 400)."""


class MetadataLimitError(CatalogError, ValueError):
    """Metadata breaks a documented cap (keys per item, key length, value length) (HTTP 400)."""


class RequestTooLargeError(SceneQAError, ValueError):
    """One request asks for more work than a documented per-request cap allows (HTTP 413)."""
