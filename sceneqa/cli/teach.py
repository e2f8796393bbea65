"""``sceneqa teach``: a label set learned from example images (few-shot), saved for ``classify --labelset``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = """\
Teaches label set NAME from examples: a folder with one sub-folder per label (SOURCE/boots/*.jpg,
SOURCE/sneakers/*.jpg ...) or a CSV / JSONL / Parquet catalog with an image column and a label column
(paths relative to the catalog and inside its folder or an --allow-root, as for `index add`).

The examples are embedded with the running encoder and a small head is fitted: class prototypes plus a
logistic regression, blended with zero-shot scores of the labels' texts when --labels is given; the
regularisation and blend weights are chosen by cross-validation on the examples, and the reported accuracy
is that cross-validated one. Examples that fail to load, duplicates and labels with one example are
reported; the rest are used. The label set is saved (atomically) under --labelsets-dir, default
CACHE/labelsets (CACHE: --cache-dir, $SCENEQA_CACHE or ~/.cache/sceneqa), with the encoder it was taught
with: using it with another encoder is refused. Names: letters, digits, '-', '_', '.' (at most 64).
"""


def add_labelsets_dir(p) -> None:
    p.add_argument(
        "--labelsets-dir",
        type=Path,
        metavar="DIR",
        help="where label sets live (default: CACHE/labelsets, CACHE from --cache-dir or $SCENEQA_CACHE)",
    )


def add_parser(sub) -> None:
    p = sub.add_parser(
        "teach",
        help="teach a label set from example images (few-shot)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="label set name, e.g. shoe-types")
    p.add_argument("--examples", required=True, type=Path, metavar="SOURCE", help="folder of label folders, or catalog")
    p.add_argument(
        "--labels",
        metavar="TEXTS",
        help='zero-shot texts blended in: "boots, sneakers=a photo of sneakers" (label, or label=description)',
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--add", action="store_true", help="add these examples to an existing label set and refit")
    mode.add_argument("--replace", action="store_true", help="replace an existing label set of this name")
    p.add_argument("--label-column", default="label", help="catalog column holding the label (default: label)")
    p.add_argument("--image-column", help="catalog image column (default: image, path, file ...)")
    p.add_argument("--id-column", help="catalog id column (default: id, else the image path)")
    p.add_argument(
        "--allow-root",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder (besides the catalog's) that catalog image paths may point into; repeatable",
    )
    add_labelsets_dir(p)
    p.add_argument("--json", action="store_true", help="print the label set summary as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config) -> int:
    from multimodal.teach.examples import ExampleOptions, read_examples
    from multimodal.teach.names import labelsets_dir, validate_name
    from multimodal.teach.teach import TeachOptions, parse_texts, teach
    from sceneqa.cli.banner import announced_services

    validate_name(args.name)
    options = TeachOptions(
        texts=parse_texts(args.labels) if args.labels is not None else None, add=args.add, replace=args.replace
    )
    source_options = ExampleOptions(
        label_column=args.label_column,
        image_column=args.image_column,
        id_column=args.id_column,
        roots=tuple(args.allow_root),
    )
    examples = read_examples(args.examples, source_options)  # bad sources fail before any model loads
    root = labelsets_dir(config.resolved_cache_dir, args.labelsets_dir)
    services = announced_services(config, args.quiet)
    result = _with_progress(services, root, args.name, examples, options, teach)
    for problem in result.problems:
        print(f"sceneqa: {problem}", file=sys.stderr)
    summary = result.labelset.summary()
    if args.json:
        print(json.dumps({**summary, "path": str(result.path), "added": result.added}, ensure_ascii=False))
    else:
        print(format_taught(summary, result.path, result.added))
    return 0


def _with_progress(services, root, name, examples, options, teach):
    from tqdm import tqdm

    n = len(examples.examples)
    with tqdm(total=n, unit="img", desc="teaching", file=sys.stderr, disable=None if n > 8 else True) as bar:
        return teach(services, root, name, examples, options, progress=bar.update)


def format_taught(summary: dict, path: Path, added: int) -> str:
    counts = summary["counts"]
    cv, head = summary["cv"], summary["head"]
    acc = (
        f"cross-validated accuracy {cv['accuracy']:.3f} ({cv['held_out']} held out, {cv['folds']} folds)"
        if cv["accuracy"] is not None
        else "not cross-validated (fewer than 2 labels with 2 examples)"
    )
    lines = [
        f"label set {summary['name']!r}: {len(counts)} labels, {sum(counts.values())} examples ({added} new); {acc}",
        f"  head: power {head['power']:g}, C {head['C']:g}, prototype weight {head['proto_weight']:g}, "
        f"text weight {head['text_weight']:g}, "
        f"temperature {head['temperature']:.2f}; encoder {summary['encoder']['spec']}, "
        f"features {summary['features']['kind']}{' + flips' if summary['features']['flip'] else ''}",
        "  examples: " + ", ".join(f"{label} {n}" for label, n in counts.items()),
        f"  saved in {path}",
    ]
    return "\n".join(lines)
