"""What an answer rests on, drawn over the images it was asked about (pure): for each image, the value a
``gr.AnnotatedImage`` shows, ``(image, [((left, top, right, bottom), label), ...])``."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from PIL import Image

from multimodal.ask.answers import Answer, Evidence

MAX_BOXES = 50  # per image: more would bury the image (and Gradio writes one mask image per box)
LABEL_CHARS = 32
_IMAGE = re.compile(r"^image:(\d+)#(.+)$")
_OBJECT = re.compile(r"^object(\d+)$")

Box = tuple[int, int, int, int]
Overlay = tuple[Image.Image, list[tuple[Box, str]]]


def annotate(
    answer: Answer | None,
    images: Sequence[Image.Image],
    sizes: Sequence[tuple[int, int]] | None = None,
    max_boxes: int = MAX_BOXES,
) -> list[Overlay]:
    """One overlay per image, in request order (``image:1`` is ``images[0]``).

    The boxes come from the evidence the answer rests on (its citations, then its derived facts; a locator once)
    whose locator names an image of the request (``image:N#...``; other numbers are ignored). Boxes are
    ``(left, top, right, bottom)`` pixels of the original image, whose ``(width, height)`` is ``sizes[i]``
    (default: ``images[i]``'s own size, i.e. it is shown at full size); each is clipped to that image, dropped
    when nothing of it is left, and scaled to ``images[i]`` (a display copy). At most ``max_boxes`` per image,
    in evidence order. An image without boxes (or ``answer`` None) is shown as it is: a preview."""
    sizes = list(sizes) if sizes is not None else [img.size for img in images]
    if len(sizes) != len(images):
        raise ValueError(f"{len(sizes)} original sizes for {len(images)} images; give one (width, height) each")
    drawn: list[list[tuple[Box, str]]] = [[] for _ in images]
    for ev in _resting_on(answer):
        match = _IMAGE.match(ev.locator)
        if not match or not ev.boxes:
            continue
        n = int(match.group(1))
        if not 1 <= n <= len(images):
            continue
        label = box_label(match.group(2), ev.text)
        for box in ev.boxes:
            shown = _fit(box, sizes[n - 1], images[n - 1].size)
            if shown is not None and len(drawn[n - 1]) < max_boxes:
                drawn[n - 1].append((shown, label))
    return [(img, _numbered(boxes)) for img, boxes in zip(images, drawn)]


def box_label(suffix: str, text: str) -> str:
    """A short label for a box of the fact ``image:N#<suffix>`` whose evidence text is ``text``: ``faces`` ->
    "face", ``people`` -> "person", ``region:dog`` -> "dog region", ``ocr:L3`` -> "text: <the line read>",
    ``object2`` -> "object 2"; any other suffix names itself ("concepts")."""
    head, _, rest = suffix.partition(":")
    if head in ("faces", "face"):
        return "face"
    if head in ("people", "persons", "person"):
        return "person"
    if head == "region":
        return _short(f"{rest or 'a'} region")
    if head == "ocr":
        return "text: " + _short(text, LABEL_CHARS - 6)
    obj = _OBJECT.match(head)
    if obj:
        return f"object {obj.group(1)}"
    return _short(re.sub(r"[_#:]+", " ", suffix))


def _resting_on(answer: Answer | None) -> list[Evidence]:
    if answer is None:
        return []
    seen: dict[tuple[str, str], Evidence] = {}
    for ev in (*answer.citations, *answer.derived):
        seen.setdefault((ev.kind, ev.locator), ev)
    return list(seen.values())


def _fit(box: Sequence[int], original: tuple[int, int], shown: tuple[int, int]) -> Box | None:
    """``box`` clipped to an ``original``-sized image, then scaled to a ``shown``-sized copy (outwards, so a
    small box stays at least a pixel); None when the clipped box is empty."""
    (ow, oh), (sw, sh) = original, shown
    left, top = max(0, int(box[0])), max(0, int(box[1]))
    right, bottom = min(ow, int(box[2])), min(oh, int(box[3]))
    if right <= left or bottom <= top:
        return None
    if (ow, oh) == (sw, sh):
        return left, top, right, bottom
    sx, sy = sw / ow, sh / oh
    return (
        math.floor(left * sx),
        math.floor(top * sy),
        min(sw, math.ceil(right * sx)),
        min(sh, math.ceil(bottom * sy)),
    )


def _numbered(boxes: list[tuple[Box, str]]) -> list[tuple[Box, str]]:
    """Labels made unique within one image ("face 1", "face 2"): the legend lists each box by its label."""
    counts = Counter(label for _, label in boxes)
    seen: Counter[str] = Counter()
    out = []
    for box, label in boxes:
        if counts[label] > 1:
            seen[label] += 1
            label = f"{label} {seen[label]}"
        out.append((box, label))
    return out


def _short(text: str, chars: int = LABEL_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"
