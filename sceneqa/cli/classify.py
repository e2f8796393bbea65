"""``sceneqa classify``: zero-shot classification of images against free-text labels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from multimodal.errors import ConfigError
from multimodal.services import ServiceConfig, build_services
from multimodal.zeroshot import ZeroShotOptions
from sceneqa.cli.banner import announce

HELP = """\
Scores each image against your labels. Single-label (default): the softmax over your labels picks one,
or "none of these" when even the best label is not supported. --multi-label: every label is judged on
its own and all supported labels are returned.

Each label gets a score and a match. match (0..1) says how strongly the label is supported on its own:
for CLIP-family and lite encoders it compares the label with 1,000 everyday concepts (0.5 = clearly
above them), for SigLIP it is the model's own probability. --threshold sets the match needed (0.5).
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "classify",
        help="zero-shot classification with free-text labels",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, WebP, GIF, BMP, TIFF)")
    p.add_argument("--labels", help='comma-separated labels, e.g. "cat, dog, a cup of coffee"')
    p.add_argument("--labels-file", type=Path, help="a text file with one label per line")
    p.add_argument("--multi-label", action="store_true", help="judge each label independently")
    p.add_argument("--top-k", type=int, default=5, help="labels reported per image (default: 5)")
    p.add_argument("--threshold", type=float, default=0.5, help="match needed to count as supported (default: 0.5)")
    p.add_argument("--json", action="store_true", help="print one JSON object per image (JSON Lines)")
    p.add_argument("--labelset", metavar="NAME", help="a label set taught with `sceneqa teach` instead of --labels")
    p.add_argument("--labelsets-dir", type=Path, metavar="DIR", help="where label sets live (default: CACHE/labelsets)")
    p.add_argument("--explain", type=Path, metavar="DIR", help="write a heatmap overlay PNG per image and label to DIR")
    p.add_argument("--explain-max", type=int, default=3, help="labels explained per image (default: 3)")
    p.set_defaults(handler=run)


def read_labels(args: argparse.Namespace) -> list[str]:
    labels: list[str] = []
    if args.labels:
        labels.extend(args.labels.split(","))
    if args.labels_file:
        try:
            labels.extend(args.labels_file.read_text(encoding="utf-8").splitlines())
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--labels-file {args.labels_file}: cannot be read as UTF-8 text ({exc})") from exc
    if not labels:
        raise ConfigError("no labels: pass --labels 'cat, dog' or --labels-file FILE")
    return labels


def run(args: argparse.Namespace, config: ServiceConfig) -> int:
    if getattr(args, "labelset", None):
        if args.labels or args.labels_file:
            raise ConfigError("--labelset and --labels/--labels-file exclude each other: pick one")
        from sceneqa.cli.labelsets import run_classify

        return run_classify(args, config)
    labels = read_labels(args)
    options = ZeroShotOptions(multi_label=args.multi_label, top_k=args.top_k, threshold=args.threshold)
    services = build_services(config)
    announce(services, args.quiet)
    results = classify_with_progress(services, args.images, labels, options)
    failed = 0
    for item in results:
        if item.error:
            failed += 1
            print(f"sceneqa: error: {item.error}", file=sys.stderr)
        if args.json:
            print(json.dumps(item.as_dict(services), ensure_ascii=False))
        elif item.result is not None:
            print(format_result(item.image, item.result, args.threshold))
    if getattr(args, "explain", None):  # off by default: no explain import, no extra work
        from sceneqa.cli.locate import write_classify_explanations

        write_classify_explanations(args, services, results)
    return 1 if failed else 0


def classify_with_progress(services, paths, labels, options):
    from tqdm import tqdm

    from multimodal.classify import classify_sources

    with tqdm(total=len(paths), unit="img", disable=None if len(paths) > 8 else True, file=sys.stderr) as bar:
        return classify_sources(services, paths, labels, options, progress=bar.update)


def format_result(image: str, result, threshold: float) -> str:
    """Human-readable lines for one image."""
    best = result.labels[0]
    if result.multi_label:
        if result.abstained:
            return f"{image}: none of these (best: {best.label}, match {best.match:.2f} < {threshold:.2f})"
        found = ", ".join(f"{s.label} (match {s.match:.2f})" for s in result.labels if s.label in result.supported)
        return f"{image}: {found}"
    others = ", ".join(f"{s.label} {s.score:.2f}" for s in result.labels[1:])
    tail = f"\n    others: {others}" if others else ""
    if result.abstained:
        return (
            f"{image}: none of these (best guess {best.label}, score {best.score:.2f}, "
            f"match {best.match:.2f} < {threshold:.2f}){tail}"
        )
    return f"{image}: {best.label} (score {best.score:.2f}, match {best.match:.2f}){tail}"
