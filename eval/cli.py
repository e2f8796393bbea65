"""``sceneqa eval ...`` and ``sceneqa bench ...`` subcommands (heavy imports happen in the handlers)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parsers(sub) -> None:
    ev = sub.add_parser("eval", help="quality evaluations that write report.json / report.md")
    ev_sub = ev.add_subparsers(dest="eval_command", metavar="EVAL")
    ev_sub.required = True
    zs = ev_sub.add_parser(
        "zeroshot",
        help="zero-shot accuracy of labelled images (top-1/5, macro F1, ECE)",
        description="Classifies every image against all class names of the data and "
        "reports accuracy, per-class accuracy, macro F1 and calibration.",
    )
    zs.add_argument(
        "--data",
        required=True,
        type=Path,
        help="a labelled folder (one subfolder per class) or a CSV with path and label columns",
    )
    zs.add_argument("--label-column", default="label", help="CSV column holding the class (default: label)")
    zs.add_argument("--path-column", default="path", help="CSV column holding the image path (default: path)")
    zs.add_argument("--limit", type=int, help="evaluate only the first N rows")
    zs.add_argument("--out", type=Path, default=Path("reports/zeroshot"), help="output folder for the report")
    zs.set_defaults(handler=_run_zeroshot)

    bench = sub.add_parser("bench", help="speed benchmarks that print figures and same-run ratios")
    b_sub = bench.add_subparsers(dest="bench_command", metavar="BENCH")
    b_sub.required = True
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
    emb.set_defaults(handler=_run_bench_embed)


def _run_zeroshot(args: argparse.Namespace, config) -> int:
    from eval.zeroshot_eval import run_zeroshot_eval

    return run_zeroshot_eval(args, config)


def _run_bench_embed(args: argparse.Namespace, config) -> int:
    from eval.bench_embed import run_bench_embed

    return run_bench_embed(args, config)
