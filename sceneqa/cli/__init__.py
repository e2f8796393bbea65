"""``sceneqa`` command line: global options, logging, and dispatch to one library call per command.

The top floor: it imports ``retrieval``, ``multimodal``, ``demos`` and ``eval``; nothing imports it. One module
per command (``ask``, ``classify``, ``index`` ...); every module imports its heavy dependencies inside its handler,
so ``sceneqa --help`` stays fast.

Global options come before the subcommand (``sceneqa --tier lite classify ...``) and are shared by
every subcommand. Exit status: 0 success, 1 an input or model error (one line on stderr naming it),
2 a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from multimodal.errors import SceneQAError
from multimodal.images import DEFAULT_LIMITS, ImageLimits
from multimodal.runtime import DEVICES, PRECISIONS, limit_blas_threads
from multimodal.services import ServiceConfig
from multimodal.tiers import TIERS
from sceneqa.cli import (
    ask,
    bench_cmds,
    classify,
    demo,
    eval_cmds,
    index,
    inspect_cmd,
    labelsets,
    locate,
    models,
    search,
    serve,
    teach,
)

EPILOG = """\
tiers: auto uses full hub models when cached or downloadable, else the offline lite tier (announced).
examples:
  sceneqa serve                      # web UI + HTTP API on http://127.0.0.1:7860
  sceneqa demo
  sceneqa ask valve.jpg "is the seal intact?" --context inspection.log
  sceneqa classify photo.jpg --labels "cat, dog, a cup of coffee"
  sceneqa --tier lite classify *.jpg --labels-file labels.txt --multi-label --json
  sceneqa teach shoes --examples shoes/    # shoes/<label>/*.jpg; then: classify x.jpg --labelset shoes
  sceneqa inspect fit spindle --good parts/good/   # then: sceneqa inspect spindle part.jpg --heatmap-dir out/
  sceneqa index add catalog.csv --index shop/
  sceneqa search --index shop/ --text "red shirt" --filter "year>=2012" -k 5
  sceneqa locate photo.jpg "the cat" --json   # boxes from a heatmap; classify ... --explain DIR: overlays
  sceneqa models
  sceneqa eval zeroshot --data catalog.csv --label-column articleType --out reports/zs
  sceneqa bench embed
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sceneqa",
        description="Visual questions, catalog search and zero-shot classification, offline-capable.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = parser.add_argument_group("models and runtime (give these before the subcommand)")
    g.add_argument("--tier", choices=TIERS, default="auto", help="model tier (default: auto)")
    g.add_argument(
        "--encoder",
        metavar="SPEC",
        help="image-text encoder spec, e.g. lite, "
        "open_clip:ViT-B-32/laion2b_s34b_b79k, open_clip:local-dir:/models/clip, "
        "hf:openai/clip-vit-base-patch32",
    )
    g.add_argument(
        "--answerer",
        metavar="SPEC",
        help="who answers `ask`: lite (scene facts), "
        "hf:REPO_OR_DIR (a vision-language model, e.g. hf:HuggingFaceTB/SmolVLM-256M-Instruct), tiny:hf; "
        "default: the tier's",
    )
    g.add_argument(
        "--max-image-side",
        type=int,
        default=1024,
        help="VLM answerers: longest image edge in px before tiling (caps SmolVLM tiles; default 1024)",
    )
    g.add_argument("--max-new-tokens", type=int, default=96, help="VLM answerers: answer length cap (default 96)")
    g.add_argument("--device", default="auto", help=f"one of {', '.join(DEVICES)} or cuda:N (default: auto)")
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto = bf16 on CPUs with AMX/AVX512-BF16 and on GPUs, else fp32",
    )
    g.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    g.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    g.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="threads of numpy's BLAS (default 1: torch owns the cores and the two compete; 0: numpy's choice)",
    )
    g.add_argument("--offline", action="store_true", help="never contact a model hub")
    g.add_argument("--cache-dir", type=Path, help="sceneqa cache (default: $SCENEQA_CACHE or ~/.cache/sceneqa)")
    g.add_argument(
        "--max-image-mb",
        type=float,
        default=DEFAULT_LIMITS.max_bytes / 2**20,
        help="refuse image files larger than this (default: %(default)s)",
    )
    g.add_argument(
        "--max-megapixels",
        type=float,
        default=DEFAULT_LIMITS.max_pixels / 1e6,
        help="refuse images with more pixels than this, before decoding (default: %(default)s)",
    )
    g.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    g.add_argument("-q", "--quiet", action="store_true", help="do not print the tier/model banner")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add_parser in (
        serve.add_parser,
        demo.add_parser,
        ask.add_parser,
        classify.add_parser,
        teach.add_parser,
        labelsets.add_parser,
        inspect_cmd.add_parser,
        index.add_parser,
        search.add_parser,
        locate.add_parser,
        models.add_parser,
        eval_cmds.add_parser,
        bench_cmds.add_parser,
    ):
        add_parser(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> ServiceConfig:
    limits = ImageLimits(max_bytes=int(args.max_image_mb * 2**20), max_pixels=int(args.max_megapixels * 1e6))
    return replace(
        ServiceConfig(),
        tier=args.tier,
        encoder=args.encoder,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch_size,
        offline=args.offline,
        cache_dir=args.cache_dir,
        image_limits=limits,
        answerer=args.answerer,
        max_image_side=args.max_image_side,
        max_new_tokens=args.max_new_tokens,
    )


def configure_logging(verbosity: int) -> None:
    """Quiet by default: libraries' notes (open_clip logs to the root logger) stay off our stderr."""
    level = logging.ERROR if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        import transformers

        if verbosity == 0:
            transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        limit_blas_threads(args.blas_threads)
        config = config_from_args(args)
        return int(args.handler(args, config) or 0)
    except SceneQAError as exc:
        print(f"sceneqa: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sceneqa: interrupted", file=sys.stderr)
        return 130
