"""The 80 COCO object categories in the order of the detector's output channels, and the words that name them
(the detector's own label vocabulary: its category names, their plurals and common synonyms), so that a question's
noun can be matched to a category. Pure data and lookup."""

from __future__ import annotations

COCO_NAMES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)  # fmt: skip

#: other words for a category (singular; plurals are derived)
SYNONYMS = {
    "person": ("people", "persons", "human", "humans", "someone", "anyone", "somebody"),
    "bicycle": ("bike", "cycle"),
    "motorcycle": ("motorbike", "scooter", "moped"),
    "airplane": ("plane", "aeroplane", "jet", "aircraft", "airliner"),
    "train": ("locomotive",),
    "boat": ("ship", "sailboat", "canoe", "kayak"),
    "sports ball": ("ball", "football", "soccer ball", "baseball", "tennis ball", "basketball"),
    "skis": ("ski",),
    "tennis racket": ("racket", "racquet", "tennis racquet"),
    "baseball glove": ("glove", "mitt"),
    "wine glass": ("glass", "wineglass"),
    "cup": ("mug",),
    "donut": ("doughnut",),
    "couch": ("sofa",),
    "potted plant": ("plant", "houseplant", "pot plant"),
    "dining table": ("table",),
    "tv": ("television", "tv set", "monitor", "screen"),
    "laptop": ("notebook computer",),
    "mouse": ("computer mouse",),
    "remote": ("remote control", "controller"),
    "cell phone": ("phone", "cellphone", "mobile phone", "smartphone", "mobile"),
    "refrigerator": ("fridge",),
    "hair drier": ("hair dryer", "hairdryer", "blow dryer"),
    "teddy bear": ("teddy", "stuffed animal"),
    "handbag": ("purse", "bag"),
    "hot dog": ("hotdog",),
    "traffic light": ("traffic signal", "stoplight"),
    "suitcase": ("luggage",),
}

IRREGULAR_PLURALS = {"people": "person", "men": "man", "women": "woman", "knives": "knife", "mice": "mouse"}


def _plurals(word: str) -> tuple[str, ...]:
    head, _, last = word.rpartition(" ")
    prefix = f"{head} " if head else ""
    if last.endswith(("s", "x", "ch", "sh")):
        forms = (f"{last}es",)
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        forms = (f"{last[:-1]}ies",)
    elif last.endswith("fe"):
        forms = (f"{last[:-2]}ves", f"{last}s")
    else:
        forms = (f"{last}s",)
    return tuple(prefix + f for f in forms)


def _index() -> dict[str, int]:
    out: dict[str, int] = {}
    for i, name in enumerate(COCO_NAMES):
        for word in (name, *SYNONYMS.get(name, ())):
            for form in (word, *_plurals(word)):
                out.setdefault(form, i)
    out.update({k: COCO_NAMES.index(v) for k, v in IRREGULAR_PLURALS.items() if v in COCO_NAMES})
    return out


_INDEX: dict[str, int] | None = None


def coco_category(noun: str) -> int | None:
    """The category index a noun phrase names ("dogs" -> 16, "a wine glass" -> 40), trying the whole phrase,
    then its last word; ``None`` when the detector has no such category."""
    global _INDEX
    if _INDEX is None:
        _INDEX = _index()
    words = noun.lower().strip(" ?.!,").split()
    while words and words[0] in ("a", "an", "the", "any", "some"):
        words = words[1:]
    for k in range(len(words)):
        hit = _INDEX.get(" ".join(words[k:]))
        if hit is not None:
            return hit
    return None
