"""``sceneqa bench shards``: building a large index from embedding shards, and Ray ingestion throughput.

Part 1 (memory): ``--n`` synthetic clustered unit vectors (``--dim``) written as shards of ``--shard-rows``
(generated shard by shard), then built into an IVF-PQ index folder by ``build_from_shards`` in a child
process (train on a sample drawn across the shards, add shard by shard, store rows in SQLite): build time and
the child's peak resident memory (``ru_maxrss``), sampled RSS, bytes on disk, and recall@10 of 200 held-out
queries against exact search over the same vectors.

Part 2 (throughput): the same ``--images`` generated JPEG photos ingested by the local path and by the Ray
engine on a local Ray cluster of ``--workers`` actors (one CPU each), with the ``--encoder`` model; wall time
including Ray start-up, and the Ray run's time without start-up, side by side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from eval.bench_search import clustered_vectors, exact_topk, recall_at
from eval.machine import header_line, machine_info
from eval.rss import rss_mb


def write_synthetic_shards(folder: Path, n: int, dim: int, rows: int) -> list[Path]:
    from retrieval.shards import Shard, shard_bytes, shard_name, write_shard

    paths = []
    for k, start in enumerate(range(0, n, rows)):
        m = min(rows, n - start)
        vecs = clustered_vectors(m, dim, seed=10 + k)
        ids = [f"v{start + i}" for i in range(m)]
        shard = Shard(
            ids=ids,
            images=[f"synthetic/{i}.jpg" for i in ids],
            hashes=[f"{start + i:064x}" for i in range(m)],
            metadata=[f'{{"bucket": {(start + i) % 100}}}' for i in range(m)],
            vectors=vecs,
            failed=[],
            planned=tuple(ids),
        )
        paths.append(folder / shard_name(k))
        write_shard(paths[-1], shard_bytes(shard, dim))
        del vecs, shard
    return paths


def build_child(shards: Path, index: Path, dim: int, kind: str) -> dict[str, float]:
    """Run the build in a child process; its peak RSS (the child's own ``VmHWM``), plus RSS sampled every 0.5 s."""
    cmd = [sys.executable, "-m", "eval.bench_shards", "build", str(shards), str(index), str(dim), kind]
    samples: list[float] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while proc.poll() is None:
            try:
                samples.append(rss_mb(proc.pid))
            except (OSError, ValueError):
                break
            time.sleep(0.5)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, err = proc.communicate()
    t.join()
    if proc.returncode:
        raise RuntimeError(f"build failed: {err[-2000:]}")
    return {
        "seconds": time.perf_counter() - t0,
        "sampled_max_mb": max(samples) if samples else float("nan"),
        **json.loads(out.strip().splitlines()[-1]),  # includes the child's own peak_rss_mb
    }


def _child_build(shards: str, index: str, dim: str, kind: str) -> None:
    from multimodal.ingest.shard_build import build_from_shards
    from retrieval.shards import list_shards

    s = build_from_shards(Path(index), list_shards(Path(shards)), encoder="bench:shards", dim=int(dim), index_type=kind)
    # VmHWM: this process image's resident high-water mark (ru_maxrss would carry the forking parent's over exec)
    peak_mb = rss_mb(peak=True)
    print(json.dumps({"count": s.count, "index_type": s.index_type, "added": s.added, "peak_rss_mb": peak_mb}))


def index_recall(index: Path, dim: int, shards: list[Path], queries: int) -> dict[str, float]:
    from retrieval.catalog import Catalog
    from retrieval.shards import read_shard

    xq = clustered_vectors(queries, dim, seed=99)
    xb = np.concatenate([read_shard(p).vectors for p in shards])  # the parent's memory, not the build's
    truth = exact_topk(xb, xq, 10)
    del xb
    found, times = [], []
    with Catalog.open(index, encoder=None, dim=None) as cat:
        for q in xq:
            t0 = time.perf_counter()
            hits = cat.search(q, 10)
            times.append(time.perf_counter() - t0)
            found.append([int(h.id[1:]) for h in hits])
        info = cat.info()
    return {"recall_at_10": recall_at(np.array(found), truth), "p50_ms": float(np.median(times) * 1000), **info}


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def part_memory(args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    shards_dir, index = tmp / "shards", tmp / "idx"
    t0 = time.perf_counter()
    paths = write_synthetic_shards(shards_dir, args.n, args.dim, args.shard_rows)
    gen = time.perf_counter() - t0
    print(
        f"part 1: {args.n:,} synthetic {args.dim}-d vectors in {len(paths)} shards of {args.shard_rows:,} rows "
        f"({disk_mb(shards_dir):,.0f} MB, written in {gen:.0f} s); building an {args.type} index from them in a "
        "child process"
    )
    build = build_child(shards_dir, index, args.dim, args.type)
    quality = index_recall(index, args.dim, paths, args.queries)
    row = {**build, "recall_at_10": quality["recall_at_10"], "query_p50_ms": quality["p50_ms"]}
    row["store_mb"] = sum(p.stat().st_size for p in index.glob("store.sqlite*")) / 2**20
    row["index_mb"] = (index / "index.faiss").stat().st_size / 2**20
    print(
        f"built {row['count']:,} items ({row['index_type']}) in {row['seconds']:.0f} s; peak RSS of the build "
        f"{row['peak_rss_mb']:,.0f} MB (sampled max {row['sampled_max_mb']:,.0f} MB; bar < 2,048 MB: "
        f"{'met' if row['peak_rss_mb'] < 2048 else 'NOT met'}); index file {row['index_mb']:,.0f} MB, store "
        f"{row['store_mb']:,.0f} MB; recall@10 {row['recall_at_10']:.3f} over {args.queries} queries "
        f"(p50 {row['query_p50_ms']:.2f} ms)"
    )
    return row


def write_photos(folder: Path, n: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    lines = ["id,image,n"]
    for i in range(n):
        base = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((640, 480), Image.BICUBIC)
        img.save(folder / "images" / f"{i:05d}.jpg", quality=88)
        lines.append(f"p{i},images/{i:05d}.jpg,{i}")
    (folder / "catalog.csv").write_text("\n".join(lines) + "\n")
    return folder / "catalog.csv"


def part_throughput(args: argparse.Namespace, config, tmp: Path) -> list[dict[str, object]]:
    import ray

    from multimodal.encoders.base import EncoderOptions
    from multimodal.encoders.factory import create_encoder
    from multimodal.ingest.local import IngestOptions, ingest
    from multimodal.ingest.ray_ingest import EncoderRecipe, RayOptions, init_ray, ray_ingest
    from multimodal.runtime import resolve_runtime
    from retrieval.catalog import Catalog
    from retrieval.sources import read_source

    csv = write_photos(tmp / "photos", args.images)
    runtime = resolve_runtime("cpu", config.precision)
    options = EncoderOptions(batch_size=args.batch, local_files_only=True, cache_dir=config.resolved_cache_dir)
    encoder = create_encoder(args.encoder, runtime, options)
    print(
        f"part 2: {args.images} generated 640x480 JPEGs, encoder {args.encoder} ({runtime.precision}), batch "
        f"{args.batch}; local path vs Ray with {args.workers} actors x 1 CPU on a local Ray cluster"
    )
    rows = []
    t0 = time.perf_counter()
    with Catalog.open(tmp / "local", encoder=encoder.spec, dim=encoder.dim, writable=True, create=True) as cat:
        s = ingest(cat, encoder, read_source(csv), IngestOptions(chunk=args.batch))
    rows.append({"engine": "local (this process, all cores)", "seconds": time.perf_counter() - t0, "items": s.count})
    recipe = EncoderRecipe(encoder.spec, runtime, options)
    ray_opts = RayOptions(num_workers=args.workers, shard_size=args.batch * 2)
    t0 = time.perf_counter()
    init_ray(ray_opts)
    started = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        s = ray_ingest(tmp / "ray", read_source(csv), recipe, encoder.dim, IngestOptions(), ray_opts, args.batch, "x")
        work = time.perf_counter() - t1
    finally:
        ray.shutdown()
    rows.append(
        {
            "engine": f"ray ({args.workers} actors)",
            "seconds": started + work,
            "items": s.count,
            "ray_start_s": started,
            "without_start_s": work,
        }
    )
    base = rows[0]["seconds"]
    for r in rows:
        r["images_per_s"] = args.images / r["seconds"]
        r["vs_local"] = base / r["seconds"]
    print(f"{'engine':34s} {'items':>6s} {'seconds':>8s} {'img/s':>7s} {'vs local':>8s}")
    for r in rows:
        print(f"{r['engine']:34s} {r['items']:6d} {r['seconds']:8.1f} {r['images_per_s']:7.1f} {r['vs_local']:7.2f}x")
    r = rows[1]
    print(
        f"ray: {r['ray_start_s']:.1f} s starting the local cluster, {r['without_start_s']:.1f} s of work "
        f"({args.images / r['without_start_s']:.1f} img/s without start-up; actors load the model once each)"
    )
    return rows


def run_bench_shards(args: argparse.Namespace, config) -> int:
    print(header_line())
    result: dict[str, object] = {"machine": machine_info()}
    with tempfile.TemporaryDirectory() as tmp:
        if args.n:
            result["memory"] = part_memory(args, Path(tmp) / "memory")
        if args.images:
            result["throughput"] = part_throughput(args, config, Path(tmp) / "throughput")
    if args.json:
        print(json.dumps(result, default=float))
    return 0


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "build":
    _child_build(*sys.argv[2:])
