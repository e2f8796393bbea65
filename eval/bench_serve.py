"""``sceneqa bench serve``: a bounded load test of a real ``sceneqa serve`` on loopback, before and after
batching in one run.

The same load runs against two servers in turn: ``--max-batch 1`` (no batching: one image or text per forward
pass, the old behaviour) and the default ``--max-batch``. ``--clients`` concurrent clients send a mix of
search, classify and ask requests for ``--seconds``; reported side by side: throughput, p50/p95/p99 latency per
endpoint, errors (503s, the deliberate refusals of a full queue, apart), the mean batch size of the image and
text workers (from the server's ``/metrics``), and the server's resident memory after a warm-up at the same
concurrency (``--warmup`` seconds) and through the run. Traffic goes only to 127.0.0.1; the loop stops by
itself. Exits 1 on any error other than a 503.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import random
import re
import tempfile
import time
import urllib.request
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


async def load(url: str, clients: int, seconds: float, mix: dict[str, list[dict]]) -> dict[str, object]:
    """Latencies (ms) of the 200s per kind, errors per kind, and 503s per kind."""
    httpx = require("httpx", purpose="`sceneqa bench serve`")
    results: dict[str, list] = {k: [] for k in mix}
    errors: dict[str, int] = {k: 0 for k in mix}
    busy: dict[str, int] = {k: 0 for k in mix}
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
                    status = (await http.post(f"/v1/{kind}", json=body)).status_code
                except httpx.HTTPError:
                    status = 0
                if status == 200:
                    results[kind].append((time.perf_counter() - t0) * 1000)
                elif status == 503:  # a full queue, refused at once: a well-behaved client waits a little
                    busy[kind] += 1
                    await asyncio.sleep(0.2)
                else:
                    errors[kind] += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    return {"latencies": results, "errors": errors, "busy": busy}


def mean_batch_sizes(url: str) -> dict[str, float]:
    """Mean items per forward pass of the image and text workers, from the server's /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()
    sums = dict(re.findall(r'^sceneqa_batch_size_sum\{worker="(\w+)"\} (\S+)$', text, re.M))
    counts = dict(re.findall(r'^sceneqa_batch_size_count\{worker="(\w+)"\} (\S+)$', text, re.M))
    return {w: float(sums[w]) / float(counts[w]) for w in ("image", "text") if float(counts.get(w, 0))}


def one_server(args: argparse.Namespace, global_args: list[str], index: Path, max_batch: int) -> dict:
    """Start a server with ``--max-batch max_batch``, warm it up, load it; the figures of that run."""
    with running_server(global_args, index, "--max-batch", str(max_batch)) as (url, proc):
        mix = payloads()
        start = rss_mb(proc.pid)
        warm = asyncio.run(load(url, args.clients, args.warmup, mix))  # same concurrency as the run
        before = rss_mb(proc.pid)
        before_batches = mean_batch_sizes(url)
        t0 = time.perf_counter()
        every = max(1.0, args.seconds / 12)
        out, samples = asyncio.run(load_and_sample(url, args.clients, args.seconds, mix, proc.pid, every))
        wall = time.perf_counter() - t0
        after = rss_mb(proc.pid)
        batches = mean_batch_sizes(url)
    routes = {}
    for kind, lat in out["latencies"].items():
        pct = [float(np.percentile(lat, q)) if lat else float("nan") for q in (50, 95, 99)]
        routes[kind] = {
            "ok": len(lat),
            "errors": out["errors"][kind],
            "busy_503": out["busy"][kind],
            "p50_ms": pct[0],
            "p95_ms": pct[1],
            "p99_ms": pct[2],
        }
    total = sum(len(v) for v in out["latencies"].values())
    return {
        "max_batch": max_batch,
        "requests_per_s": total / wall,
        "ok": total,
        "errors": sum(out["errors"].values()),
        "warmup_errors": sum(warm["errors"].values()),
        "busy_503": sum(out["busy"].values()),
        "routes": routes,
        "mean_batch": batches or before_batches,
        "rss_idle_mb": start,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_samples": samples,
    }


def run_bench_serve(args: argparse.Namespace, config) -> int:
    from multimodal.engine.config import DEFAULT_MAX_BATCH
    from multimodal.tiers import TIERS

    global_args = ["--tier", args.tier if args.tier in TIERS else "lite", "-q"]
    if config.cache_dir:
        global_args += ["--cache-dir", str(config.cache_dir)]
    print(header_line())
    batches = tuple(getattr(args, "compare_batches", None) or (1, DEFAULT_MAX_BATCH))
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "idx"
        for max_batch in batches:
            runs.append(one_server(args, global_args, index, max_batch))
    print(
        f"load: {args.clients} clients for {args.seconds:.0f} s per server (after a {args.warmup:.0f} s warm-up), "
        f"tier {args.tier}, loopback; the same load against --max-batch " + " and ".join(str(b) for b in batches)
    )
    print_table(runs)
    if args.json:
        report = {"machine": machine_info(), "clients": args.clients, "seconds": args.seconds, "runs": runs}
        # the batched run's figures at the top level too (what the report had before the comparison)
        last = runs[-1]
        report |= {"requests_per_s": last["requests_per_s"], "errors": last["errors"], "endpoints": last["routes"]}
        report |= {k: last[k] for k in ("rss_idle_mb", "rss_before_mb", "rss_after_mb")}
        print(json.dumps(report))
    return 0 if all(r["errors"] == 0 and r["warmup_errors"] == 0 for r in runs) else 1


def print_table(runs: list[dict]) -> None:
    """One column group per run: req/s, then p50/p95/p99 ms per route, errors and 503s, batch sizes, RSS."""
    heads = [f"max-batch {r['max_batch']}" for r in runs]
    print(f"{'':22s}" + "".join(f"{h:>24s}" for h in heads))
    print(f"{'requests/s':22s}" + "".join(f"{r['requests_per_s']:24.2f}" for r in runs))
    for kind in runs[0]["routes"]:
        cells = []
        for r in runs:
            x = r["routes"][kind]
            cells.append(f"{x['p50_ms']:.0f}/{x['p95_ms']:.0f}/{x['p99_ms']:.0f} ms ({x['ok']})")
        print(f"{kind + ' p50/p95/p99':22s}" + "".join(f"{c:>24s}" for c in cells))
    print(f"{'errors / 503s':22s}" + "".join(f"{str(r['errors']) + ' / ' + str(r['busy_503']):>24s}" for r in runs))
    for worker in ("image", "text"):
        cells = [f"{r['mean_batch'].get(worker, float('nan')):.2f}" for r in runs]
        print(f"{'mean batch ' + worker:22s}" + "".join(f"{c:>24s}" for c in cells))
    for r in runs:
        growth = (r["rss_after_mb"] - r["rss_before_mb"]) / r["rss_before_mb"] * 100 if r["rss_before_mb"] else 0
        print(
            f"max-batch {r['max_batch']}: server RSS {r['rss_idle_mb']:.0f} MB idle, {r['rss_before_mb']:.0f} MB "
            f"after warm-up, {r['rss_after_mb']:.0f} MB after the run ({growth:+.1f}%; goal < 10%); "
            f"{r['warmup_errors']} warm-up errors"
        )
    if len(runs) > 1 and runs[0]["requests_per_s"]:
        print(f"throughput, last vs first: {runs[-1]['requests_per_s'] / runs[0]['requests_per_s']:.2f}x")
