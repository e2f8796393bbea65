"""A label set on disk: one folder, written atomically, with its provenance checked on load.

Layout of ``<labelsets dir>/<NAME>/``:

- ``labelset.json``: format, name, creation time, encoder (spec, dim, family), features (kind, flip, dim),
  labels and their zero-shot texts, per-label example counts, the head's blend and temperature, the
  cross-validation report, every example (id, label, content SHA-256, where it was read) and the problems
  reported while teaching;
- ``head.npz``: the head's arrays (``coef``, ``intercept``, ``prototypes``, ``center``), no pickles;
- ``examples.npz``: the examples' features (``x``, ``x_flip``), joint-space ``embedding`` and label
  index ``y``, so ``teach --add`` refits without re-embedding the old examples.

A save writes a temporary sibling folder and renames it into place; a reader sees the old label set or the
new one, never a half-written one, and a failed save leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from multimodal.teach.errors import LabelSetEncoderMismatchError, LabelSetError, LabelSetNotFoundError
from multimodal.teach.examples import Example
from multimodal.teach.features import FeatureSpec
from multimodal.teach.head import CvReport, Head
from multimodal.teach.names import labelset_path, validate_name

FORMAT = "sceneqa-labelset/1"
META = "labelset.json"


@dataclass(frozen=True)
class ExampleMemory:
    """The examples' features ``x`` ``(n, f)``, flip views ``x_flip`` ``(n, f)`` or ``None``, joint-space
    ``embedding`` ``(n, d)`` and label indices ``y`` ``(n,)``, in the order of ``LabelSet.examples``."""

    x: np.ndarray
    x_flip: np.ndarray | None
    embedding: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class LabelSet:
    """A taught label set: the head, the zero-shot ``texts`` per label (``None``: no text blend), where it
    came from (encoder, features, examples) and the examples' stored features."""

    name: str
    encoder_spec: str
    encoder_dim: int
    encoder_family: str
    features: FeatureSpec
    head: Head
    texts: tuple[str, ...] | None
    examples: tuple[Example, ...]
    memory: ExampleMemory
    problems: tuple[str, ...] = ()
    created: str = ""

    @property
    def labels(self) -> tuple[str, ...]:
        return self.head.labels

    def counts(self) -> dict[str, int]:
        n = np.bincount(self.memory.y, minlength=len(self.labels))
        return {label: int(k) for label, k in zip(self.labels, n)}

    def summary(self) -> dict[str, object]:
        """What ``labelsets info`` shows (everything but the per-example list)."""
        return {
            "name": self.name,
            "created": self.created,
            "encoder": {"spec": self.encoder_spec, "dim": self.encoder_dim, "family": self.encoder_family},
            "features": self.features.as_dict(),
            "labels": list(self.labels),
            "texts": list(self.texts) if self.texts is not None else None,
            "counts": self.counts(),
            "examples": len(self.examples),
            "head": {
                "power": self.head.power,
                "C": self.head.c,
                "proto_weight": self.head.proto_weight,
                "text_weight": self.head.text_weight,
                "temperature": self.head.temperature,
            },
            "cv": self.head.cv.as_dict(),
            "problems": list(self.problems),
        }


def save_labelset(root: Path, labelset: LabelSet) -> Path:
    """Write ``labelset`` to ``root/<name>/`` atomically (replacing an older version); returns the folder."""
    final = labelset_path(root, labelset.name)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{labelset.name}.new-", dir=root))
    try:
        _write(tmp, labelset)
        _swap_in(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _write(folder: Path, ls: LabelSet) -> None:
    meta = {"format": FORMAT, **ls.summary()}
    meta["examples"] = [{"id": e.id, "label": e.label, "sha256": e.sha256, "where": e.where} for e in ls.examples]
    h, m = ls.head, ls.memory
    _write_npz(folder / "head.npz", coef=h.coef, intercept=h.intercept, prototypes=h.prototypes, center=h.center)
    arrays = {"x": m.x, "embedding": m.embedding, "y": m.y}
    if m.x_flip is not None:
        arrays["x_flip"] = m.x_flip
    _write_npz(folder / "examples.npz", **arrays)
    (folder / META).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    for p in folder.iterdir():
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())


