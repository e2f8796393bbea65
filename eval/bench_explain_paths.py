"""Explanation off costs nothing: classify, search and ask through the library path the CLI and the API call,
timed side by side with explain off, with explain on, and against the raw encoder call as the floor.

- floor: ``encoder.embed_images([photo])`` for classify and ask, ``encoder.embed_texts([query])`` for search;
- off: :func:`multimodal.classify.classify_sources` (3 labels), :func:`multimodal.search.search_catalog` (a text
  query over an index of the photos), :func:`multimodal.ask.pipeline.ask` ("is there a cat?", lite answerer),
  exactly as the CLI runs them without ``--explain``;
- on: the same call, then what ``--explain`` adds with its defaults: heatmaps of the top 3 labels / the top 3 hits /
  the question's subject, each rendered as an overlay PNG (in memory).

Every call gets a photo it has not seen (one pixel changed), so the per-image caches of the detector and the
ask regions miss, as they would for a new upload. Before any explain-on call, the explain-off calls run once and
the ``multimodal.explain`` modules then imported are listed: none, or explain-off is not free.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = ("chelsea", "astronaut", "coffee")  # scikit-image's bundled photos (a cat, a person, a cup)
LABELS = ("a cat", "a dog", "a cup of coffee")
QUERY = "a cat"
QUESTION = "is there a cat?"


def explain_modules() -> list[str]:
    """The ``multimodal.explain`` modules imported in this process."""
    return sorted(m for m in sys.modules if m == "multimodal.explain" or m.startswith("multimodal.explain."))


def photos(size: int) -> list[Image.Image]:
    from skimage import data

    out = []
    for name in PHOTOS:
        img = Image.fromarray(getattr(data, name)()).convert("RGB")
        w, h = img.size
        scale = size / max(w, h)
        out.append(img.resize((round(w * scale), round(h * scale)), Image.BICUBIC))
    return out


class FreshPhotos:
    """Each call returns the next photo with pixel (0, 0) set to a new value: the same picture, never seen."""

    def __init__(self, images: list[Image.Image]) -> None:
        self._images = images
        self._n = 0

    def __call__(self) -> Image.Image:
        self._n += 1
        img = self._images[self._n % len(self._images)].copy()
        img.putpixel((0, 0), (self._n % 256, (self._n // 256) % 256, 7))
        return img


def _paths(services, catalog, fresh: FreshPhotos) -> dict[str, dict]:
    """Per operation, the floor / off / on callables (each takes no argument)."""
    from multimodal.ask.pipeline import AskRequest, ask
    from multimodal.classify import classify_sources
    from multimodal.search import SearchRequest, search_catalog
    from multimodal.zeroshot import ZeroShotOptions

    enc = services.encoder
    options = ZeroShotOptions(top_k=3)

    def classify_off(img=None):
        img = img or fresh()
        return img, classify_sources(services, [img], list(LABELS), options)

    def search_off():
        return search_catalog(services, catalog, SearchRequest(text=QUERY, k=10))

    def ask_off(img=None):
        img = img or fresh()
        return img, ask(services, AskRequest(question=QUESTION, images=(img,), image_names=("photo",))).answer

    return {
        "classify": {
            "floor": lambda: enc.embed_images([fresh()]),
            "off": classify_off,
            "on": lambda: _classify_explain(services, *classify_off()),
        },
        "search": {
            "floor": lambda: enc.embed_texts([QUERY]),
            "off": search_off,
            "on": lambda: _search_explain(services, search_off()),
        },
        "ask": {
            "floor": lambda: enc.embed_images([fresh()]),
            "off": ask_off,
            "on": lambda: _ask_explain(services, *ask_off()),
        },
    }


def _classify_explain(services, img, results) -> int:
    from multimodal.explain.api import explain_targets
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.render import overlay, png_bytes
    from multimodal.explain.targets import phrase_targets

    labels = [s.label for s in results[0].result.labels]
    targets, _ = phrase_targets(services.encoder, services.zeroshot, labels)
    explanations, _ = explain_targets(create_explainer(services.encoder), img, targets)
    return sum(len(png_bytes(overlay(img, e.heatmap))) for e in explanations)


def _search_explain(services, response) -> int:
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.hits import explain_hits, query_target
    from multimodal.explain.render import png_bytes

    target, _ = query_target(services.encoder, services.zeroshot, QUERY, None)
    pairs = [(h["id"], h["image"]) for h in response["results"]]
    rows, _ = explain_hits(create_explainer(services.encoder), pairs, target)
    return sum(len(png_bytes(p)) for r in rows if (p := r.picture()) is not None)


def _ask_explain(services, img, answer) -> int:
    from multimodal.explain.evidence import answer_subject, explain_answer
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.render import png_bytes
    from multimodal.explain.targets import phrase_targets

    subject = answer_subject(QUESTION)
    target = phrase_targets(services.encoder, services.zeroshot, [subject])[0][0]
    rows, _ = explain_answer([img], answer, create_explainer(services.encoder), target)
    return sum(len(png_bytes(r.picture)) for r in rows)


def _build_catalog(services, images: list[Image.Image], folder: Path):
    from retrieval.catalog import Catalog
    from retrieval.records import ItemRecord

    enc = services.encoder
    (folder / "images").mkdir(parents=True)
    records = []
    for i, img in enumerate(images):
        path = folder / "images" / f"{i}.jpg"
        img.save(path, quality=90)
        records.append(ItemRecord(f"p{i}", str(path), f"sha{i}", enc.embed_images([img])[0], {}))
    with Catalog.open(folder / "idx", encoder=enc.spec, dim=enc.dim, writable=True, create=True) as cat:
        cat.upsert(records)
    return Catalog.open(folder / "idx", encoder=enc.spec, dim=enc.dim)


def _stats(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "min_ms": round(min(ms), 1),
        "calls": len(ms),
    }


def bench_paths(services, *, size: int, repeats: int, budget_s: float = 60.0) -> dict:
    """``{"explain_modules_when_off": [...], "ops": {op: {floor|off|on: stats}}}``: explain-off first (once per
    path, untimed: warm-up and the import check), then floor / off / on interleaved, ``repeats`` x 3 photos; the
    rounds stop early (after 3, so each kind has run in each position) once ``budget_s`` seconds have passed."""
    images = photos(size)
    fresh = FreshPhotos(images)
    with tempfile.TemporaryDirectory() as tmp:
        catalog = _build_catalog(services, images, Path(tmp))
        try:
            paths = _paths(services, catalog, fresh)
            for fns in paths.values():
                fns["floor"]()
                fns["off"]()
            imported_off = explain_modules()
            for fns in paths.values():
                fns["on"]()  # warm-up: the explainer's first-call costs are not the steady state
            times = {op: {k: [] for k in fns} for op, fns in paths.items()}
            kinds = ["floor", "off", "on"]
            start_all = time.perf_counter()
            for r in range(repeats * len(images)):
                if r >= 3 and time.perf_counter() - start_all > budget_s:
                    break
                for op, fns in paths.items():
                    for kind in kinds[r % 3 :] + kinds[: r % 3]:  # rotated: no kind always follows another
                        start = time.perf_counter()
                        fns[kind]()
                        times[op][kind].append(1000 * (time.perf_counter() - start))
        finally:
            catalog.close()
    ops = {op: {k: _stats(v) for k, v in kinds.items()} for op, kinds in times.items()}
    return {"explain_modules_when_off": imported_off, "ops": ops, "photos": list(PHOTOS), "size": size}


def paths_text(result: dict) -> str:
    mods = result["explain_modules_when_off"]
    lines = [
        "explain off vs on vs the encoder floor (library path as the CLI/API call it; each call a new photo; "
        f"{result['ops']['classify']['off']['calls']} calls each; ms p50 / p90):",
        f"  multimodal.explain modules imported after classify, search and ask with explain off: "
        f"{', '.join(mods) if mods else 'none'}",
    ]
    for op, s in result["ops"].items():
        f, off, on = s["floor"], s["off"], s["on"]
        lines.append(
            f"  {op}: floor {f['p50_ms']} / {f['p90_ms']}, explain off {off['p50_ms']} / {off['p90_ms']} "
            f"(+{off['p50_ms'] - f['p50_ms']:.1f} over the floor), explain on {on['p50_ms']} / {on['p90_ms']} "
            f"(+{on['p50_ms'] - off['p50_ms']:.1f} over off)"
        )
    return "\n".join(lines)
