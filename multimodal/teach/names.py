"""Label-set names and the folder they live in.

A label set is a folder ``<labelsets dir>/<NAME>/``; the name becomes a path component, so it is held to a
small alphabet: letters, digits, ``-``, ``_`` and ``.`` (not first), 1 to :data:`MAX_NAME_CHARS` characters.
``/``, ``..``, spaces and control characters are refused with a message that names the rule, never mapped.
"""

from __future__ import annotations

import re
from pathlib import Path

from multimodal.teach.errors import LabelSetError

MAX_NAME_CHARS = 64
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
#: Sub-folder of the sceneqa cache dir that holds label sets unless ``--labelsets-dir`` names another.
LABELSETS_SUBDIR = "labelsets"


def validate_name(name: object) -> str:
    """``name`` if it is a valid label-set name, else :class:`LabelSetError` naming the rule it breaks."""
    if not isinstance(name, str):
        raise LabelSetError(f"label set name must be text, got {type(name).__name__}")
    shown = repr(name if len(name) <= 40 else name[:37] + "...")
    if not name:
        raise LabelSetError("label set name is empty; use letters, digits, '-', '_' or '.', e.g. 'shoes-v2'")
    if len(name) > MAX_NAME_CHARS:
        raise LabelSetError(f"label set name {shown} has {len(name)} characters; at most {MAX_NAME_CHARS} are allowed")
    if "/" in name or "\\" in name or ".." in name:
        raise LabelSetError(f"label set name {shown} contains '/', '\\' or '..'; a name is one folder, not a path")
    if not _NAME.fullmatch(name):
        raise LabelSetError(
            f"label set name {shown} has characters outside letters, digits, '-', '_' and '.' (not first), "
            "e.g. spaces; use something like 'shoe-types'"
        )
    return name


def labelsets_dir(cache_dir: Path, override: Path | None = None) -> Path:
    """Where label sets live: ``override`` (``--labelsets-dir``) or ``<cache_dir>/labelsets``."""
    return Path(override) if override is not None else Path(cache_dir) / LABELSETS_SUBDIR


def labelset_path(root: Path, name: str) -> Path:
    """The folder of label set ``name`` (validated) under ``root``."""
    return Path(root) / validate_name(name)
