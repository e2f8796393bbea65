"""``sceneqa bench explain``: milliseconds for one label's heatmap of one image, lite and a ViT-B-32-sized model.

Timed from a decoded image to the heatmap at image size (prepare, forward, backward, upsampling), one label, one
image per call, as ``locate`` and ``classify --explain`` run it; the overlay PNG is not encoded. The ViT part uses
``tiny:open_clip/ViT-B-32`` (the real architecture with random weights: the speed is the model's, the map
means nothing). The photo is scikit-image's ``chelsea`` (451x300) upscaled to ``--size`` on its long side.
Also times ``classify``'s image embedding of the same image, to show what ``--explain`` adds on top; and, with
``--paths-repeats N`` (default 2), classify / search / ask with explain off, on and the encoder floor side by side
(:mod:`eval.bench_explain_paths`), with the check that explain-off imports no ``multimodal.explain`` module.
"""

from __future__ import annotations

import argparse
import json
import os

from PIL import Image

from eval.bench_common import timed_ms
from eval.bench_inspect import cpu_flags
from eval.machine import header_line, machine_info


def _photo(size: int) -> Image.Image:
    from skimage import data

    img = Image.fromarray(data.chelsea())
    w, h = img.size
    return img.resize((size, round(h * size / w)), Image.BICUBIC)


def bench_encoder(spec: str, config, image: Image.Image, label: str, repeats: int) -> dict:
    """Heatmap and plain-embedding timings for the encoder ``spec`` built like the CLI builds it."""
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets
    from multimodal.services import build_services

    services = build_services(_config_for(spec, config))
    explainer = create_explainer(services.encoder)
    target = phrase_targets(services.encoder, services.zeroshot, [label])[0][0]
    heat = timed_ms(lambda: explainer.explain(explainer.prepare(image), target), repeats)
    embed = timed_ms(lambda: services.encoder.embed_images([image]), repeats)
    return {"encoder": spec, "method": explainer.name, "heatmap": heat, "embed_only": embed}


def _config_for(spec: str, config):
    from dataclasses import replace

    return replace(config, tier="lite" if spec == "lite" else "tiny", encoder=spec, offline=True)


def run_bench_explain(args: argparse.Namespace, config) -> int:
    import torch

    print(header_line())
    print(f"cpu flags: {' '.join(cpu_flags()) or 'unknown'}; torch threads: {torch.get_num_threads()}")
    # first: the import check means something only before this process has made any heatmap
    paths = _bench_paths(args, config) if getattr(args, "paths_repeats", 0) else None
    image = _photo(args.size)
    print(f"image {image.size[0]}x{image.size[1]}, label {args.label!r}, {args.repeats} timed calls each (p50/p90)")
    rows = []
    for spec in args.encoders:
        load = os.getloadavg()[0]
        row = {**bench_encoder(spec, config, image, args.label, args.repeats), "load_avg_1min": round(load, 2)}
        rows.append(row)
        h, e = row["heatmap"], row["embed_only"]
        print(
            f"{spec} ({row['method']}): heatmap p50 {h['p50_ms']} ms, p90 {h['p90_ms']} ms, min {h['min_ms']} ms; "
            f"classify embedding alone p50 {e['p50_ms']} ms (load average {load:.2f} on {os.cpu_count()} cores)"
        )
    if args.json:
        print(json.dumps({"machine": machine_info(), "cpu_flags": cpu_flags(), "rows": rows, "paths": paths}))
    return 0


def _bench_paths(args: argparse.Namespace, config) -> dict:
    """Explain off / on / the encoder floor for classify, search and ask (:mod:`eval.bench_explain_paths`), on
    the first of ``--encoders`` with the lite answerer."""
    from dataclasses import replace

    from eval.bench_explain_paths import bench_paths, paths_text
    from multimodal.services import build_services

    spec = args.encoders[0]
    services = build_services(replace(_config_for(spec, config), answerer="lite"))
    load = os.getloadavg()[0]
    result = {**bench_paths(services, size=args.size, repeats=args.paths_repeats), "encoder": spec}
    result["load_avg_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    print(f"{spec}: " + paths_text(result) + f"\n  (load average {load:.2f} -> {os.getloadavg()[0]:.2f})")
    return result
