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
from sceneqa.cli.explain_limits import add_explain_options, explain_max

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
    add_explain_options(
        p,
        "labels per image",
        "write a heatmap overlay PNG per image and label to DIR (with --labelset: of the taught head's logit)",
    )
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
    most = explain_max(args, "labels per image") if getattr(args, "explain", None) else None  # before any model
    if getattr(args, "labelset", None):
        if args.labels or args.labels_file:
            raise ConfigError("--labelset and --labels/--labels-file exclude each other: pick one")
        if getattr(args, "explain", None):
            return run_labelset_explained(args, config, most)
        from sceneqa.cli.labelsets import run_classify

        return run_classify(args, config)
    labels = read_labels(args)
    options = ZeroShotOptions(multi_label=args.multi_label, top_k=args.top_k, threshold=args.threshold)
    services = build_services(config)
    announce(services, args.quiet)
    results = classify_with_progress(services, args.images, labels, options)
    failed = print_results(args, services, results, lambda item: format_result(item.image, item.result, args.threshold))
    if getattr(args, "explain", None):  # off by default: no explain import, no extra work

        def targets(labels):
            from multimodal.explain.targets import phrase_targets

            return phrase_targets(services.encoder, services.zeroshot, labels)[0]

        write_explanations(args, services, results, targets, most)
    return 1 if failed else 0


def run_labelset_explained(args: argparse.Namespace, config: ServiceConfig, most: int) -> int:
    """``classify --labelset NAME --explain DIR``: the label set's result per image (as without ``--explain``),
    then per image and reported label the heatmap of the regions that raise the head's logit for that label."""
    from multimodal.explain.linear import labelset_targets
    from multimodal.teach.names import labelsets_dir
    from multimodal.teach.store import load_labelset
    from multimodal.teach.teach import classify_with_labelset
    from sceneqa.cli.labelsets import format_labelset_result

    options = ZeroShotOptions(multi_label=args.multi_label, top_k=args.top_k, threshold=args.threshold)
    services = build_services(config)
    announce(services, args.quiet)
    enc = services.encoder
    root = labelsets_dir(config.resolved_cache_dir, args.labelsets_dir)
    labelset = load_labelset(root, args.labelset, encoder_spec=enc.spec, encoder_dim=enc.dim)
    results = classify_with_labelset(services, labelset, args.images, options)
    failed = print_results(
        args,
        services,
        results,
        lambda item: format_labelset_result(item.image, item.result, args.threshold),
        {"labelset": labelset.name},
    )
    write_explanations(args, services, results, lambda labels: labelset_targets(labelset, labels), most)
    return 1 if failed else 0


def print_results(args: argparse.Namespace, services, results, fmt, extra: dict | None = None) -> int:
    """Print each result (``--json``: one object per line, with ``extra``; else ``fmt(item)``), errors to
    stderr; returns how many images failed."""
    failed = 0
    for item in results:
        if item.error:
            failed += 1
            print(f"sceneqa: error: {item.error}", file=sys.stderr)
        if args.json:
            print(json.dumps({**item.as_dict(services), **(extra or {})}, ensure_ascii=False))
        elif item.result is not None:
            print(fmt(item))
    return failed


def write_explanations(args: argparse.Namespace, services, results, targets_of, most: int) -> list[Path]:
    """``classify --explain DIR``: one overlay PNG per image and reported label (at most ``most``), the
    heatmap of ``targets_of(labels)`` (text embeddings, or a label set's head logits), named
    ``<image stem>__<label>.png`` (``-2``, ``-3``... after the stem of an image whose stem an earlier one had:
    red/0.png, blue/0.png); each image's files, flat maps and the cap are said on stderr. Returns the paths."""
    from multimodal.explain.api import explain_targets, write_overlays
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.factory import create_explainer
    from multimodal.images import load_image

    config = ExplainConfig(max_explanations=most)
    explainer = create_explainer(services.encoder)
    written: list[Path] = []
    stems: set[str] = set()
    for item in results:
        if item.result is None:
            continue
        labels = [s.label for s in item.result.labels]
        image = load_image(item.image, limits=services.config.image_limits)
        explanations, note = explain_targets(explainer, image, targets_of(labels), config)
        paths = write_overlays(image, unique_stem(item.image, stems), labels, explanations, args.explain, config)
        written.extend(paths)
        print(f"sceneqa: {item.image}: overlays: {', '.join(map(str, paths)) or 'none'}", file=sys.stderr)
        for label, exp in zip(labels, explanations):
            if exp.flat:
                print(f"sceneqa: {item.image}: {label}: flat heatmap: {exp.reason}", file=sys.stderr)
        for head_note in sorted({n for exp in explanations for n in exp.notes}):
            print(f"sceneqa: {item.image}: note: {head_note}", file=sys.stderr)
        if note:
            print(f"sceneqa: {item.image}: {note} (--explain-max)", file=sys.stderr)
    print(f"sceneqa: wrote {len(written)} heatmap overlays to {args.explain}", file=sys.stderr)
    return written


def unique_stem(image: str, taken: set[str]) -> str:
    """The file-name stem of ``image``'s overlays (its stem, slugged), with ``-2``, ``-3``... added when one in
    ``taken`` (the run's stems so far; the result is added) has it: two images never share overlay files."""
    from multimodal.explain.api import slug

    base = slug(Path(image).stem, 60)  # as write_overlays names them
    stem, n = base, 1
    while stem in taken:
        n += 1
        stem = f"{base[:52].rstrip('-')}-{n}"  # write_overlays keeps 60 characters of a stem
    taken.add(stem)
    return stem


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
