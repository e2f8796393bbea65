"""Images in: safe loading and limits (``load``), format sniffing for error messages (``sniff``), colour modes
to RGB (``modes``) and opt-in URL fetching (``fetch``).

The loading API is re-exported here (``from multimodal.images import load_image, ImageLimits``); the other
modules are imported by their own names. Modules inside this package import ``multimodal.images.load``, never
this package, so the re-export makes no import circle.
"""

from multimodal.images.load import (
    ACCEPTED_FORMATS,
    DEFAULT_LIMITS,
    ImageLimits,
    ImageSource,
    check_pillow,
    check_pixel_budget,
    declared_pixels,
    describe_source,
    load_image,
    read_source_bytes,
    reduce_in_bands,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_LIMITS",
    "ImageLimits",
    "ImageSource",
    "check_pillow",
    "check_pixel_budget",
    "declared_pixels",
    "describe_source",
    "load_image",
    "read_source_bytes",
    "reduce_in_bands",
]
