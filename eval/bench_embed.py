"""``sceneqa bench embed``: sceneqa's image embedding vs plain open_clip fp32 loops, in one run.

Both sides use the same random ViT-B-32 weights (written once by the ``tiny:open_clip/ViT-B-32`` factory)
and the same images. References, both fp32 under ``torch.no_grad``:

- *plain loop*: open_clip's README pattern, one image at a time:
  ``model.encode_image(preprocess(Image.open(p).convert("RGB")).unsqueeze(0))``;
- *plain batched*: the same with batches of ``--batch-size`` images.

Measurements:

- ``embed``: already-decoded 640x480 images -> embeddings (model + preprocessing only);
- ``files``: 12 MP JPEG files (4032x3024, a phone photo) -> embeddings, decoding included (sceneqa:
  ``load_image`` with JPEG draft decoding, decoding overlapped with the model; the references decode
  at full size with ``Image.open``).

Reported: images/s, ratios against each reference, and the cosine between sceneqa's embedding of each
image and the fp32 reference's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from eval.bench_common import PHONE_PHOTO, PlainOpenClip, best_rate, photo_set
from eval.machine import header_line, machine_info


def run_bench_embed(args: argparse.Namespace, config) -> int:
    from multimodal.encoders.base import EncoderOptions
    from multimodal.encoders.tiny import load_tiny, tiny_folder
    from multimodal.ingest.batch_embed import embed_sources
    from multimodal.runtime import resolve_runtime

    runtime = resolve_runtime(config.device, config.precision)
    options = EncoderOptions(batch_size=config.batch_size, cache_dir=config.resolved_cache_dir)
    ours = load_tiny(f"open_clip/{args.arch}", runtime, options)
    plain = PlainOpenClip(args.arch, tiny_folder(options, f"open_clip/{args.arch}") / "open_clip_model.safetensors")
    bs = config.batch_size
    n = args.images
    print(header_line())
    print(
        f"model: {args.arch}, random weights (seeded), same weights both sides; batch {bs}; best of "
        f"{args.repeats}; sceneqa runtime {runtime.describe()}; references: open_clip fp32, torch.no_grad"
    )

    images = photo_set(n, (640, 480))
    ours.embed_images(images[:bs])  # warm-up (allocator, oneDNN kernels)
    plain.batched(images[:bs], bs)
    rows: dict[str, dict[str, float]] = {}
    r_ours, e_ours = best_rate(lambda: ours.embed_images(images), n, args.repeats)
    r_batch, e_ref = best_rate(lambda: plain.batched(images, bs), n, args.repeats)
    r_loop, _ = best_rate(lambda: plain.loop(images), n, args.repeats)
    cos = np.sum(e_ours * e_ref, axis=1)
    rows["embed"] = {
        "sceneqa": r_ours,
        "plain_loop": r_loop,
        "plain_batched": r_batch,
        "cosine_min": float(cos.min()),
        "cosine_mean": float(cos.mean()),
    }

    files_n = max(bs, n // 2)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, im in enumerate(photo_set(files_n, PHONE_PHOTO)):
            paths.append(Path(tmp) / f"{i:04d}.jpg")
            im.save(paths[-1], quality=90)
        r_f, e_f = best_rate(lambda: embed_sources(ours, paths, chunk=bs).vectors, files_n, args.repeats)
        r_f_batch, e_f_ref = best_rate(lambda: plain.batched(paths, bs), files_n, args.repeats)
        r_f_loop, _ = best_rate(lambda: plain.loop(paths), files_n, args.repeats)
    cos_f = np.sum(e_f * e_f_ref, axis=1)
    rows["files"] = {
        "sceneqa": r_f,
        "plain_loop": r_f_loop,
        "plain_batched": r_f_batch,
        "cosine_min": float(cos_f.min()),
        "cosine_mean": float(cos_f.mean()),
    }

    print(
        f"{'measure':28s} {'sceneqa':>9s} {'plain loop':>11s} {'batched':>9s} {'x loop':>7s} {'x batched':>9s}"
        "  cosine vs fp32 (min / mean)"
    )
    labels = {"embed": f"embed, {n} decoded 640x480", "files": f"files, {files_n} JPEG 4032x3024"}
    for key, r in rows.items():
        print(
            f"{labels[key]:28s} {r['sceneqa']:8.1f}/s {r['plain_loop']:9.1f}/s {r['plain_batched']:7.1f}/s "
            f"{r['sceneqa'] / r['plain_loop']:6.2f}x {r['sceneqa'] / r['plain_batched']:8.2f}x  "
            f"{r['cosine_min']:.5f} / {r['cosine_mean']:.5f}"
        )
    if args.json:
        print(json.dumps({"machine": machine_info(), "arch": args.arch, "runtime": runtime.describe(), **rows}))
    return 0
