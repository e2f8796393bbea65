"""A ready inspector: the memory bank and its search, the calibration, and the backbone that scores.

Built from a saved :class:`InspectorState` plus a loaded backbone (:func:`open_inspector` checks that they
belong together); after that, :meth:`Inspector.inspect` is pre-process (resize, normalise), forward (backbone,
nearest-neighbour search) and post-process (heatmap, score, verdict, boxes), the last a pure function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from multimodal.inspect.backbone import BackboneInfo, PatchBackbone
from multimodal.inspect.bank import BankSearch, MemoryBank
from multimodal.inspect.calibrate import Calibration
from multimodal.inspect.config import FitConfig, VerdictConfig
from multimodal.inspect.errors import BackboneMismatchError
from multimodal.inspect.features import extract
from multimodal.inspect.regions import Region, heatmap, regions, resize_map, score_map


@dataclass(frozen=True)
class FitReport:
    """How the inspector was fitted: image counts, skipped inputs (``where: reason``), patches before and
    after the coreset, the threshold method, and seconds per stage."""

    images_used: int
    bank_images: int
    held_back: int
    threshold_method: str
    patches: int
    bank_size: int
    skipped: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class InspectorState:
    """Everything an inspector is: saved by :mod:`multimodal.inspect.store`. ``shape``: the input
    ``(width, height)``."""

    name: str
    backbone: BackboneInfo
    config: FitConfig
    shape: tuple[int, int]
    bank: MemoryBank
    calibration: Calibration
    report: FitReport

    def summary(self) -> dict[str, object]:
        """Plain data for ``--json`` and reports: provenance, bank, threshold and fit report."""
        cfg, rep = self.config, self.report
        return {
            "name": self.name,
            "backbone": self.backbone.spec,
            "backbone_description": self.backbone.description,
            "pretrained": self.backbone.pretrained,
            "normalisation": {"mean": list(self.backbone.mean), "std": list(self.backbone.std)},
            "input_size": list(self.shape),
            "layers": list(cfg.layers),
            "bank": self.bank.kind,
            "bank_size": self.bank.size,
            "bank_images": rep.bank_images,
            "bank_dims": int(self.bank.patches.shape[1]),
            "patches_seen": rep.patches,
            "threshold": round(self.calibration.threshold, 4),
            "false_alarm": cfg.false_alarm,
            "threshold_rule": self.calibration.method,
            "false_alarm_guaranteed": round(self.calibration.guaranteed, 4),
            "threshold_how": self.calibration.describe(),
            "threshold_method": rep.threshold_method,
            "images_used": rep.images_used,
            "skipped": list(rep.skipped),
            "seconds": rep.seconds,
        }


@dataclass(frozen=True)
class Inspection:
    """One image's result. ``heatmap``: float32 ``(H, W)`` at the image's own size, in score units."""

    image: str
    score: float
    threshold: float
    verdict: str
    probability: float
    boxes: tuple[Region, ...]
    heatmap: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, object]:
        return {
            "image": self.image,
            "score": round(self.score, 4),
            "threshold": round(self.threshold, 4),
            "verdict": self.verdict,
            "probability": round(self.probability, 4),
            "boxes": [b.to_dict() for b in self.boxes],
        }


def image_scores(grids: np.ndarray, border: int) -> np.ndarray:
    """The image score of each patch-score grid ``(n, h, w)``: the maximum of its score map (border cells
    left out); float64 ``(n,)``."""
    return np.array([float(score_map(g, border).max()) for g in grids])


class Inspector:
    """A fitted inspector bound to its backbone. Thread-safe for concurrent :meth:`inspect` calls."""

    def __init__(self, state: InspectorState, backbone: PatchBackbone) -> None:
        check_backbone(state, backbone.info)
        self.state = state
        self.backbone = backbone
        self._search = BankSearch(state.bank)

    @property
    def name(self) -> str:
        return self.state.name

    def features(self, images: Sequence[Image.Image], batch_size: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """Forward pass: patch features ``(n, h, w, d)`` and descriptors ``(n, c)`` of RGB images (any size;
        resized to the input shape)."""
        return extract(self.backbone, images, self.state.shape, self.state.config, batch_size)

    def grids(self, feats: np.ndarray, descriptors: np.ndarray) -> np.ndarray:
        """Nearest-neighbour search: patch-score grids float32 ``(n, h, w)`` of :meth:`features`' output."""
        cfg = self.state.config
        return self._search.patch_scores(feats, descriptors, cfg.nearest_images, cfg.neighbours)

    def inspect(
        self,
        images: Sequence[Image.Image],
        names: Sequence[str] | None = None,
        verdict: VerdictConfig = VerdictConfig(),
        batch_size: int = 8,
    ) -> list[Inspection]:
        """Score, verdict, probability, boxes and heatmap of each RGB image."""
        names = list(names) if names is not None else [f"image {i}" for i in range(len(images))]
        out: list[Inspection] = []
        for lo in range(0, len(images), batch_size):
            grids = self.grids(*self.features(images[lo : lo + batch_size], batch_size))
            for img, name, grid in zip(images[lo : lo + batch_size], names[lo : lo + batch_size], grids):
                out.append(self.judge(img.size, name, grid, verdict))
        return out

    def judge(self, size: tuple[int, int], name: str, grid: np.ndarray, verdict: VerdictConfig) -> Inspection:
        """Post-processing of one patch-score grid for an image of ``size`` ``(w, h)``."""
        cal, cfg = self.state.calibration, self.state.config
        scores = score_map(grid, cfg.border)
        score = float(scores.max())
        return Inspection(
            image=name,
            score=score,
            threshold=cal.threshold,
            verdict=cal.verdict(score, verdict.band),
            probability=cal.probability(score),
            boxes=tuple(regions(scores, verdict.region_level * cal.threshold, size, verdict.max_boxes)),
            heatmap=resize_map(heatmap(scores, self.state.shape, cfg.blur), size),
        )


def check_backbone(state: InspectorState, running: BackboneInfo) -> None:
    """Refuse a backbone other than the one that built the bank, naming both."""
    built = state.backbone
    if (built.spec, built.channels, built.strides) == (running.spec, running.channels, running.strides) and (
        built.mean,
        built.std,
    ) != (running.mean, running.std):
        raise BackboneMismatchError(
            f"inspector {state.name!r} was built with backbone {built.spec!r} normalising inputs with mean "
            f"{built.mean} / std {built.std}, but the running {running.spec!r} uses {running.mean} / {running.std} "
            f"(another timm or package version?); refit with `sceneqa inspect fit {state.name} --good SOURCE "
            f"--backbone {running.spec} --replace`"
        )
    if (built.spec, built.channels, built.strides) != (running.spec, running.channels, running.strides):
        raise BackboneMismatchError(
            f"inspector {state.name!r} was built with backbone {built.spec!r} ({built.description}) but the "
            f"running backbone is {running.spec!r} ({running.description}); its memory bank only fits "
            f"{built.spec!r}: use --backbone {built.spec} or refit with `sceneqa inspect fit {state.name} "
            f"--good SOURCE --backbone {running.spec} --replace`"
        )
