"""Optional packages only evaluation uses (installed by ``pip install 'sceneqa[eval]'``), imported on demand."""

from __future__ import annotations

import importlib
from types import ModuleType

from multimodal.errors import DependencyError

# import name -> the name pip knows it by, where the two differ
DISTRIBUTIONS = {"easy_vqa": "easy-vqa"}


def require(module: str, extra: str = "eval", *, purpose: str | None = None) -> ModuleType:
    """``import module``, or a :class:`DependencyError` naming the extra that installs it.

    ``purpose`` says what needs it (``"--data easy-vqa"``), for the message."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = DISTRIBUTIONS.get(module.split(".")[0], module.split(".")[0])
        raise DependencyError(
            f"the {package} package is not installed (needed for {purpose or 'this evaluation'}): "
            f"pip install 'sceneqa[{extra}]'"
        ) from exc
