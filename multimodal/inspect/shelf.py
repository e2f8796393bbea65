"""The inspectors of one folder as a long-running process (the web server) sees them.

- :meth:`InspectorShelf.open` reads an inspector on first use and keeps it; it is read again when its files
  change on disk (a refit by the CLI or another request swaps a new folder in), and forgotten when it is
  removed or damaged, which then raises (not found / corrupt) while every other inspector keeps working.
- backbones are loaded once per spec, on first use, under a lock (two requests never load one twice).
- :meth:`InspectorShelf.fit` refuses a second fit of a name while one is running (no model time is spent
  on a result that one of them would overwrite); the save itself is atomic (:mod:`multimodal.inspect.store`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image

from multimodal.inspect.backbone import PatchBackbone, create_backbone
from multimodal.inspect.config import FitConfig
from multimodal.inspect.errors import CorruptInspectorError, InspectorError, InspectorExistsError
from multimodal.inspect.fit import Progress, fit_inspector
from multimodal.inspect.inspector import Inspector, InspectorState
from multimodal.inspect.store import BANK, META, list_names, load_state, save_inspector, validate_name


class FitRunningError(InspectorError):
    """A fit of the same inspector name is already running in this process."""


def _stamp(folder: Path) -> tuple:
    """What identifies the saved files of an inspector: inode, size and mtime of both (a swap changes them)."""
    out = []
    for name in (META, BANK):
        try:
            st = os.stat(folder / name)
        except OSError:
            return ()
        out.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


class InspectorShelf:
    """Inspectors under ``root``, opened lazily and shared by threads. ``backbones``: spec -> a loaded
    backbone (default :func:`create_backbone`); ``default_backbone``: the spec new fits use."""

    def __init__(
        self,
        root: Path,
        default_backbone: str = "lite",
        backbones: Callable[[str], PatchBackbone] = create_backbone,
    ) -> None:
        self.root = Path(root)
        self.default_backbone = default_backbone
        self._make_backbone = backbones
        self._backbones: dict[str, PatchBackbone] = {}
        self._open: dict[str, tuple[tuple, Inspector]] = {}
        self._fitting: set[str] = set()
        self._lock = threading.Lock()
        self._backbone_lock = threading.Lock()

    def backbone(self, spec: str) -> PatchBackbone:
        with self._backbone_lock:
            if spec not in self._backbones:
                self._backbones[spec] = self._make_backbone(spec)
            return self._backbones[spec]

    def names(self) -> list[str]:
        return list_names(self.root)

    def open(self, name: str) -> Inspector:
        """The inspector ``name``, read again when its files changed. Raises ``InspectorNotFoundError`` or
        ``CorruptInspectorError`` (a damaged one is forgotten: a later refit can be opened)."""
        folder = self.root / validate_name(name)
        stamp = _stamp(folder)
        with self._lock:
            cached = self._open.get(name)
        if cached is not None and stamp and cached[0] == stamp:
            return cached[1]
        try:
            state = load_state(self.root, name)
        except InspectorError:
            with self._lock:
                self._open.pop(name, None)
            raise
        inspector = Inspector(state, self.backbone(state.backbone.spec))
        with self._lock:
            self._open[name] = (stamp, inspector)
        return inspector

    def summaries(self) -> list[dict[str, object]]:
        """Each inspector's provenance summary (:meth:`InspectorState.summary`); a damaged one is listed with
        its ``error`` instead, so one bad folder never hides the others."""
        rows: list[dict[str, object]] = []
        for name in self.names():
            try:
                rows.append(load_state(self.root, name).summary())
            except InspectorError as exc:
                rows.append({"name": name, "error": str(exc)})
        return rows

    def fit(
        self,
        name: str,
        images: Sequence[Image.Image],
        config: FitConfig = FitConfig(),
        *,
        replace: bool = False,
        skipped: Sequence[str] = (),
        progress: Progress | None = None,
        before_save: Callable[[], None] | None = None,
    ) -> InspectorState:
        """Fit ``name`` on good ``images`` with the default backbone and save it atomically. ``before_save``
        runs just before the save (e.g. a deadline check, so work whose client was answered is not kept)."""
        validate_name(name)
        if not replace and (self.root / name).exists():
            raise InspectorExistsError(f"inspector {name!r} already exists; refit it with replace (CLI: --replace)")
        with self._lock:
            if name in self._fitting:
                raise FitRunningError(f"inspector {name!r} is being fitted by another request; retry when it is done")
            self._fitting.add(name)
        try:
            backbone = self.backbone(self.default_backbone)
            state = fit_inspector(name, backbone, images, config, skipped=skipped, progress=progress)
            if before_save is not None:
                before_save()
            save_inspector(self.root, state, replace=replace)
        finally:
            with self._lock:
                self._fitting.discard(name)
        return state


__all__ = ["CorruptInspectorError", "FitRunningError", "InspectorShelf"]
