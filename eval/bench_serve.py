"""``sceneqa bench serve``: a bounded load test of a real ``sceneqa serve`` on loopback.

``--clients`` concurrent clients send a mix of search, classify and ask requests for ``--seconds``; reported:
throughput, p50/p99 latency per endpoint, errors, and the server's resident memory: after a warm-up at the same
concurrency (``--warmup`` seconds: models, OCR, caches and per-thread buffers reach their working size), then
sampled every few seconds through the run, so growth means memory that keeps growing, not first-use
allocations. Traffic goes only to 127.0.0.1; the loop stops by itself. Exits 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.machine import header_line, machine_info
from eval.requires import require
from eval.rss import rss_mb
from eval.server_process import running_server


def payloads() -> dict[str, list[dict]]:
    from PIL import Image
    from skimage import data

    def b64(arr) -> str:
        buf = io.BytesIO()
        Image.fromarray(arr).convert("RGB").save(buf, "JPEG", quality=85)
        return base64.b64encode(buf.getvalue()).decode()

    photos = [b64(data.chelsea()), b64(data.coffee()), b64(data.astronaut())]
    log = "\n".join(f"2026-03-01 09:{i:02d} valve {i} inspected: seal intact" for i in range(40))
    return {
        "search": [{"text": t, "k": 8} for t in ("a red mug", "a cat", "a triangle sticker", "galaxies")],
        "classify": [{"image": p, "labels": ["a cat", "a cup of coffee", "a person", "a rocket"]} for p in photos],
        "ask": [
            {"question": "what is this?", "images": [photos[0]]},
            {"question": "was valve 12 inspected?", "contexts": [{"name": "inspection.log", "text": log}]},
            {"question": "how many people are there?", "images": [photos[2]]},
        ],
    }


async def sample_rss(pid: int, seconds: float, every: float, into: list[tuple[float, float]]) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        into.append((time.monotonic() - t0, rss_mb(pid)))
        await asyncio.sleep(every)


async def load_and_sample(url: str, clients: int, seconds: float, mix, pid: int, every: float):
    samples: list[tuple[float, float]] = []
    out, _ = await asyncio.gather(load(url, clients, seconds, mix), sample_rss(pid, seconds, every, samples))
    return out, samples


async def load(url: str, clients: int, seconds: float, mix: dict[str, list[dict]]) -> dict[str, list]:
    httpx = require("httpx", purpose="`sceneqa bench serve`")
    results: dict[str, list] = {k: [] for k in mix}
    errors: dict[str, int] = {k: 0 for k in mix}
    deadline = time.monotonic() + seconds
    kinds = list(mix)

    async def client(n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=url, timeout=180) as http:
            while time.monotonic() < deadline:
                kind = rng.choice(kinds)
                body = rng.choice(mix[kind])
                t0 = time.perf_counter()
                try:
                    r = await http.post(f"/v1/{kind}", json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    results[kind].append((time.perf_counter() - t0) * 1000)
                else:
                    errors[kind] += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    return {"latencies": results, "errors": errors}


def run_bench_serve(args: argparse.Namespace, config) -> int:
    from multimodal.tiers import TIERS

    global_args = ["--tier", args.tier if args.tier in TIERS else "lite", "-q"]
    if config.cache_dir:
        global_args += ["--cache-dir", str(config.cache_dir)]
    print(header_line())
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "idx"
        with running_server(global_args, index) as (url, proc):
            mix = payloads()
            start = rss_mb(proc.pid)
            warm = asyncio.run(load(url, args.clients, args.warmup, mix))  # same concurrency as the run
            warm_errors = sum(warm["errors"].values())
            before = rss_mb(proc.pid)
            t0 = time.perf_counter()
            every = max(1.0, args.seconds / 12)
            out, samples = asyncio.run(load_and_sample(url, args.clients, args.seconds, mix, proc.pid, every))
            wall = time.perf_counter() - t0
            after = rss_mb(proc.pid)
    total = sum(len(v) for v in out["latencies"].values())
    errors = sum(out["errors"].values())
    print(
        f"load: {args.clients} clients for {args.seconds:.0f} s against {url} (tier {args.tier}); "
        f"{total} requests ok, {errors} errors, {total / wall:.2f} requests/s"
    )
    print(f"{'endpoint':9s} {'ok':>5s} {'errors':>6s} {'p50 ms':>8s} {'p99 ms':>8s}")
    rows = {}
    for kind, lat in out["latencies"].items():
        p50 = float(np.percentile(lat, 50)) if lat else float("nan")
        p99 = float(np.percentile(lat, 99)) if lat else float("nan")
        rows[kind] = {"ok": len(lat), "errors": out["errors"][kind], "p50_ms": p50, "p99_ms": p99}
        print(f"{kind:9s} {len(lat):5d} {out['errors'][kind]:6d} {p50:8.0f} {p99:8.0f}")
    growth = (after - before) / before * 100 if before else float("nan")
    print(
        f"server RSS: {start:.0f} MB idle, {before:.0f} MB after a {args.warmup:.0f} s warm-up "
        f"({warm_errors} errors), {after:.0f} MB after the run ({growth:+.1f}%; goal < 10%)"
    )
    print("RSS through the run: " + ", ".join(f"{t:.0f}s {m:.0f}" for t, m in samples) + " MB")
    if args.json:
        print(
            json.dumps(
                {
                    "machine": machine_info(),
                    "requests_per_s": total / wall,
                    "errors": errors,
                    "endpoints": rows,
                    "rss_idle_mb": start,
                    "rss_before_mb": before,
                    "rss_after_mb": after,
                    "rss_samples": samples,
                }
            )
        )
    return 0 if errors == 0 and warm_errors == 0 else 1
