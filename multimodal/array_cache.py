"""A small on-disk cache of derived numpy tables (e.g. text embeddings of a fixed vocabulary).

Writes are atomic (temp file + rename); a torn, foreign or mis-shaped file is recomputed; a read-only
cache only costs the recomputation.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np


def cached_array(path: Path, expected_shape: tuple[int, ...], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Return the array stored at ``path`` if it has ``expected_shape``; else compute, store and return it."""
    try:
        table = np.load(path)
        if table.shape == expected_shape:
            return table
    except (OSError, ValueError):
        pass
    table = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, table)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass
    return table
