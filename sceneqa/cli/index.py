"""``sceneqa index add|remove|info|dedup|rebuild|tune``: build and maintain a visual catalog (index folder)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from multimodal.errors import ConfigError
from retrieval.manifest import INDEX_TYPES
from sceneqa.cli.banner import announce
from sceneqa.cli.catalog import services_for_index

ADD_HELP = """\
Adds (or updates) every image of SOURCE: a folder (recursive), a CSV / JSONL / Parquet catalog, or a
folder of Parquet files (one dataset in parts) with an image column (image, path, file... or
--image-column; paths relative to the catalog file and inside its folder or an --allow-root), an optional
id column (id or --id-column; else the path is the id) and any metadata columns (kept with their types).
Items are upserted by id; unchanged items are skipped cheaply, so re-running after an interruption
finishes the job. Bad rows and images are reported and skipped.

--engine ray decodes and embeds in Ray workers (a local Ray, or a cluster with --ray-address), writes
embedding shards under INDEX/shards, then builds the same index folder from them; a rerun after a crash
reuses the finished shards. Needs: pip install 'sceneqa[ray]'.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("index", help="build and maintain a visual catalog (FAISS + SQLite index folder)")
    isub = p.add_subparsers(dest="index_command", metavar="ACTION")
    isub.required = True
    for add in (_add_add, _add_remove, _add_info, _add_dedup, _add_rebuild, _add_tune):
        add(isub)


def _add_add(isub) -> None:
    add = isub.add_parser(
        "add",
        help="add or update images from a folder or a catalog file",
        description=ADD_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument(
        "source",
        type=Path,
        help="a folder of images, a .csv / .jsonl / .parquet catalog, or a folder of .parquet parts",
    )
    _index_arg(add)
    add.add_argument("--image-column", help="catalog column holding the image path or URL")
    add.add_argument("--id-column", help="catalog column holding a stable item id")
    add.add_argument("--allow-urls", action="store_true", help="fetch http(s) image URLs (public hosts only)")
    add.add_argument(
        "--allow-root",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder a catalog file's image paths may point into besides the catalog's own folder (repeatable); "
        "paths elsewhere are reported and skipped",
    )
    add.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="keep items whose image bytes equal another item's (default: skip and report)",
    )
    add.add_argument(
        "--type",
        choices=("auto", *INDEX_TYPES),
        default="auto",
        help="index type; auto picks from the item count and --memory-budget-mb (default: auto)",
    )
    add.add_argument("--memory-budget-mb", type=float, default=4096.0, help="memory for the index (default 4096)")
    add.add_argument(
        "--commit-every",
        type=int,
        default=2048,
        metavar="N",
        help="write the index file after this many items (default 2048); the store commits every "
        "batch of --batch-size images regardless",
    )
    add.add_argument(
        "--batch-size",
        type=int,
        default=argparse.SUPPRESS,
        metavar="B",
        help="images per forward pass (same as the global --batch-size; default 32)",
    )
    _add_ray_options(add)
    add.add_argument("--json", action="store_true", help="print the summary as JSON")
    add.set_defaults(handler=run_add)


def _add_ray_options(add) -> None:
    eng = add.add_argument_group("distributed ingestion (Ray)")
    eng.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: decode and embed in Ray workers, write embedding shards, "
        "then build the index from them",
    )
    eng.add_argument(
        "--ray-address",
        metavar="auto|HOST:PORT",
        help="join a running Ray cluster (auto: the one `ray start` made here); default: start a local Ray",
    )
    eng.add_argument(
        "--num-workers", type=int, default=2, metavar="N", help="Ray actors, each holding the encoder (default 2)"
    )
    eng.add_argument(
        "--cpus-per-worker", type=int, default=1, metavar="C", help="CPUs (torch threads) per actor (default 1)"
    )
    eng.add_argument(
        "--shard-size", type=int, default=1024, metavar="ROWS", help="rows per embedding shard (default 1024)"
    )
    eng.add_argument("--shard-dir", type=Path, metavar="DIR", help="where shards go (default: INDEX/shards)")
    eng.add_argument("--keep-shards", action="store_true", help="keep the shards after the index is built")


def _add_remove(isub) -> None:
    rm = isub.add_parser("remove", help="remove items by id")
    rm.add_argument("ids", nargs="+", metavar="ID")
    _index_arg(rm)
    rm.set_defaults(handler=run_remove)


def _add_info(isub) -> None:
    info = isub.add_parser("info", help="count, encoder, index type, size on disk, metadata schema")
    _index_arg(info)
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=run_info)


