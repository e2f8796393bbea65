"""``sceneqa bench teach``: time to teach a label set of N examples, and the per-image cost of classifying with it.

Teach is timed end to end through :func:`multimodal.teach.teach.teach`, from image files to the saved label
set folder: reading and hashing the files, decoding and embedding them (the *embed* part, up to the last
progress report of the embedding), then the head's cross-validated fit and the atomic save (the *fit* part).
Examples: ``--data`` (a CSV with path and label columns, or a folder of label sub-folders; a seeded random
``--examples`` of its rows) or, without it, seeded synthetic images (coloured shapes on textured backgrounds,
one shape and colour pair per label).

``--classify`` then times, in the same run and alternating, ``--queries`` image files through plain embedding
(:func:`~multimodal.ingest.batch_embed.embed_sources` with the encoder, as ``index add`` and ``classify``
embed) and through :func:`~multimodal.teach.teach.classify_with_labelset` (the label set's features, head and
decision), best of ``--repeats``, and prints both in ms per image with their difference; on a busy machine that
difference is within the noise of the forward passes, so the head's own cost after the forward pass (one image
per call, best of 20) is printed too. The machine may be shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from eval.bench_inspect import cpu_flags
from eval.machine import header_line, machine_info

SHAPES = ("ellipse", "rectangle", "triangle", "cross")
COLOURS = ((210, 40, 40), (40, 80, 210), (40, 170, 70), (230, 190, 40), (150, 60, 190))


def synthetic_image(label: int, seed: int, size: int = 256) -> Image.Image:
    """A seeded photo-like image of label ``label``: a shape and colour pair (20 pairs) at a random place and
    scale on a noisy, graded background."""
    rng = np.random.default_rng(seed)
    grad = np.linspace(0, 1, size)[None, :, None] * rng.uniform(-40, 40, 3)
    base = rng.uniform(90, 220, 3) + grad + rng.normal(0, 12, (size, size, 3))
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    shape, colour = SHAPES[label % len(SHAPES)], COLOURS[(label // len(SHAPES)) % len(COLOURS)]
    colour = tuple(int(np.clip(c + rng.normal(0, 15), 0, 255)) for c in colour)
    r = int(size * rng.uniform(0.15, 0.35))
    cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
    box = (cx - r, cy - r, cx + r, cy + r)
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    elif shape == "rectangle":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    else:
        draw.rectangle((cx - r, cy - r // 3, cx + r, cy + r // 3), fill=colour)
        draw.rectangle((cx - r // 3, cy - r, cx + r // 3, cy + r), fill=colour)
    return img


def synthetic_examples(folder: Path, n: int, labels: int, seed: int) -> list[tuple[str, str]]:
    """``n`` JPEG files written under ``folder``, ``labels`` labels in turn: ``(path, label)`` pairs."""
    if not 2 <= labels <= len(SHAPES) * len(COLOURS):
        raise ValueError(f"--labels {labels}: the synthetic set has 2 to {len(SHAPES) * len(COLOURS)} labels")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"{i:05d}.jpg"
        synthetic_image(i % labels, seed * 1_000_003 + i).save(path, quality=90)
        out.append((str(path), f"class-{i % labels:02d}"))
    return out


def data_examples(data: Path, label_column: str, path_column: str, n: int, seed: int) -> list[tuple[str, str]]:
    """A seeded random ``n`` of ``data``'s labelled images (all of them when it has fewer)."""
    from eval.data import load_labelled

    items = load_labelled(data, label_column=label_column, path_column=path_column).items
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(items))[:n]
    return [(str(items[i].path), items[i].label) for i in sorted(pick)]


def time_teach(services, pairs: list[tuple[str, str]], root: Path) -> dict:
    """Teach ``pairs`` once, from files to the saved folder; the embed / fit split and the label set."""
    from multimodal.teach.examples import Example, ExampleSet
    from multimodal.teach.teach import TeachOptions, teach

    examples = ExampleSet(tuple(Example(f"ex-{i}", p, label, p) for i, (p, label) in enumerate(pairs)))
    marks: list[float] = []
    t0 = time.perf_counter()
    result = teach(services, root, "bench", examples, TeachOptions(replace=True), progress=lambda _n: marks.append(
        time.perf_counter()
    ))  # fmt: skip
    total = time.perf_counter() - t0
    embed = (marks[-1] - t0) if marks else float("nan")
    head = result.labelset.head
    return {
        "examples": len(result.labelset.examples),
        "labels": len(head.labels),
        "embed_s": round(embed, 2),
        "fit_s": round(total - embed, 2),
        "total_s": round(total, 2),
        "cv_accuracy": head.cv.accuracy,
        "cv_folds": head.cv.folds,
        "grid_points": len(head.cv.grid),
        "choice": {"power": head.power, "C": head.c, "proto": head.proto_weight},
        "problems": len(result.problems),
        "labelset": result.labelset,
    }


