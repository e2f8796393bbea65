"""Inspect: defect and anomaly detection learned from good images only, with heatmaps that show where.

Patch features from a pretrained CNN (:mod:`~multimodal.inspect.backbone`, :mod:`~multimodal.inspect.features`),
a memory bank of good patches searched with FAISS (:mod:`~multimodal.inspect.bank`,
:mod:`~multimodal.inspect.coreset`), a threshold and probability fitted on held-back good images
(:mod:`~multimodal.inspect.calibrate`), heatmaps and boxes (:mod:`~multimodal.inspect.regions`,
:mod:`~multimodal.inspect.render`); fitting in :mod:`~multimodal.inspect.fit`, the saved folder in
:mod:`~multimodal.inspect.store`. Modules in this package import each other by module, never this package.
"""

from multimodal.inspect.backbone import BACKBONES, create_backbone
from multimodal.inspect.config import FitConfig, VerdictConfig
from multimodal.inspect.fit import fit_inspector
from multimodal.inspect.inspector import Inspection, Inspector, InspectorState
from multimodal.inspect.sources import read_good_images
from multimodal.inspect.store import inspectors_dir, list_names, load_state, open_inspector, save_inspector

__all__ = [
    "BACKBONES",
    "FitConfig",
    "Inspection",
    "Inspector",
    "InspectorState",
    "VerdictConfig",
    "create_backbone",
    "fit_inspector",
    "inspectors_dir",
    "list_names",
    "load_state",
    "open_inspector",
    "read_good_images",
    "save_inspector",
]
