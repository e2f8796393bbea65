"""The usual anomaly-detection layout (MVTec AD): ``train/good``, ``test/good``, ``test/<defect>``, optional
``ground_truth/<defect>/<stem>_mask.png`` (any non-zero pixel is defective)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import SourceError
from retrieval.sources import IMAGE_EXTENSIONS


@dataclass(frozen=True)
class TestImage:
    """A test image: its path, its kind (``good`` or the defect folder's name) and its mask (or ``None``)."""

    path: Path
    kind: str
    mask: Path | None = None

    @property
    def defective(self) -> bool:
        return self.kind != "good"


@dataclass(frozen=True)
class AnomalyData:
    """Good training images and the labelled test images, each sorted by path."""

    root: Path
    train: tuple[Path, ...]
    test: tuple[TestImage, ...]

    @property
    def kinds(self) -> list[str]:
        return sorted({t.kind for t in self.test if t.defective})

    @property
    def has_masks(self) -> bool:
        return any(t.mask is not None for t in self.test)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def load_anomaly_data(root: Path, limit: int | None = None) -> AnomalyData:
    """The layout under ``root``; ``limit`` keeps every n-th test image so about ``limit`` remain (for quick
    runs; the train set is kept whole). Raises :class:`SourceError` naming what is missing."""
    root = Path(root)
    train_dir, test_dir = root / "train" / "good", root / "test"
    for need in (train_dir, test_dir):
        if not need.is_dir():
            raise SourceError(
                f"{root}: no {need.relative_to(root)}/ folder; expected the layout train/good, test/good, "
                "test/<defect>, optional ground_truth/<defect>/<stem>_mask.png"
            )
    train = _images(train_dir)
    test: list[TestImage] = []
    for kind_dir in sorted(p for p in test_dir.iterdir() if p.is_dir()):
        for path in _images(kind_dir):
            mask = root / "ground_truth" / kind_dir.name / f"{path.stem}_mask.png"
            test.append(TestImage(path, kind_dir.name, mask if mask.is_file() else None))
    if not train:
        raise SourceError(f"{train_dir}: no images")
    if not any(t.defective for t in test) or all(t.defective for t in test):
        raise SourceError(f"{test_dir}: needs both test/good and at least one test/<defect> folder with images")
    if limit is not None and 0 < limit < len(test):
        step = len(test) / limit
        test = [test[int(i * step)] for i in range(limit)]
    return AnomalyData(root, tuple(train), tuple(test))
