"""``sceneqa bench ...``: the parsers of the speed benchmarks (their handlers live in ``eval/``, see
:mod:`sceneqa.cli.handlers`)."""

from __future__ import annotations

from pathlib import Path

from sceneqa.cli.handlers import lazy_handler


def add_parser(sub) -> None:
    bench = sub.add_parser("bench", help="speed benchmarks that print figures and same-run ratios")
    b_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    b_sub.required = True
    for add in (_add_embed, _add_ingest, _add_fuzz, _add_crash, _add_shards, _add_serve, _add_ask, _add_search):
        add(b_sub)
    _add_inspect(b_sub)
    _add_teach(b_sub)
    _add_explain(b_sub)


def _add_embed(b_sub) -> None:
    emb = b_sub.add_parser(
        "embed",
        help="image-embedding throughput vs a plain open_clip fp32 loop",
        description="Embeds the same images with sceneqa's encoder and with a plain "
        "open_clip fp32 loop (random ViT-B-32 weights, same values), and "
        "prints images/s, the ratio and the cosine agreement.",
    )
    emb.add_argument("--arch", default="ViT-B-32", help="open_clip architecture (default: ViT-B-32)")
    emb.add_argument("--images", type=int, default=64, help="images per timed pass (default: 64)")
    emb.add_argument("--repeats", type=int, default=3, help="timed passes, best kept (default: 3)")
    emb.add_argument("--json", action="store_true", help="print the figures as JSON too")
    emb.set_defaults(handler=lazy_handler("bench embed"))


def _add_ingest(b_sub) -> None:
    ing = b_sub.add_parser(
        "ingest",
        help="JPEG folder -> index, end to end, vs a plain open_clip loop; RSS",
        description="Ingests the same JPEG photos with sceneqa (ViT-B-32-sized random "
        "encoder, and lite) and with a plain open_clip fp32 loop + flat index; "
        "prints images/s and ratios; then samples memory while ingesting many "
        "generated images.",
    )
    ing.add_argument("--images", type=int, default=48, help="photos for the throughput part (default: 48)")
    ing.add_argument("--size", default="4032x3024", help="photo size WxH (default: 4032x3024, a phone photo)")
    ing.add_argument("--arch", default="ViT-B-32", help="open_clip architecture (default: ViT-B-32)")
    ing.add_argument("--rss-images", type=int, default=20_000, help="images for the memory part (0 skips it)")
    ing.add_argument("--skip-lite", action="store_true", help="do not time the lite encoder")
    ing.add_argument("--json", action="store_true")
    ing.set_defaults(handler=lazy_handler("bench ingest"))


def _add_fuzz(b_sub) -> None:
    fuzz = b_sub.add_parser(
        "fuzz",
        help="mutated images through the loader: 0 unhandled exceptions expected",
        description="Seeded byte mutations of valid JPEG/PNG/GIF/WebP/BMP/TIFF files through "
        "load_image; counts decoded, refused and unhandled cases; exits 1 if any "
        "case raised something other than our InvalidImageError.",
    )
    fuzz.add_argument("--cases", type=int, default=5000, help="mutated images (default: 5000)")
    fuzz.add_argument("--seed", type=int, default=0)
    fuzz.add_argument("--seconds", type=float, default=600.0, help="time bound (default: 600)")
    fuzz.add_argument("--json", action="store_true")
    fuzz.set_defaults(handler=lazy_handler("bench fuzz"))


def _add_crash(b_sub) -> None:
    crash = b_sub.add_parser(
        "crash",
        help="SIGKILL catalog writers at random, check nothing acknowledged is lost",
        description="Kills --kills times, alternately, a writer doing upserts, updates and removes "
        "and a real `sceneqa index add`; after each kill reopens the index and checks "
        "index == store, the manifest, and that every acknowledged write is there; "
        "then resumes the ingest to the end.",
    )
    crash.add_argument("--kills", type=int, default=20, help="kills (default: 20)")
    crash.add_argument("--seed", type=int, default=0)
    crash.add_argument("--type", default="flat", choices=("flat", "hnsw"), help="index type (default: flat)")
    crash.add_argument(
        "--ingest-items", type=int, default=3000, help="generated JPEGs the ingest writer adds (default: 3000)"
    )
    crash.add_argument("--json", action="store_true")
    crash.set_defaults(handler=lazy_handler("bench crash"))


