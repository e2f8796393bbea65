"""An inspector on disk: one folder, written atomically, with its provenance checked on load.

Layout of ``<inspectors dir>/<NAME>/``:

- ``inspector.json``: format, name, creation time, backbone (spec, description, pretrained, channels,
  strides, input normalisation mean/std), the fit config (image size, layers, pooling, coreset share ...),
  the input shape, the calibration (threshold and its rule, the Gumbel fit, false-alarm rate, the held-back
  scores, how it was set) and the fit report;
- ``bank.npz``: the memory bank's arrays (patches, per-image offsets, image descriptors, the reduction's
  mean and components), no pickles; its SHA-256 and shapes are in the manifest.

A save writes a temporary sibling folder and renames it into place; a reader sees the old inspector or the
new one, never a half-written one, and a failed save leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from multimodal.inspect.backbone_base import TF_MEAN, TF_STD, BackboneInfo, PatchBackbone
from multimodal.inspect.bank import MemoryBank
from multimodal.inspect.calibrate import Calibration
from multimodal.inspect.config import FitConfig
from multimodal.inspect.errors import (
    CorruptInspectorError,
    InspectorError,
    InspectorExistsError,
    InspectorNotFoundError,
)
from multimodal.inspect.inspector import FitReport, Inspector, InspectorState

FORMAT = "sceneqa-inspector/1"
META = "inspector.json"
BANK = "bank.npz"
INSPECTORS_SUBDIR = "inspectors"
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
RESERVED = ("fit", "list")  # the words of `sceneqa inspect fit|list`


def validate_name(name: str) -> str:
    """``name`` if it is one folder name of letters, digits, ``-``, ``_``, ``.`` (not first), at most 64."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name or name in RESERVED:
        raise InspectorError(
            f"inspector name {str(name)[:40]!r} is not allowed: use 1-64 letters, digits, '-', '_' or '.' "
            f"(not first), not {' or '.join(RESERVED)}; e.g. 'spindle-v2'"
        )
    return name


def inspectors_dir(cache_dir: Path, override: Path | None = None) -> Path:
    """Where inspectors live: ``override`` (``--inspectors-dir``) or ``<cache_dir>/inspectors``."""
    return Path(override) if override is not None else Path(cache_dir) / INSPECTORS_SUBDIR


def list_names(root: Path) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / META).is_file() and _NAME.fullmatch(p.name))


def save_inspector(root: Path, state: InspectorState, replace: bool = False) -> Path:
    """Write ``state`` to ``root/<name>`` atomically; an existing one is refused unless ``replace``."""
    final = Path(root) / validate_name(state.name)
    if final.exists() and not replace:  # checked again under the lock: another save may come first
        raise InspectorExistsError(f"inspector {state.name!r} already exists in {root}; pass --replace to refit it")
    Path(root).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{state.name}.new-", dir=root))
    try:
        _write(tmp, state)
        with _save_lock(Path(root)):  # two saves of one name (threads or processes) swap in one after the other
            if final.exists() and not replace:
                raise InspectorExistsError(
                    f"inspector {state.name!r} already exists in {root}; pass --replace to refit it"
                )
            _swap_in(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


@contextmanager
def _save_lock(root: Path) -> Iterator[None]:
    """An exclusive flock on the ``root`` folder itself (no lock file; released when the process dies)."""
    import fcntl

    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write(folder: Path, state: InspectorState) -> None:
    buf = io.BytesIO()
    np.savez(buf, **state.bank.arrays())
    data = buf.getvalue()
    (folder / BANK).write_bytes(data)
    meta = {
        "format": FORMAT,
        "name": state.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backbone": asdict(state.backbone),
        "config": asdict(state.config),
        "input_shape": list(state.shape),
        "calibration": {**asdict(state.calibration), "how": state.calibration.describe()},
        "report": asdict(state.report),
        "bank": {
            "kind": state.bank.kind,
            "shapes": {k: list(v.shape) for k, v in state.bank.arrays().items()},
            "sha256": _sha(data),
        },
    }
    (folder / META).write_text(json.dumps(meta, indent=2))
    for path in (folder / BANK, folder / META):
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def _swap_in(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.replace(tmp, final)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    os.replace(final, old / "inspector")
    try:
        os.replace(tmp, final)
    except OSError:
        os.replace(old / "inspector", final)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def load_state(root: Path, name: str) -> InspectorState:
    """The saved inspector ``name`` under ``root``; its files are checked against the manifest."""
    folder = Path(root) / validate_name(name)
    if not (folder / META).is_file():
        known = list_names(root)
        raise InspectorNotFoundError(
            f"no inspector {name!r} in {root}"
            + (f"; known: {', '.join(known)}" if known else "; fit one with `sceneqa inspect fit NAME --good DIR`")
        )
    try:
        meta = json.loads((folder / META).read_text())
        data = (folder / BANK).read_bytes()
    except (OSError, ValueError) as exc:
        raise CorruptInspectorError(f"inspector {name!r} at {folder} is damaged ({exc}); refit it") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CorruptInspectorError(f"inspector {name!r}: {META} has format {found!r}, expected {FORMAT!r}; refit it")
    try:
        return _state_from(meta, data, name)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptInspectorError(f"inspector {name!r} at {folder} is damaged ({exc!r}); refit it") from exc


def _state_from(meta: dict, data: bytes, name: str) -> InspectorState:
    info = meta["bank"]
    if _sha(data) != info["sha256"]:
        raise CorruptInspectorError(f"inspector {name!r}: {BANK} does not match its checksum; refit it")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in info["shapes"]}
    for key, want in info["shapes"].items():
        if list(arrays[key].shape) != want:
            raise CorruptInspectorError(f"inspector {name!r}: {key} {arrays[key].shape} is not the recorded {want}")
    bank = MemoryBank(kind=info["kind"], **arrays)
    b = meta["backbone"]
    backbone = BackboneInfo(
        b["spec"],
        b["description"],
        bool(b["pretrained"]),
        tuple(b["channels"]),
        tuple(b["strides"]),
        # inspectors saved before the normalisation was recorded were all built with (x - 127) / 128
        mean=tuple(float(v) for v in b.get("mean", TF_MEAN)),
        std=tuple(float(v) for v in b.get("std", TF_STD)),
    )
    config = FitConfig(**{**meta["config"], "layers": tuple(meta["config"]["layers"])})
    if config.layers is None or config.descriptor_layer is None:
        raise CorruptInspectorError(f"inspector {name!r}: its config records no layers; refit it")
    dim = sum(backbone.channels[i] for i in config.layers)
    if dim != bank.mean.shape[0] or bank.components.shape[1] != bank.patches.shape[1]:
        raise CorruptInspectorError(
            f"inspector {name!r}: bank arrays do not fit layers {config.layers} ({dim} channels)"
        )
    cal = {k: v for k, v in meta["calibration"].items() if k != "how"}
    cal["good_scores"] = tuple(cal.get("good_scores", ()))
    cal.setdefault("guaranteed", cal["false_alarm"])  # older inspectors: the plug-in Gumbel quantile
    shape = tuple(int(v) for v in meta["input_shape"])
    report = FitReport(**{**meta["report"], "skipped": tuple(meta["report"]["skipped"])})
    return InspectorState(meta["name"], backbone, config, (shape[0], shape[1]), bank, Calibration(**cal), report)


def open_inspector(root: Path, name: str, backbone: PatchBackbone) -> Inspector:
    """The saved inspector ``name`` bound to ``backbone`` (refused when it is not the one that built it)."""
    return Inspector(load_state(root, name), backbone)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
