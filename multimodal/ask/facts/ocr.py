"""Reading text in images with RapidOCR (PP-OCRv4 ONNX models shipped inside the ``rapidocr-onnxruntime``
package). Loading is lazy and separate from reading; the tiny twin reads nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from multimodal.errors import DependencyError

MAX_SIDE = 1600


@dataclass(frozen=True)
class TextLine:
    text: str
    confidence: float
    box: tuple[int, int, int, int]  # left, top, right, bottom


class TextReader(Protocol):
    name: str

    def read(self, img: Image.Image) -> list[TextLine]: ...


class RapidOcrReader:
    name = "RapidOCR PP-OCRv4 (packaged ONNX)"

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise DependencyError(f"OCR needs rapidocr-onnxruntime ({exc}); pip install sceneqa") from exc
        self._engine = RapidOCR()

    def read(self, img: Image.Image) -> list[TextLine]:
        scale = min(1.0, MAX_SIDE / max(img.size))
        small = img.resize((round(img.width * scale), round(img.height * scale))) if scale < 1 else img
        result, _ = self._engine(np.asarray(small.convert("RGB")))
        lines = []
        for box, text, conf in result or []:
            xs = [p[0] / scale for p in box]
            ys = [p[1] / scale for p in box]
            lines.append(TextLine(str(text), float(conf), (int(min(xs)), int(min(ys)), int(max(xs)), int(max(ys)))))
        return sorted(lines, key=lambda t: (t.box[1] // 20, t.box[0]))  # reading order: rows, then left to right


class NoTextReader:
    """The tiny twin: reads no text."""

    name = "none (tiny)"

    def read(self, img: Image.Image) -> list[TextLine]:
        return []
