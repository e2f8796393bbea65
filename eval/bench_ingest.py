"""``sceneqa bench ingest``: JPEG folder -> index folder, end to end, against a plain reference loop.

Part 1 (throughput, same files, one run): sceneqa's ``index add`` path (read + hash + draft decode in a
thread, overlapped with the model; batched embedding in the runtime's precision; SQLite + FAISS writes;
commit) with a ViT-B-32-sized encoder (random weights) and with ``lite``, against the plain reference:
``PIL.Image.open -> open_clip preprocess -> fp32 encode_image -> IndexFlatIP.add``, one image at a time
(open_clip's README pattern) and in batches.

Part 2 (memory): ingests ``--rss-images`` generated JPEGs with the tiny encoder and samples the process's
resident memory as it goes; streaming means it grows only by what the index itself must hold.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench_common import PlainOpenClip, photo_set
from eval.machine import header_line, machine_info
from eval.rss import rss_mb


def write_photos(folder: Path, n: int, size: tuple[int, int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(photo_set(n, size)):
        paths.append(folder / f"{i:05d}.jpg")
        img.save(paths[-1], quality=90)
    return paths


def sceneqa_ingest(encoder, folder: Path, index_dir: Path, chunk: int) -> tuple[float, int]:
    from multimodal.ingest.local import IngestOptions, ingest
    from retrieval.catalog import Catalog
    from retrieval.sources import read_source

    t0 = time.perf_counter()
    with Catalog.open(index_dir, encoder=encoder.spec, dim=encoder.dim, writable=True, create=True) as cat:
        summary = ingest(cat, encoder, read_source(folder), IngestOptions(chunk=chunk))
    return time.perf_counter() - t0, summary.added


def plain_ingest(plain: PlainOpenClip, paths: list[Path], batch: int | None) -> float:
    import faiss

    index = faiss.IndexFlatIP(plain.model.visual.output_dim if hasattr(plain.model.visual, "output_dim") else 512)
    t0 = time.perf_counter()
    vecs = plain.loop(paths) if batch is None else plain.batched(paths, batch)
    index.add(np.ascontiguousarray(vecs, np.float32))
    return time.perf_counter() - t0


def run_bench_ingest(args: argparse.Namespace, config) -> int:
    from multimodal.encoders.base import EncoderOptions
    from multimodal.encoders.factory import create_encoder
    from multimodal.encoders.tiny import tiny_folder
    from multimodal.runtime import resolve_runtime

    runtime = resolve_runtime(config.device, config.precision)
    options = EncoderOptions(batch_size=config.batch_size, cache_dir=config.resolved_cache_dir)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    print(header_line())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = write_photos(tmp / "photos", args.images, size)  # type: ignore[arg-type]
        print(
            f"part 1: {args.images} JPEG photos of {size[0]}x{size[1]}; sceneqa runtime {runtime.describe()}; "
            "reference: open_clip ViT-B-32 fp32 (same random weights), torch.no_grad, IndexFlatIP"
        )
        vit = create_encoder(f"tiny:open_clip/{args.arch}", runtime, options)
        plain = PlainOpenClip(args.arch, tiny_folder(options, f"open_clip/{args.arch}") / "open_clip_model.safetensors")
        vit.embed_images(photo_set(config.batch_size, (640, 480)))  # warm-up
        t_vit, added = sceneqa_ingest(vit, tmp / "photos", tmp / "idx-vit", config.batch_size)
        t_loop = plain_ingest(plain, paths, None)
        t_batch = plain_ingest(plain, paths, config.batch_size)
        lite = create_encoder("lite", runtime, options) if not args.skip_lite else None
        t_lite = sceneqa_ingest(lite, tmp / "photos", tmp / "idx-lite", config.batch_size)[0] if lite else None
        n = args.images
        rows = [
            ("sceneqa, ViT-B-32 (random)", n / t_vit),
            ("plain loop, ViT-B-32 fp32", n / t_loop),
            ("plain batched, ViT-B-32 fp32", n / t_batch),
        ]
        if t_lite:
            rows.append(("sceneqa, lite", n / t_lite))
        print(f"{'pipeline':32s} {'img/s':>8s} {'x plain loop':>13s} {'x plain batched':>16s}")
        for name, rate in rows:
            print(f"{name:32s} {rate:8.2f} {rate / (n / t_loop):12.2f}x {rate / (n / t_batch):15.2f}x")
        assert added == n, f"sceneqa indexed {added} of {n} images"

        rss = []
        if args.rss_images:
            rss = measure_rss(tmp, args.rss_images, runtime, options, config.batch_size)
    if args.json:
        print(json.dumps({"machine": machine_info(), "throughput": dict(rows), "rss": rss}))
    return 0


def measure_rss(tmp: Path, n: int, runtime, options, chunk: int) -> list[dict]:
    from multimodal.encoders.factory import create_encoder
    from multimodal.ingest.local import IngestOptions, ingest
    from retrieval.catalog import Catalog
    from retrieval.sources import read_source

    folder = tmp / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    base = photo_set(10, (320, 240))
    for i in range(n):  # distinct images: a seeded colour patch on a sample photo
        img = base[i % 10].copy()
        img.paste(
            tuple(int(v) for v in rng.integers(0, 256, 3)),
            (i % 300, (i // 300) % 220, i % 300 + 20, (i // 300) % 220 + 20),
        )
        img.save(folder / f"{i:06d}.jpg", quality=85)
    enc = create_encoder("tiny:open_clip", runtime, options)
    samples: list[dict] = []
    done = [0]
    marks = {int(n * f) for f in (0.1, 0.25, 0.5, 0.75, 1.0)}

    def progress(k: int) -> None:
        before = done[0]
        done[0] += k
        if any(before < m <= done[0] for m in marks):
            cur, peak = rss_mb(), rss_mb(peak=True)
            samples.append({"images": done[0], "rss_mb": round(cur, 1), "peak_mb": round(peak, 1)})

    with Catalog.open(tmp / "idx-many", encoder=enc.spec, dim=enc.dim, writable=True, create=True) as cat:
        ingest(cat, enc, read_source(folder), IngestOptions(chunk=chunk), progress=progress)
    print(
        f"part 2: resident memory while ingesting {n:,} generated 320x240 JPEGs (tiny encoder, dim {enc.dim}; "
        f"the flat index itself holds {n * enc.dim * 4 / 2**20:.1f} MB of vectors at the end)"
    )
    print(f"{'images':>8s} {'RSS MB':>8s} {'peak MB':>8s}")
    for s in samples:
        print(f"{s['images']:8d} {s['rss_mb']:8.1f} {s['peak_mb']:8.1f}")
    if len(samples) >= 2:
        first, last = samples[0], samples[-1]
        per_k = (last["rss_mb"] - first["rss_mb"]) / max(1, (last["images"] - first["images"]) / 1000)
        print(
            f"growth: {per_k:.2f} MB per 1,000 images after the first {first['images']:,} "
            f"(index vectors alone: {enc.dim * 4 * 1000 / 2**20:.2f} MB per 1,000)"
        )
    return samples
