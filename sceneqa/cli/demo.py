"""``sceneqa demo``: classify the photos that ship with scikit-image, to see the current tier at work."""

from __future__ import annotations

import argparse

from multimodal.services import ServiceConfig
from multimodal.zeroshot import ZeroShotOptions
from sceneqa.cli.banner import announce
from sceneqa.cli.classify import format_result

DEMO_LABELS = (
    "cat, dog, cup of coffee, rocket, astronaut, motorcycle, bicycle, car, tree, house, pizza, "
    "flower, book, printed text page"
)
DEMO_PHOTOS = ("chelsea", "coffee", "rocket", "astronaut", "stereo_motorcycle", "page")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="classify sample photos (shipped with scikit-image) with everyday labels",
        description="Loads the models of the selected tier and classifies scikit-image's "
        "sample photos (a cat, coffee, a rocket, an astronaut, a motorcycle, a "
        "printed page) against everyday labels, printing scores and 'none of "
        "these' where no label is supported.",
    )
    p.add_argument("--labels", default=DEMO_LABELS, help="labels to use (default: %(default)s)")
    p.set_defaults(handler=run)


def sample_photos() -> dict[str, object]:
    """name -> numpy RGB array of each scikit-image sample photo used by the demo."""
    from skimage import data

    out = {}
    for name in DEMO_PHOTOS:
        arr = getattr(data, name)()
        out[f"skimage:{name}"] = arr[0] if isinstance(arr, tuple) else arr
    return out


def run(args: argparse.Namespace, config: ServiceConfig) -> int:
    from multimodal.classify import classify_sources
    from multimodal.services import build_services

    services = build_services(config)
    announce(services, args.quiet)
    photos = sample_photos()
    options = ZeroShotOptions(top_k=3)
    for item in classify_sources(services, list(photos.values()), args.labels, options, names=list(photos)):
        print(format_result(item.image, item.result, options.threshold) if item.result else item.error)
    return 0
