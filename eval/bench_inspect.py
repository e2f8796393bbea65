"""``sceneqa bench inspect``: fit time on N good images and per-image inspect latency, per bank kind.

Fit is timed from image files to a saved inspector (decode, features, bank, threshold, atomic save);
inspect from an image file to the verdict with its boxes and heatmap (one image per call, as the CLI and the
API run it; the PNG overlay is not written). Images: the first N of ``--good`` (resized to ``--size`` so
each is a SIZE-px image) or, without it, seeded synthetic brushed-metal textures of SIZE x SIZE, some with a
planted pit among the inspected ones. The machine is shared: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from eval.machine import header_line, machine_info

_SIMD = ("sse4_2", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    """The SIMD flags of this CPU that matter for the backbone's speed (from /proc/cpuinfo)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in _SIMD if f in have]
    except OSError:
        pass
    return []


def brushed_metal(size: int, seed: int, pit: bool = False) -> Image.Image:
    """A seeded grey texture with horizontal brushing streaks and a soft light gradient; ``pit`` adds a dark
    spot of about 1 % of the side."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    streaks = gaussian_filter(rng.normal(0, 1, (size, size)), (0.6, size / 16))
    light = np.linspace(-1, 1, size)[None, :] * rng.uniform(-8, 8)
    grey = 140 + 22 * streaks / (streaks.std() + 1e-9) + light
    if pit:
        cy, cx = rng.integers(size // 5, 4 * size // 5, 2)
        yy, xx = np.ogrid[:size, :size]
        r = max(2, size // 100)
        grey[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 40
    rgb = np.clip(np.stack([grey, grey * 0.98, grey * 0.94], -1), 0, 255).astype(np.uint8)
    return Image.fromarray(rgb)


def _image_files(args: argparse.Namespace, tmp: Path, n: int) -> list[Path]:
    out = []
    if args.good is not None:
        from multimodal.inspect.sources import read_good_images

        good = read_good_images(args.good)
        imgs = list(good.images[:n])
    else:
        imgs = [brushed_metal(args.size, i, pit=i >= args.images and i % 2 == 1) for i in range(n)]
    for i, img in enumerate(imgs):
        w, h = img.size
        scale = args.size / max(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
        out.append(tmp / f"{i:04d}.png")
        img.save(out[-1])
    return out


def bench_bank(args: argparse.Namespace, bank: str, train: list[Path], probe: list[Path], root: Path) -> dict:
    from multimodal.images import load_image
    from multimodal.inspect import FitConfig, Inspector, create_backbone, fit_inspector, save_inspector

    backbone = create_backbone(args.backbone)
    config = FitConfig(image_size=args.size, bank=bank)
    t0 = time.perf_counter()
    state = fit_inspector(f"bench-{bank}", backbone, [load_image(p) for p in train], config)
    save_inspector(root, state, replace=True)
    fit_s = time.perf_counter() - t0
    inspector = Inspector(state, backbone)
    for p in probe[:2]:  # warm-up: oneDNN kernels, allocator
        inspector.inspect([load_image(p)])
    ms = []
    for i in range(args.repeats):
        t = time.perf_counter()
        inspector.inspect([load_image(probe[i % len(probe)])], [probe[i % len(probe)].name])
        ms.append((time.perf_counter() - t) * 1e3)
    return {
        "bank": bank,
        "fit_images": len(train),
        "fit_seconds": round(fit_s, 2),
        "fit_stages": state.report.seconds,
        "bank_size": state.bank.size,
        "bank_dims": int(state.bank.patches.shape[1]),
        "input_size": list(state.shape),
        "inspect_p50_ms": round(float(np.median(ms)), 1),
        "inspect_p90_ms": round(float(np.percentile(ms, 90)), 1),
        "inspect_min_ms": round(float(np.min(ms)), 1),
    }


def run_bench_inspect(args: argparse.Namespace, config) -> int:
    print(header_line())
    print(f"cpu flags: {' '.join(cpu_flags()) or 'unknown'}; torch threads: {_threads()}")
    source = str(args.good) if args.good is not None else f"synthetic brushed metal {args.size}x{args.size}"
    print(f"backbone {args.backbone}; fit on {args.images} good images ({source}); inspect {args.repeats} single calls")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = _image_files(args, Path(tmp), args.images + 16)
        train, probe = files[: args.images], files[args.images :] or files[:16]
        for bank in args.banks:
            load = os.getloadavg()[0]
            row = {**bench_bank(args, bank, train, probe, Path(tmp) / "inspectors"), "load_avg_1min": round(load, 2)}
            rows.append(row)
            print(
                f"bank {bank}: fit {row['fit_seconds']} s ({row['fit_stages']}), bank {row['bank_size']:,} patches x "
                f"{row['bank_dims']} dims, input {row['input_size'][0]}x{row['input_size'][1]}; inspect p50 "
                f"{row['inspect_p50_ms']} ms, p90 {row['inspect_p90_ms']} ms, min {row['inspect_min_ms']} ms "
                f"(load average {load:.2f} on {os.cpu_count()} cores)"
            )
    if args.json:
        print(json.dumps({"machine": machine_info(), "cpu_flags": cpu_flags(), "rows": rows}))
    return 0


def _threads() -> int:
    import torch

    return torch.get_num_threads()
