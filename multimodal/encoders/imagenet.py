"""The 1,000 ImageNet-1k classes, read once per process from the table inside timm (no weights).

The one source of ImageNet names: the lite encoder's concept space, the zero-shot background vocabulary and
the lite classifier's tags all read them here.
"""

from __future__ import annotations

from functools import cache


@cache
def imagenet_descriptions(*, detailed: bool = False) -> tuple[str, ...]:
    """The 1,000 class descriptions in class-index order (``"tench, Tinca tinca"``); ``detailed`` adds each
    class's WordNet gloss."""
    from timm.data import ImageNetInfo

    return tuple(ImageNetInfo().label_descriptions(detailed=detailed))


@cache
def imagenet_names() -> tuple[str, ...]:
    """The first synonym of each class (``"tench"``), in class-index order (the lite classifier's outputs)."""
    return tuple(d.split(",")[0].strip() for d in imagenet_descriptions())