def time_classify(services, labelset, queries: list[str], repeats: int) -> dict:
    """ms per image of plain embedding and of classifying with ``labelset``, same files, alternating, best of
    ``repeats`` each (after one warm-up of both)."""
    from multimodal.ingest.batch_embed import embed_sources
    from multimodal.teach.teach import classify_with_labelset

    limits = services.config.image_limits

    def plain():
        return embed_sources(services.encoder, queries, limits=limits)

    def head():
        return classify_with_labelset(services, labelset, queries)

    plain(), head()
    best = {"embed": float("inf"), "labelset": float("inf")}
    for _ in range(repeats):
        for key, fn in (("embed", plain), ("labelset", head)):
            t = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t)
    n = len(queries)
    embed_ms, head_ms = 1e3 * best["embed"] / n, 1e3 * best["labelset"] / n
    return {
        "queries": n,
        "embed_ms_per_image": round(embed_ms, 2),
        "labelset_ms_per_image": round(head_ms, 2),
        "overhead_ms_per_image": round(head_ms - embed_ms, 2),
        "head_only_ms_per_image": round(head_only_ms(services, labelset, queries[:16]), 3),
    }


def head_only_ms(services, labelset, queries: list[str], repeats: int = 20) -> float:
    """ms per image of what a label set adds after the forward pass, one image per call as a request runs it:
    the head's features from the encoder's outputs, its probabilities and the decision (best of ``repeats``)."""
    from multimodal.teach.features import extract
    from multimodal.zeroshot_scores import decide

    feats = extract(services.encoder, queries, labelset.features, limits=services.config.image_limits)
    head, labels = labelset.head, list(labelset.labels)
    rows = feats.query()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        for i in range(len(rows)):
            p = head.probabilities(rows[i : i + 1])[0]
            decide(labels, p, p, multi_label=False, threshold=0.5, top_k=min(5, len(labels)))
        best = min(best, time.perf_counter() - t)
    return 1e3 * best / max(1, len(rows))


def _pairs(args: argparse.Namespace, tmp: Path, n: int, seed: int) -> list[tuple[str, str]]:
    if args.data is not None:
        return data_examples(args.data, args.label_column, args.path_column, n, seed)
    return synthetic_examples(tmp / f"images-{seed}", n, args.labels, seed)


def run_bench_teach(args: argparse.Namespace, config) -> int:
    from multimodal.services import build_services

    services = build_services(config)
    print(header_line())
    print(f"cpu flags: {' '.join(cpu_flags()) or 'unknown'}; cores: {os.cpu_count()}; torch threads: {_threads()}")
    source = str(args.data) if args.data else f"synthetic, {args.labels} labels"
    print(f"encoder {services.encoder.spec}; teach {args.examples} examples ({source}), seed {args.seed}")
    out: dict[str, object] = {"machine": machine_info(), "cpu_flags": cpu_flags(), "encoder": services.encoder.spec}
    with tempfile.TemporaryDirectory() as tmp:
        pairs = _pairs(args, Path(tmp), args.examples, args.seed)
        load = os.getloadavg()[0]
        row = time_teach(services, pairs, Path(tmp) / "labelsets")
        labelset = row.pop("labelset")
        cv = "n/a" if row["cv_accuracy"] is None else f"{row['cv_accuracy']:.3f}"
        print(
            f"teach {row['examples']} examples, {row['labels']} labels: embed {row['embed_s']} s, fit "
            f"{row['fit_s']} s, total {row['total_s']} s (CV accuracy {cv}, {row['cv_folds']} folds, "
            f"{row['grid_points']} grid points; load average {load:.2f})"
        )
        out["teach"] = {**row, "load_avg_1min": round(load, 2)}
        if args.classify:
            queries = [p for p, _ in _pairs(args, Path(tmp), args.queries, args.seed + 1)]
            load = os.getloadavg()[0]
            c = time_classify(services, labelset, queries, args.repeats)
            print(
                f"classify {c['queries']} image files, best of {args.repeats}: plain embedding "
                f"{c['embed_ms_per_image']} ms/image, with the label set {c['labelset_ms_per_image']} ms/image, "
                f"difference {c['overhead_ms_per_image']} ms/image; the head alone (features -> probabilities -> "
                f"decision, one image per call) {c['head_only_ms_per_image']} ms/image (load average {load:.2f})"
            )
            out["classify"] = {**c, "repeats": args.repeats, "load_avg_1min": round(load, 2)}
    if args.json:
        print(json.dumps(out))
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()
