"""MTCNN face detection (Zhang et al. 2016, "Joint Face Detection and Alignment using Multi-task Cascaded
Convolutional Networks"): a compact port of the inference in facenet-pytorch 2.6.0 (Tim Esler, MIT licence),
run on the P-, R- and O-net weights that ship with that wheel, vendored in ``mtcnn_weights/`` (see its
PROVENANCE.md). The three networks keep facenet-pytorch's layer names so its state dicts load strictly.

Stages, as in the original: an image pyramid (faces from ``min_face_size`` px up) scanned by PNet, per-scale
and global NMS, box regression, boxes squared and refined by RNet (24x24 crops) and ONet (48x48 crops), a final
"Min"-overlap NMS. Landmarks are not computed. Deviations, all where the original fails: an image too small for
one pyramid level, or a candidate box wholly outside the image, yields no face instead of an exception (or a
misaligned crop list)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn.functional import interpolate
from torchvision.ops import nms

from multimodal.ask.facts.faces import Box
from multimodal.errors import ConfigError, ModelUnavailableError
from multimodal.images.recent import RecentImages

WEIGHTS_DIR = Path(__file__).with_name("mtcnn_weights")


@dataclass(frozen=True)
class MtcnnConfig:
    """``min_face_size``: smallest face searched, in px of the working image (the input downscaled so that its
    longer side is at most ``max_side``). ``thresholds``: PNet, RNet, ONet face-probability cut-offs (the
    original's defaults). ``factor``: pyramid scale step. ``min_prob``: faces reported by
    :class:`MtcnnFaceDetector.detect` need an ONet probability >= this (0.95: chosen on the coco128 train split
    with ``python -m eval.faces_eval``; below it most extra detections are not faces)."""

    min_face_size: int = 20
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    factor: float = 0.709
    max_side: int = 1024
    min_prob: float = 0.95

    def __post_init__(self) -> None:
        if self.min_face_size < 12:
            raise ConfigError(f"min_face_size is {self.min_face_size}; expected >= 12 (PNet's 12-px window)")
        if not 0.0 < self.factor < 1.0:
            raise ConfigError(f"factor is {self.factor}; expected a pyramid step in (0, 1), e.g. 0.709")
        if len(self.thresholds) != 3 or not all(0.0 <= t <= 1.0 for t in self.thresholds):
            raise ConfigError(f"thresholds are {self.thresholds}; expected three probabilities (PNet, RNet, ONet)")
        if self.max_side < 48:
            raise ConfigError(f"max_side is {self.max_side}; expected >= 48 px (ONet's input)")
        if not 0.0 <= self.min_prob <= 1.0:
            raise ConfigError(f"min_prob is {self.min_prob}; expected a probability in [0, 1]")


class PNet(nn.Module):
    """Proposal net, fully convolutional: (n, 3, h, w) -> box offsets (n, 4, h', w'), P(face) (n, 2, h', w')."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """Refine net: (n, 3, 24, 24) -> box offsets (n, 4), P(face) (n, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # (n, c, h, w) -> (n, w, h, c): the weights were converted from a Caffe/TF layout
        x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output net: (n, 3, 48, 48) -> box offsets (n, 4), landmarks (n, 10), P(face) (n, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


@dataclass(frozen=True)
class MtcnnNets:
    pnet: PNet
    rnet: RNet
    onet: ONet


def load_mtcnn(weights_dir: Path = WEIGHTS_DIR) -> MtcnnNets:
    """The three nets with the packaged weights, in eval mode on the CPU (strict state-dict load)."""
    nets = []
    for name, cls in (("pnet", PNet), ("rnet", RNet), ("onet", ONet)):
        path = weights_dir / f"{name}.pt"
        if not path.is_file():
            raise ModelUnavailableError(
                f"MTCNN weights {path} are missing; they ship with sceneqa (multimodal/ask/facts/mtcnn_weights/): "
                "reinstall the package"
            )
        net = cls()
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        nets.append(net.eval().requires_grad_(False))
    return MtcnnNets(*nets)


class MtcnnFaceDetector:
    """The :class:`~multimodal.ask.facts.faces.FaceDetector` over MTCNN: faces (frontal and turned, from
    ``min_face_size`` px at the working resolution) as boxes in the input image's pixels."""

    name = "MTCNN (facenet-pytorch weights, packaged)"

    def __init__(self, nets: MtcnnNets, config: MtcnnConfig = MtcnnConfig()) -> None:
        self._nets = nets
        self.config = config
        self._recent: RecentImages[list[tuple[Box, float]]] = RecentImages(32)  # several questions, one photo

    @classmethod
    def load(cls, config: MtcnnConfig = MtcnnConfig()) -> MtcnnFaceDetector:
        return cls(load_mtcnn(), config)

    def detect(self, img: Image.Image) -> list[Box]:
        """Faces with ONet probability >= ``config.min_prob``, most probable first."""
        scored = self._recent.get(img, self.detect_scored)
        return [b for b, p in scored if p >= self.config.min_prob]

    def detect_scored(self, img: Image.Image) -> list[tuple[Box, float]]:
        """Every face passing the three stage thresholds, with its ONet probability, most probable first.
        Boxes are in ``img``'s pixels, clipped to the image."""
        if min(img.size) == 0:
            return []
        scale = min(1.0, self.config.max_side / max(img.size))
        rgb = img.convert("RGB")
        if scale < 1.0:
            rgb = rgb.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BILINEAR)
        pixels = torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
        with torch.inference_mode():
            boxes = detect_faces(pixels, self._nets, self.config)
        return [(_to_box(row[:4] / scale, img.size), float(row[4])) for row in boxes[np.argsort(-boxes[:, 4])]]


def _to_box(xyxy: np.ndarray, size: tuple[int, int]) -> Box:
    w, h = size
    x0, y0, x1, y1 = (float(v) for v in xyxy)

    def clip(v: float, hi: int) -> int:
        return min(max(0, round(v)), hi)

    return Box(clip(x0, w), clip(y0, h), clip(x1, w), clip(y1, h))


def detect_faces(img: torch.Tensor, nets: MtcnnNets, config: MtcnnConfig) -> np.ndarray:
    """MTCNN on one image: ``img`` float32 (1, 3, h, w), RGB values 0..255. Returns float32 (n, 5): x0, y0, x1,
    y1 (px, may reach past the image) and P(face); (0, 5) when none."""
    boxes = _propose(img, nets.pnet, config)
    if len(boxes):
        boxes = _stage_two(img, boxes, nets.rnet, config.thresholds[1])
    if len(boxes):
        boxes = _stage_three(img, boxes, nets.onet, config.thresholds[2])
    return boxes.numpy().astype(np.float32) if len(boxes) else np.zeros((0, 5), np.float32)


def pyramid_scales(h: int, w: int, min_face_size: int, factor: float) -> list[float]:
    """Scales at which PNet's 12-px window covers faces from ``min_face_size`` px up to the image's short side."""
    m = 12.0 / min_face_size
    minl, scale, scales = min(h, w) * m, m, []
    while minl >= 12:
        scales.append(scale)
        scale, minl = scale * factor, minl * factor
    return scales


def _propose(img: torch.Tensor, pnet: PNet, config: MtcnnConfig) -> torch.Tensor:
    """Stage 1: PNet over the pyramid -> squared candidate boxes (n, 5): x0, y0, x1, y1, score."""
    h, w = img.shape[2:]
    found = []
    for scale in pyramid_scales(h, w, config.min_face_size, config.factor):
        im = _normalise(interpolate(img, size=(int(h * scale + 1), int(w * scale + 1)), mode="area"))
        reg, probs = pnet(im)
        cand = _grid_boxes(reg[0], probs[0, 1], scale, config.thresholds[0])
        found.append(cand[nms(cand[:, :4], cand[:, 4], 0.5)])
    if not found:
        return torch.zeros((0, 5))
    boxes = torch.cat(found)
    boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
    # stage 1 regresses with the box's width/height without the +1 that bbreg uses (as in the original)
    regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    out = torch.stack(
        [
            boxes[:, 0] + boxes[:, 5] * regw,
            boxes[:, 1] + boxes[:, 6] * regh,
            boxes[:, 2] + boxes[:, 7] * regw,
            boxes[:, 3] + boxes[:, 8] * regh,
            boxes[:, 4],
        ],
        dim=1,
    )
    return _square(out)


def _grid_boxes(reg: torch.Tensor, prob: torch.Tensor, scale: float, thresh: float) -> torch.Tensor:
    """PNet's output map cells with P(face) >= ``thresh`` as image boxes (n, 9): x0, y0, x1, y1, score, 4 offsets."""
    stride, cell = 2, 12
    mask = prob >= thresh
    yx = mask.nonzero().to(reg.dtype)
    xy = yx.flip(1)
    q1 = ((stride * xy + 1) / scale).floor()
    q2 = ((stride * xy + cell) / scale).floor()
    return torch.cat([q1, q2, prob[mask].unsqueeze(1), reg[:, mask].T], dim=1)


def _stage_two(img: torch.Tensor, boxes: torch.Tensor, rnet: RNet, thresh: float) -> torch.Tensor:
    boxes, crops = _crops(img, boxes, 24)
    if not len(boxes):
        return boxes
    reg, probs = rnet(crops)
    score = probs[:, 1]
    keep = score > thresh
    boxes = torch.cat([boxes[keep, :4], score[keep, None]], dim=1)
    reg = reg[keep]
    pick = nms(boxes[:, :4], boxes[:, 4], 0.7)
    return _square(_regress(boxes[pick], reg[pick]))


def _stage_three(img: torch.Tensor, boxes: torch.Tensor, onet: ONet, thresh: float) -> torch.Tensor:
    boxes, crops = _crops(img, boxes, 48)
    if not len(boxes):
        return boxes
    reg, _landmarks, probs = onet(crops)
    score = probs[:, 1]
    keep = score > thresh
    boxes = _regress(torch.cat([boxes[keep, :4], score[keep, None]], dim=1), reg[keep])
    return boxes[nms_min(boxes[:, :4].numpy(), boxes[:, 4].numpy(), 0.7)]


def _crops(img: torch.Tensor, boxes: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each box's pixels (clipped to the image, 1-based inclusive as in the original) resized to size x size
    and normalised; boxes whose clipped crop is empty are dropped. Returns (kept boxes, crops (n, 3, s, s))."""
    h, w = img.shape[2:]
    ib = boxes[:, :4].trunc().int().numpy()
    x, y = np.maximum(ib[:, 0], 1), np.maximum(ib[:, 1], 1)
    ex, ey = np.minimum(ib[:, 2], w), np.minimum(ib[:, 3], h)
    ok = np.flatnonzero((ey > y - 1) & (ex > x - 1))
    crops = [interpolate(img[:, :, y[k] - 1 : ey[k], x[k] - 1 : ex[k]], size=(size, size), mode="area") for k in ok]
    if not crops:
        return boxes[:0], torch.zeros((0, 3, size, size))
    return boxes[torch.from_numpy(ok)], _normalise(torch.cat(crops))


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - 127.5) * 0.0078125


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Apply offsets ``reg`` (n, 4), in units of the box's (inclusive) width/height, to ``boxes`` (n, 5)."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    size = torch.stack([w, h, w, h], dim=1)
    return torch.cat([boxes[:, :4] + reg * size, boxes[:, 4:]], dim=1)


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Each box grown to a square of its longer side about the same centre; scores kept."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.maximum(w, h)
    x0 = boxes[:, 0] + w * 0.5 - side * 0.5
    y0 = boxes[:, 1] + h * 0.5 - side * 0.5
    return torch.stack([x0, y0, x0 + side, y0 + side, boxes[:, 4]], dim=1)


def nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS that drops a box when its overlap / the smaller box's area exceeds ``threshold`` (the original's
    "Min" method, with its +1 inclusive pixel areas). ``boxes`` (n, 4) x0, y0, x1, y1; returns kept indices, most
    probable first (int64)."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    keep = []
    while order.size:
        i, rest = order[-1], order[:-1]
        keep.append(i)
        iw = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        ih = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        order = rest[iw * ih / np.minimum(area[i], area[rest]) <= threshold]
    return np.asarray(keep, dtype=np.int64)