def _write_npz(path: Path, **arrays: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _swap_in(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing ``final`` is moved aside first and deleted after."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / "set")
    try:
        os.replace(tmp, final)
    except OSError:
        if old is not None:  # put the previous version back
            os.replace(old / "set", final)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def load_labelset(root: Path, name: str, *, encoder_spec: str | None = None, encoder_dim: int | None = None):
    """Read label set ``name`` from ``root``. With ``encoder_spec`` / ``encoder_dim`` (the running encoder),
    refuse one taught with another encoder, naming both. Raises :class:`LabelSetNotFoundError` (listing the
    known names) or :class:`LabelSetError` for a damaged folder."""
    folder = labelset_path(root, name)
    if not (folder / META).is_file():
        known = list_names(root)
        raise LabelSetNotFoundError(
            f"no label set {name!r} in {root}; known: {', '.join(known) or 'none'} "
            "(teach one with: sceneqa teach NAME --examples SOURCE)"
        )
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        enc = meta["encoder"]
        if encoder_spec is not None and (enc["spec"] != encoder_spec or (encoder_dim and enc["dim"] != encoder_dim)):
            raise LabelSetEncoderMismatchError(
                f"label set {name!r} was taught with encoder {enc['spec']!r} (dim {enc['dim']}) but the running "
                f"encoder is {encoder_spec!r} (dim {encoder_dim}); run with --encoder {enc['spec']} "
                f"(or the tier that gives it), or re-teach it with this encoder"
            )
        return _from_meta(folder, meta)
    except LabelSetEncoderMismatchError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, json.JSONDecodeError) as exc:
        raise LabelSetError(
            f"label set {name!r} in {folder} is damaged ({type(exc).__name__}: {exc}); "
            f"remove it (sceneqa labelsets remove {name}) and teach it again"
        ) from exc


def _from_meta(folder: Path, meta: dict) -> LabelSet:
    if meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
    with np.load(folder / "head.npz", allow_pickle=False) as h:
        head_arrays = {k: h[k] for k in ("coef", "intercept", "prototypes", "center")}
    with np.load(folder / "examples.npz", allow_pickle=False) as m:
        memory = ExampleMemory(m["x"], m["x_flip"] if "x_flip" in m else None, m["embedding"], m["y"].astype(int))
    labels = tuple(meta["labels"])
    hp, cv = meta["head"], meta["cv"]
    head = Head(
        labels=labels,
        **head_arrays,
        power=float(hp["power"]),
        c=float(hp["C"]),
        proto_weight=float(hp["proto_weight"]),
        text_weight=float(hp["text_weight"]),
        temperature=float(hp["temperature"]),
        cv=CvReport(
            cv["accuracy"],
            int(cv["held_out"]),
            int(cv["folds"]),
            dict(cv["per_label"]),
            confusion=tuple(tuple(int(v) for v in row) for row in cv.get("confusion", ())),
        ),
    )
    examples = tuple(Example(e["id"], "", e["label"], e["where"], e["sha256"]) for e in meta["examples"])
    feats = FeatureSpec(**{k: meta["features"][k] for k in ("kind", "flip")})
    _check_shapes(head, memory, examples, meta)
    return LabelSet(
        name=meta["name"],
        encoder_spec=meta["encoder"]["spec"],
        encoder_dim=int(meta["encoder"]["dim"]),
        encoder_family=meta["encoder"].get("family", ""),
        features=feats,
        head=head,
        texts=tuple(meta["texts"]) if meta.get("texts") is not None else None,
        examples=examples,
        memory=memory,
        problems=tuple(meta.get("problems", ())),
        created=meta.get("created", ""),
    )


def _check_shapes(head: Head, memory: ExampleMemory, examples, meta: dict) -> None:
    n_labels, dim = head.coef.shape
    if head.intercept.shape != (n_labels,) or head.prototypes.shape != (n_labels, dim) or head.center.shape != (dim,):
        raise ValueError(f"head arrays disagree with {n_labels} labels of dim {dim}")
    if n_labels != len(head.labels):
        raise ValueError(f"head arrays disagree with {n_labels} labels of dim {dim}")
    conf = head.cv.confusion
    if conf and (len(conf) != n_labels or any(len(row) != n_labels for row in conf)):
        raise ValueError(f"the confusion counts are not {n_labels} x {n_labels}")
    if memory.x.shape != (len(examples), dim) or memory.y.shape != (len(examples),):
        raise ValueError(f"stored features {memory.x.shape} disagree with {len(examples)} examples of dim {dim}")
    if memory.embedding.shape != (len(examples), int(meta["encoder"]["dim"])):
        raise ValueError(f"stored embeddings {memory.embedding.shape} disagree with the encoder dim")


def list_names(root: Path) -> list[str]:
    """Names of the label sets under ``root`` (folders holding a ``labelset.json``), sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and (p / META).is_file())


def remove_labelset(root: Path, name: str) -> Path:
    """Delete label set ``name``: renamed away first (atomic for readers), then deleted."""
    folder = labelset_path(root, name)
    if not (folder / META).is_file():
        raise LabelSetNotFoundError(f"no label set {name!r} in {root}; known: {', '.join(list_names(root)) or 'none'}")
    trash = Path(tempfile.mkdtemp(prefix=f".{validate_name(name)}.rm-", dir=root))
    os.replace(folder, trash / "set")
    shutil.rmtree(trash, ignore_errors=True)
    return folder