def _add_shards(b_sub) -> None:
    shards = b_sub.add_parser(
        "shards",
        help="index building from embedding shards (peak memory) and Ray ingestion throughput",
        description="Part 1: --n synthetic vectors written as shards, built into an IVF-PQ index folder in a "
        "child process: peak RSS (bar < 2 GB), build time, recall@10. Part 2: --images generated "
        "photos ingested by the local path and by Ray with --workers actors, side by side.",
    )
    shards.add_argument("--n", type=int, default=1_000_000, help="synthetic vectors (default 1,000,000; 0 skips)")
    shards.add_argument("--dim", type=int, default=512, help="dimensions (default 512)")
    shards.add_argument("--shard-rows", type=int, default=50_000, help="rows per shard (default 50,000)")
    shards.add_argument("--type", default="ivfpq", choices=("ivfpq", "flat", "hnsw", "auto"))
    shards.add_argument("--queries", type=int, default=200, help="held-out queries for recall@10 (default 200)")
    shards.add_argument("--images", type=int, default=256, help="photos for part 2 (default 256; 0 skips)")
    shards.add_argument(
        "--encoder",
        default="tiny:open_clip/ViT-B-32",
        help="encoder for part 2 (default: ViT-B-32-sized, random weights)",
    )
    shards.add_argument("--workers", type=int, default=2, help="Ray actors (default 2)")
    shards.add_argument("--batch", type=int, default=16, help="images per forward pass (default 16)")
    shards.add_argument("--json", action="store_true")
    shards.set_defaults(handler=lazy_handler("bench shards"))


def _add_serve(b_sub) -> None:
    bserve = b_sub.add_parser(
        "serve",
        help="bounded load test of a real sceneqa serve on loopback: batching off and on, a client sweep, the bars",
        description="Starts sceneqa serve --max-batch 1 and then with the default --max-batch on free loopback "
        "ports; at each client count, clients send a mix of requests for S seconds; prints per cell throughput, "
        "p50/p95/p99 per route, errors, 503s, mean batch, /healthz p99 and server RSS, then the bar lines of "
        "issue 18, a deadline scenario (a saturated server with a short --request-timeout) and the batching "
        "ceiling (model time per classify and search request alone and in a full pass, measured in-process: the "
        "most batching can gain on this machine).",
    )
    bserve.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[1, 4, 16, 64],
        help="concurrent clients per cell (default: 1 4 16 64)",
    )
    bserve.add_argument("--seconds", type=float, default=20.0, help="seconds per cell (default: 20)")
    bserve.add_argument(
        "--soak-seconds",
        type=float,
        default=60.0,
        help="the batched server's largest client count runs this long (the 64 clients x 60 s bar; 0: --seconds; "
        "default: 60)",
    )
    bserve.add_argument(
        "--warmup", type=float, default=10.0, help="seconds of load at the most clients before measuring (default: 10)"
    )
    bserve.add_argument(
        "--mix",
        default="classify,search",
        help="routes the clients send, comma-separated, of search,classify,ask (default: classify,search: the bars)",
    )
    bserve.add_argument(
        "--deadline-timeout", type=float, default=1.0, help="--request-timeout of the deadline scenario (default: 1)"
    )
    bserve.add_argument(
        "--deadline-seconds",
        type=float,
        default=10.0,
        help="seconds of the saturating burst of the deadline scenario (0: skip it; default: 10)",
    )
    bserve.add_argument("--quick", action="store_true", help="a seconds-long run (1 and 4 clients, 2 s cells; tests)")
    bserve.add_argument("--tier", default="lite", help="server tier (default: lite)")
    bserve.add_argument("--index", type=Path, help="catalog folder (default: a demo catalog in a temp folder)")
    bserve.add_argument("--json", action="store_true")
    bserve.set_defaults(handler=lazy_handler("bench serve"))


def _add_ask(b_sub) -> None:
    bask = b_sub.add_parser(
        "ask",
        help="ask latency (lite) on a 1-MP photo with a 200-line log",
        description="Asks a mix of questions about a 1-MP photo with a 200-line inspection "
        "log attached, in rounds; prints p50/p90/max per kind, warm and cold.",
    )
    bask.add_argument("--lines", type=int, default=200, help="lines in the generated log (default: 200)")
    bask.add_argument("--rounds", type=int, default=4, help="rounds of the question mix (default: 4)")
    bask.add_argument(
        "--vlm-arch",
        default="smolvlm-256m",
        help="also time a VLM of this random-weight architecture (smolvlm-256m, tiny, or none; default: smolvlm-256m)",
    )
    bask.add_argument("--new-tokens", type=int, default=32, help="VLM part: tokens generated (default 32)")
    bask.add_argument("--context-tokens", type=int, default=200, help="VLM part: context tokens (default 200)")
    bask.add_argument("--repeats", type=int, default=2, help="VLM part: timed repeats, best kept (default 2)")
    bask.add_argument("--json", action="store_true")
    bask.set_defaults(handler=lazy_handler("bench ask"))


