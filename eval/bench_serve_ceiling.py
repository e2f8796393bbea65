"""The batching ceiling of ``sceneqa bench serve``: the model time one request of the bar's mix costs alone and
in the engine's best pass, measured in this process on the tier's encoder (after the servers have stopped).

A classify request embeds one image (its labels' embeddings are cached after the first), a search request one
text. Batching can save at most the difference between an item's cost alone and its share of a full pass, so
for the classify + search mix ``(image alone + text alone) / (image in a pass + text in a pass)`` bounds the
throughput ratio from above; decoding, HTTP and JSON, which no batching shares, only pull the real ratio lower.
The pass sizes are the engine's (the encoder's ``images_per_pass``, else ``--max-batch``; texts: ``--max-batch``).
"""

from __future__ import annotations

from eval.bench_common import timed_ms

WORDS = "cat mug rocket chair shoe dog lamp bag car tree cup hat coat vase kite box"
QUERIES = tuple(f"a photo of a {w}" for w in WORDS.split())


def _p50(fn, reps: int) -> float:
    return timed_ms(fn, reps)["p50_ms"]


def measure_ceiling(config, max_batch: int, reps: int = 9) -> dict:
    """Median ms per item alone and in a pass, per worker, with the pass sizes; see the module docstring."""
    from PIL import Image
    from skimage import data

    from multimodal.services import build_services

    encoder = build_services(config).encoder
    image = Image.fromarray(data.coffee()).convert("RGB")
    per_pass = int(getattr(encoder, "images_per_pass", max_batch) or max_batch)
    image_pass = min(per_pass, max_batch)
    text_pass = min(max_batch, len(QUERIES))
    return {
        "image_pass": image_pass,
        "text_pass": text_pass,
        "image_alone_ms": _p50(lambda: encoder.embed_images([image]), reps),
        "image_in_pass_ms": _p50(lambda: encoder.embed_images([image] * image_pass), reps) / image_pass,
        "text_alone_ms": _p50(lambda: encoder.embed_texts([QUERIES[0]]), reps),
        "text_in_pass_ms": _p50(lambda: encoder.embed_texts(list(QUERIES[:text_pass])), reps) / text_pass,
    }