def _add_dedup(isub) -> None:
    dedup = isub.add_parser("dedup", help="list groups of near-duplicate items")
    _index_arg(dedup)
    dedup.add_argument(
        "--threshold",
        type=float,
        default=0.95,
        help="cosine at or above which items are near-duplicates (default: 0.95)",
    )
    dedup.add_argument("--json", action="store_true")
    dedup.set_defaults(handler=run_dedup)


def _add_rebuild(isub) -> None:
    rebuild = isub.add_parser("rebuild", help="rebuild the FAISS index from the stored embeddings")
    _index_arg(rebuild)
    rebuild.add_argument("--type", choices=("auto", *INDEX_TYPES), default="auto")
    rebuild.add_argument("--memory-budget-mb", type=float, default=4096.0)
    rebuild.set_defaults(handler=run_rebuild)


TUNE_HELP = """\
Learns, from the catalog's own image-text pairs (the values of --text-columns, joined, e.g. a product name),
a map that turns a text query into a better query for this index's images, and saves it in INDEX/tune.npz
with its provenance. A seeded --holdout share of the items is kept out of the fit; the map's direction and
ridge strength are chosen on a validation part of the rest, and text->image recall@10 on the held-out items is
reported before (the encoder's text embedding) and after (the map). The saved map is then refit on every item.
`sceneqa search --text` uses it (--no-tune to compare); a text-only search also matches each item's own text.
Items added later are found by image only until the next tune.
"""


def _add_tune(isub) -> None:
    tune = isub.add_parser(
        "tune",
        help="learn a text-query map from the catalog's image-text pairs (better --text search)",
        description=TUNE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _index_arg(tune)
    tune.add_argument("--text-columns", required=True, metavar="C1,C2", help="metadata columns holding item text")
    tune.add_argument("--holdout", type=float, default=0.2, help="share of items held out to measure (default 0.2)")
    tune.add_argument("--seed", type=int, default=0, help="seed of the held-out draw (default 0)")
    tune.add_argument(
        "--no-item-text", action="store_true", help="do not keep item text features (no text fusion in search)"
    )
    tune.add_argument("--json", action="store_true", help="print the provenance as JSON")
    tune.set_defaults(handler=run_tune)


def run_tune(args: argparse.Namespace, config) -> int:
    from multimodal.search_tune import TuneOptions, tune_catalog
    from retrieval.catalog import Catalog

    columns = tuple(c.strip() for c in args.text_columns.split(",") if c.strip())
    options = TuneOptions(columns, holdout=args.holdout, seed=args.seed, keep_item_text=not args.no_item_text)
    services = services_for_index(config, args.index)
    announce(services, args.quiet)
    enc = services.encoder
    with Catalog.open(args.index, encoder=enc.spec, dim=enc.dim) as catalog:
        tuned = tune_catalog(services, catalog, options)
    prov = tuned.provenance
    if args.json:
        print(json.dumps(prov, ensure_ascii=False))
        return 0
    r = prov["held_out_recall@10"]
    print(
        f"{args.index}: tuned on {prov['fit_items']} items ({', '.join(prov['columns'])}; {prov['features']} "
        f"features, map {prov['direction']}, ridge {prov['alpha']:g}); held-out text->image recall@10 on "
        f"{prov['held_out_items']} items: {r['before']:.3f} before, {r['after']:.3f} after; saved refit on all "
        f"{prov['items']} items"
    )
    return 0


def _index_arg(p) -> None:
    p.add_argument("--index", required=True, type=Path, metavar="DIR", help="the index folder")


def run_add(args: argparse.Namespace, config) -> int:
    from tqdm import tqdm

    from multimodal.ingest.local import IngestOptions, ingest
    from retrieval.catalog import Catalog
    from retrieval.sources import read_source

    rows = read_source(args.source, image_column=args.image_column, id_column=args.id_column, roots=args.allow_root)
    services = services_for_index(config, args.index)
    announce(services, args.quiet)
    options = replace(
        IngestOptions(),
        chunk=config.batch_size,
        commit_every=args.commit_every,
        allow_urls=args.allow_urls,
        allow_duplicates=args.allow_duplicates,
        index_type=args.type,
        memory_budget_mb=args.memory_budget_mb,
        limits=config.image_limits,
    )
    enc = services.encoder
    if args.engine == "ray":
        summary = _run_ray(args, config, services, rows, options)
        _report(args, summary)
        return 0
    with Catalog.open(args.index, encoder=enc.spec, dim=enc.dim, writable=True, create=True) as catalog:
        if catalog.reconciled.added or catalog.reconciled.removed:
            print(
                f"sceneqa: recovered an interrupted run: {catalog.reconciled.added} stored items re-indexed, "
                f"{catalog.reconciled.removed} stale entries dropped",
                file=sys.stderr,
            )
        with tqdm(unit="img", desc="indexing", file=sys.stderr, disable=None, smoothing=0.1) as bar:
            summary = ingest(catalog, enc, rows, options, progress=bar.update)
    _report(args, summary)
    return 0


def _run_ray(args: argparse.Namespace, config, services, rows, options):
    from tqdm import tqdm

    from multimodal.ingest.ray_ingest import EncoderRecipe, RayOptions, ray_ingest

    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise ConfigError("--engine ray needs Ray: pip install 'sceneqa[ray]' (or pip install 'ray[data]')") from exc
    ray_options = RayOptions(
        address=args.ray_address,
        num_workers=args.num_workers,
        cpus_per_worker=args.cpus_per_worker,
        shard_size=args.shard_size,
        shard_dir=args.shard_dir,
        keep_shards=args.keep_shards,
    )
    enc = services.encoder
    recipe = EncoderRecipe(enc.spec, services.runtime, services.encoder_options())
    with tqdm(unit="img", desc="embedding (ray)", file=sys.stderr, disable=None, smoothing=0.1) as bar:
        return ray_ingest(
            args.index,
            rows,
            recipe,
            enc.dim,
            options,
            ray_options,
            config.batch_size,
            str(Path(args.source).resolve()),
            progress=bar.update,
            notice=lambda text: print(f"sceneqa: {text}", file=sys.stderr),
        )


def _report(args: argparse.Namespace, summary) -> None:
    if args.json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False))
    else:
        print(format_summary(summary, args.index))
    for item_id, original in summary.duplicates[:20]:
        print(
            f"sceneqa: skipped {item_id}: same image bytes as item {original} (--allow-duplicates keeps both)",
            file=sys.stderr,
        )
    for where, reason in summary.failed[:20]:
        print(f"sceneqa: skipped {where}: {reason}", file=sys.stderr)
    if len(summary.failed) > 20:
        print(f"sceneqa: ... and {len(summary.failed) - 20} more skipped (use --json for all)", file=sys.stderr)


