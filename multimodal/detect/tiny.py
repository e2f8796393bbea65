"""The ``tiny`` twin of the CenterNet detector: the same pre- and post-processing around a two-layer network
with seeded random weights (stride 4, 80 class heatmaps after sigmoid, 4 box distances), for tests of the code
path. Its detections mean nothing."""

from __future__ import annotations

import torch
from torch import nn

from multimodal.detect.centernet import CenterNetConfig, CenterNetDetector
from multimodal.detect.coco_names import COCO_NAMES


class TinyCenterNet(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.heat = nn.Conv2d(8, len(COCO_NAMES), 3, padding=1)
        self.wh = nn.Conv2d(8, 4, 3, padding=1)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=gen) * 0.05

    @torch.inference_mode()
    def run(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = torch.relu(self.stem(x / 255.0))
        return [torch.sigmoid(self.heat(f) * 20.0), torch.relu(self.wh(f)) * 200.0 + 4.0]


def load_tiny_detector(cfg: CenterNetConfig = CenterNetConfig(), seed: int = 0) -> CenterNetDetector:
    return CenterNetDetector(TinyCenterNet(seed).eval(), cfg)