def _add_search(b_sub) -> None:
    srch = b_sub.add_parser(
        "search",
        help="latency and recall@10 of flat, HNSW and IVF-PQ; filtered search",
        description="Synthetic clustered unit vectors (seeded): build each index type, "
        "time single queries (p50/p99), recall@10 against exact search, memory "
        "per vector; then filtered search at 1%%, 10%%, 50%% selectivity "
        "through a real index folder.",
    )
    srch.add_argument("--n", type=int, default=1_000_000, help="vectors for part 1 (default: 1,000,000)")
    srch.add_argument("--dim", type=int, default=512, help="dimension (default: 512)")
    srch.add_argument("--queries", type=int, default=200, help="single queries timed (default: 200)")
    srch.add_argument("--filter-n", type=int, default=200_000, help="items for the filtered part (default 200,000)")
    srch.add_argument("--filter-types", nargs="*", default=["hnsw"], help="index types for the filtered part")
    srch.add_argument("--json", action="store_true")
    srch.set_defaults(handler=lazy_handler("bench search"))


def _add_inspect(b_sub) -> None:
    bins = b_sub.add_parser(
        "inspect",
        help="anomaly inspector: fit time on N good images, per-image inspect latency, bank size",
        description="Fits an inspector on --images good images (the first of --good, or seeded synthetic "
        "brushed-metal textures), from files to a saved folder, for each --banks kind; then times --repeats "
        "single-image inspect calls of SIZE-px images (p50/p90). Prints the CPU, its SIMD flags and the load.",
    )
    bins.add_argument("--good", type=Path, help="a folder of good images (default: synthetic textures)")
    bins.add_argument("--images", type=int, default=200, help="good images to fit on (default: 200)")
    bins.add_argument("--size", type=int, default=256, help="image and input side in pixels (default: 256)")
    bins.add_argument("--repeats", type=int, default=30, help="inspect calls timed (default: 30)")
    bins.add_argument("--banks", nargs="+", default=["nearest", "coreset"], choices=("nearest", "coreset"))
    bins.add_argument("--backbone", default="lite", help="lite or tiny (default: lite)")
    bins.add_argument("--json", action="store_true")
    bins.set_defaults(handler=lazy_handler("bench inspect"))


def _add_explain(b_sub) -> None:
    bex = b_sub.add_parser(
        "explain",
        help="heatmap ms per image for one label: lite and a ViT-B-32-sized model",
        description="Times one label's heatmap of one photo (prepare, forward, backward, upsampling to image "
        "size) for each encoder, next to the plain classify embedding of the same photo. ViT-B-32 has random "
        "weights (speed only). Prints the CPU, its SIMD flags, torch threads and the load.",
    )
    bex.add_argument("--encoders", nargs="+", default=["lite", "tiny:open_clip/ViT-B-32"], help="encoder specs to time")
    bex.add_argument("--size", type=int, default=640, help="photo long side in px (default: 640)")
    bex.add_argument("--label", default="cat", help="the label explained (default: cat)")
    bex.add_argument("--repeats", type=int, default=10, help="timed calls per encoder (default: 10)")
    bex.add_argument(
        "--paths-repeats",
        type=int,
        default=2,
        help="classify/search/ask with explain off, on and the encoder floor: rounds over 3 photos (0 skips)",
    )
    bex.add_argument("--json", action="store_true")
    bex.set_defaults(handler=_run_explain)


def _run_explain(args, config) -> int:
    from eval.bench_explain import run_bench_explain

    return run_bench_explain(args, config)


def _add_teach(b_sub) -> None:
    bt = b_sub.add_parser(
        "teach",
        help="teach a label set of N examples (embed s, fit s, total s); --classify: ms/image with vs without it",
        description="Teaches --examples examples (seeded synthetic images, or a seeded sample of --data) from "
        "files to a saved label set and prints the embedding and fit times; with --classify, also the ms per "
        "image of plain embedding and of classifying with the label set, side by side. Prints the CPU, its SIMD "
        "flags and the load.",
    )
    bt.add_argument("--data", type=Path, help="a CSV with path and label columns, or a folder of label folders")
    bt.add_argument("--label-column", default="label", help="CSV column holding the label (default: label)")
    bt.add_argument("--path-column", default="path", help="CSV column holding the image path (default: path)")
    bt.add_argument("--examples", type=int, default=500, help="examples to teach (default: 500)")
    bt.add_argument("--labels", type=int, default=10, help="synthetic set only: labels (default: 10)")
    bt.add_argument("--seed", type=int, default=0)
    bt.add_argument("--classify", action="store_true", help="also time classify with the label set vs embedding")
    bt.add_argument("--queries", type=int, default=64, help="--classify: image files classified (default: 64)")
    bt.add_argument("--repeats", type=int, default=5, help="--classify: timed passes, best kept (default: 5)")
    bt.add_argument("--json", action="store_true")
    bt.set_defaults(handler=lazy_handler("bench teach"))