def format_summary(s, folder: Path) -> str:
    d = s.as_dict()
    return (
        f"{folder}: added {s.added}, updated {s.updated}, metadata updated {s.metadata}, unchanged "
        f"{s.unchanged}, duplicates {len(s.duplicates)}, failed {len(s.failed)}; {s.embedded} images embedded "
        f"in {s.seconds:.1f} s ({d['images_per_s']} img/s); index {s.index_type} with {s.count} items"
    )


def _open(folder: Path, writable: bool):
    from retrieval.catalog import Catalog

    return Catalog.open(folder, encoder=None, dim=None, writable=writable)


def run_remove(args: argparse.Namespace, config) -> int:
    with _open(args.index, writable=True) as catalog:
        removed = catalog.remove(args.ids)
        catalog.commit()
    missing = [i for i in args.ids if i not in removed]
    print(f"{args.index}: removed {len(removed)} item(s)")
    for item_id in missing:
        print(f"sceneqa: error: no item {item_id!r} in {args.index}", file=sys.stderr)
    return 1 if missing else 0


def run_info(args: argparse.Namespace, config) -> int:
    with _open(args.index, writable=False) as catalog:
        info = catalog.info()
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    size_mb = info["size_on_disk_bytes"] / 2**20
    print(
        f"index {info['folder']}: {info['count']} items; encoder {info['encoder']} (dim {info['dim']}, "
        f"{info['metric']}); type {info['index_type']} {info['index_params']} (recommended for this size: "
        f"{info['recommended_type']}); {size_mb:.1f} MB on disk; updated {info['updated_at']}"
    )
    if info["tombstones"]:
        print(f"  {info['tombstones']} removed items still in the HNSW graph; `sceneqa index rebuild` drops them")
    print("  metadata columns: " + (", ".join(f"{k} ({v})" for k, v in info["schema"].items()) or "none"))
    return 0


def run_dedup(args: argparse.Namespace, config) -> int:
    from retrieval.dedup import near_duplicate_groups

    with _open(args.index, writable=False) as catalog:
        groups = near_duplicate_groups(catalog, args.threshold)
    if args.json:
        print(json.dumps({"threshold": args.threshold, "groups": groups}))
    else:
        print(f"{len(groups)} group(s) of near-duplicates at cosine >= {args.threshold}")
        for g in groups:
            print("  " + ", ".join(g))
    return 0


def run_rebuild(args: argparse.Namespace, config) -> int:
    from retrieval.vector_index import index_params_for

    with _open(args.index, writable=True) as catalog:
        params = index_params_for(args.type, catalog.store.count(), catalog.manifest.dim, args.memory_budget_mb)
        catalog.rebuild(params)
        print(f"{args.index}: rebuilt as {params.kind} with {catalog.store.count()} items")
    return 0
