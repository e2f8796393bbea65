"""``sceneqa bench fuzz``: mutated bytes of valid images through ``load_image`` (seeded, bounded in time).

Each case takes a valid image file (JPEG, PNG, GIF, WebP, BMP, TIFF) and applies a few random mutations: byte
flips, truncation, duplicated or deleted runs, header field edits. Every outcome must be a decoded RGB image or
our ``InvalidImageError``; anything else is an unhandled exception and is reported with its seed. Resident
memory is sampled before and after.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import time
import traceback

from eval.machine import header_line, machine_info

FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")


def seeds_corpus() -> list[tuple[str, bytes]]:
    """Valid files of each accepted format, from a package photo."""
    from PIL import Image
    from skimage import data

    base = Image.fromarray(data.chelsea()).resize((256, 170))
    out = []
    for fmt in FORMATS:
        buf = io.BytesIO()
        img = base.convert("P") if fmt == "GIF" else base
        img.save(buf, fmt)
        out.append((fmt, buf.getvalue()))
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        if op < 0.45 and b:
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.6 and len(b) > 2:
            del b[rng.randrange(1, len(b)) :]
        elif op < 0.75 and len(b) > 8:
            i = rng.randrange(len(b) - 4)
            b[i:i] = b[i : i + rng.randint(1, 64)]
        elif op < 0.9 and len(b) > 8:
            i = rng.randrange(len(b) - 4)
            del b[i : i + rng.randint(1, 32)]
        elif len(b) > 24:  # header fields: widths/heights/lengths live in the first bytes
            i = rng.randrange(min(len(b) - 4, 64))
            b[i : i + 4] = rng.randbytes(4)
    return bytes(b)


def run_fuzz(cases: int, seed: int, seconds: float) -> dict[str, object]:
    from eval.rss import rss_mb
    from multimodal.errors import InvalidImageError
    from multimodal.images import ImageLimits, load_image

    corpus = seeds_corpus()
    limits = ImageLimits(max_pixels=4_000_000)
    rng = random.Random(seed)
    before = rss_mb()
    done = decoded = refused = 0
    unhandled: list[dict[str, str]] = []
    deadline = time.monotonic() + seconds
    while done < cases and time.monotonic() < deadline:
        fmt, data = corpus[done % len(corpus)]
        case_seed = rng.randrange(2**31)
        blob = mutate(data, random.Random(case_seed))
        try:
            img = load_image(blob, limits=limits, draft_size=64)
            assert img.mode == "RGB"
            decoded += 1
        except InvalidImageError:
            refused += 1
        except Exception as exc:  # the point of fuzzing: anything that is not our error
            unhandled.append(
                {
                    "format": fmt,
                    "seed": str(case_seed),
                    "error": f"{type(exc).__name__}: {exc}",
                    "where": traceback.format_exc(limit=3).splitlines()[-2].strip(),
                }
            )
        done += 1
    after = rss_mb()
    return {
        "cases": done,
        "decoded": decoded,
        "refused": refused,
        "unhandled": unhandled,
        "rss_before_mb": before,
        "rss_after_mb": after,
    }


def run_bench_fuzz(args: argparse.Namespace, config) -> int:
    print(header_line())
    t0 = time.perf_counter()
    r = run_fuzz(args.cases, args.seed, args.seconds)
    took = time.perf_counter() - t0
    print(
        f"fuzz: {r['cases']} mutated images (seed {args.seed}) in {took:.1f} s: {r['decoded']} decoded, "
        f"{r['refused']} refused with a clear error, {len(r['unhandled'])} unhandled exceptions; "
        f"RSS {r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB"
    )
    for u in r["unhandled"][:20]:
        print(f"  UNHANDLED {u['format']} seed {u['seed']}: {u['error']} ({u['where']})")
    if args.json:
        print(json.dumps({"machine": machine_info(), **r, "seconds": took}))
    return 1 if r["unhandled"] else 0
