"""``sceneqa inspect``: fit an anomaly inspector from good images, then inspect images with it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

USAGE = """\
sceneqa inspect fit NAME --good SOURCE [fit options]
       sceneqa inspect NAME IMAGE... [--json] [--heatmap-dir DIR] [--band B] [--labelset L]
       sceneqa inspect list"""

HELP = """\
Learns what good parts look like from normal images only, then flags images that differ, with a heatmap of
where. `fit` reads SOURCE (a folder, searched recursively, or a CSV / JSONL / Parquet catalog), extracts
mid-level patch features with the backbone (lite: the packaged EfficientNet-Lite0), keeps them in a memory
bank and sets the threshold on held-back good images for the --false-alarm rate. `inspect NAME IMAGE...`
prints per image the anomaly score, the verdict (ok / defect / cannot tell, within --band of the threshold),
the probability that a good image scores lower (fitted on held-back good images), and the boxes of the
regions above the threshold; --heatmap-dir writes a heatmap overlay PNG per image. With --labelset L (a label
set taught on defect examples with `sceneqa teach`), each image judged a defect gets L's top label and its
probability as its defect type; without one, "defect of unknown type".

Backbone per tier (--backbone overrides): full: timm:wide_resnet50_2.tv_in1k (PatchCore's WideResNet-50-2,
layers 2+3, ImageNet normalisation; downloaded once into the Hugging Face cache, or @/path/to/weights), or lite,
announced, when its weights can be had neither from the cache nor the hub; auto: that one when already cached,
else lite; lite: the packaged EfficientNet-Lite0; tiny: a seeded random CNN (tiny-timm:resnet18 for a random
timm ResNet). Random weights are recorded as such in the inspector.

Inspectors live in --inspectors-dir, default CACHE/inspectors (CACHE: --cache-dir, $SCENEQA_CACHE or
~/.cache/sceneqa), saved atomically with their provenance; using one with another backbone is refused.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="anomaly inspection learned from good images (fit, then inspect with heatmaps)",
        usage=USAGE,
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("words", nargs="+", metavar="fit NAME | NAME IMAGE... | list", help="what to do")
    p.add_argument(
        "--inspectors-dir", type=Path, metavar="DIR", help="where inspectors live (default CACHE/inspectors)"
    )
    p.add_argument(
        "--backbone",
        help="lite, tiny, timm:MODEL[.TAG][@/path/weights] or tiny-timm:MODEL (default: the tier's, see below; "
        "inspect: the saved one)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    fit = p.add_argument_group("fit")
    fit.add_argument("--good", type=Path, metavar="SOURCE", help="good images: a folder or a catalog file")
    fit.add_argument("--size", type=int, default=512, help="longest input side in pixels (default 512)")
    fit.add_argument("--bank", choices=("nearest", "coreset"), default="nearest", help="memory bank (default nearest)")
    fit.add_argument("--nearest-images", type=int, default=5, help="nearest: bank images compared (default 5)")
    fit.add_argument("--coreset", type=float, default=0.01, help="coreset: share of patches kept (default 0.01)")
    fit.add_argument("--dims", type=int, default=32, help="principal components kept per patch (default 32)")
    fit.add_argument("--holdout", type=float, default=0.2, help="share of good images held back (default 0.2)")
    fit.add_argument("--false-alarm", type=float, default=0.01, help="good images allowed over the threshold")
    fit.add_argument(
        "--threshold",
        choices=("gumbel", "conformal"),
        default="gumbel",
        help="how the threshold is set from held-back scores (default gumbel: predictive bound of a Gumbel fit; "
        "conformal: an order statistic, needs 1/false-alarm - 1 held-back images)",
    )
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--replace", action="store_true", help="refit an existing inspector of this name")
    fit.add_argument("--image-column", help="catalog image column (default: image, path, file ...)")
    fit.add_argument("--allow-root", type=Path, action="append", default=[], metavar="DIR")
    ins = p.add_argument_group("inspect")
    ins.add_argument("--heatmap-dir", type=Path, metavar="DIR", help="write IMAGE-STEM.heatmap.png overlays here")
    ins.add_argument("--band", type=float, default=0.5, help='"cannot tell" half-width, in good-score spreads')
    ins.add_argument("--labelset", metavar="L", help="a taught label set of defect types for flagged images")
    ins.add_argument("--labelsets-dir", type=Path, metavar="DIR", help="where label sets live (CACHE/labelsets)")
    p.set_defaults(handler=run, inspect_parser=p)


def run(args: argparse.Namespace, config) -> int:
    words = args.words
    if words[0] == "fit":
        if len(words) != 2 or args.good is None:
            args.inspect_parser.error("usage: sceneqa inspect fit NAME --good SOURCE")
        return run_fit(args, config, words[1])
    if words[0] == "list":
        return run_list(args, config)
    if len(words) < 2:
        args.inspect_parser.error("usage: sceneqa inspect NAME IMAGE... (or: inspect fit NAME --good SOURCE)")
    return run_inspect(args, config, words[0], words[1:])


def _root(args, config) -> Path:
    from multimodal.inspect.store import inspectors_dir

    return inspectors_dir(config.resolved_cache_dir, args.inspectors_dir)


def _backbone(spec: str | None, config, quiet: bool):
    """The backbone of ``spec``, or (``None``) the tier's, announced with why when it is not the tier's first
    choice (the full tier's CNN cannot be had)."""
    from multimodal.inspect.backbone import backbone_for_tier, create_backbone
    from multimodal.inspect.backbone_timm import timm_unavailable

    note = ""
    if spec is None:
        spec, note = backbone_for_tier(config.tier, lambda s, d: timm_unavailable(s, d, offline=config.offline))
    if note:
        print(f"sceneqa: {note}", file=sys.stderr)  # a fallback is announced even with --quiet
    backbone = create_backbone(spec, offline=config.offline)
    if not quiet:
        print(f"sceneqa: inspect backbone {backbone.info.spec}: {backbone.info.description}", file=sys.stderr)
    return backbone


def run_fit(args: argparse.Namespace, config, name: str) -> int:
    from multimodal.inspect import FitConfig, fit_inspector, read_good_images, save_inspector
    from multimodal.inspect.store import validate_name

    validate_name(name)
    fit_config = FitConfig(
        image_size=args.size,
        bank=args.bank,
        nearest_images=args.nearest_images,
        coreset=args.coreset,
        dims=args.dims,
        holdout=args.holdout,
        false_alarm=args.false_alarm,
        threshold=args.threshold,
        seed=args.seed,
    )
    root = _root(args, config)
    if (root / name).exists() and not args.replace:
        args.inspect_parser.error(f"inspector {name!r} already exists in {root}; pass --replace to refit it")
    good = read_good_images(
        args.good,
        limits=config.image_limits,
        image_column=args.image_column,
        roots=tuple(args.allow_root),
        draft_size=args.size,  # JPEGs decode at a reduced scale that still covers the input size
    )
    for line in good.skipped:
        print(f"sceneqa: skipped {line}", file=sys.stderr)
    backbone = _backbone(args.backbone, config, args.quiet)
    state = fit_inspector(name, backbone, good.images, fit_config, skipped=good.skipped)
    if state.calibration.guaranteed > fit_config.false_alarm:
        print(f"sceneqa: warning: {state.calibration.describe()}", file=sys.stderr)
    folder = save_inspector(root, state, replace=args.replace)
    summary = {**state.summary(), "folder": str(folder)}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_summary(summary))
    return 0


def format_summary(s: dict) -> str:
    secs = s["seconds"]
    return "\n".join(
        [
            f"inspector {s['name']!r} saved to {s['folder']}",
            f"  backbone {s['backbone']}, input {s['input_size'][0]}x{s['input_size'][1]}, layers "
            f"{'+'.join(map(str, s['layers']))}; bank {s['bank']}: {s['bank_size']:,} patches "
            f"({s['bank_dims']} dims) from {s['bank_images']} images",
            f"  {s['threshold_how']}; {s['threshold_method']}",
            f"  {s['images_used']} good images used, {len(s['skipped'])} skipped; "
            f"{sum(secs.values()):.1f} s ({', '.join(f'{k} {v:.1f} s' for k, v in secs.items())})",
        ]
    )


def run_list(args: argparse.Namespace, config) -> int:
    from multimodal.inspect.store import list_names, load_state

    root = _root(args, config)
    rows = [load_state(root, n).summary() for n in list_names(root)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    for r in [] if args.json else rows:
        print(f"{r['name']}: backbone {r['backbone']}, bank {r['bank_size']:,}, threshold {r['threshold']}")
    if not rows and not args.json:
        print(f"no inspectors in {root}")
    return 0


def run_inspect(args: argparse.Namespace, config, name: str, paths: list[str]) -> int:
    from multimodal.errors import InvalidImageError
    from multimodal.images import load_image
    from multimodal.inspect import Inspector, VerdictConfig, load_state
    from multimodal.inspect.defect_types import inspect_with_types

    state = load_state(_root(args, config), name)
    inspector = Inspector(state, _backbone(args.backbone or state.backbone.spec, config, args.quiet))
    services, labelset = _labelset(args, config)
    verdict = VerdictConfig(band=args.band)
    results, failed = [], 0
    for path in paths:
        try:
            img = load_image(path, limits=config.image_limits)  # full size: boxes are in its pixels
        except InvalidImageError as exc:
            failed += 1
            print(f"sceneqa: error: {exc}", file=sys.stderr)
            continue
        item, kind = inspect_with_types(services, inspector, [img], [path], verdict, labelset)[0]
        record = item.to_dict()
        if kind is not None:
            record["defect_type"] = kind.to_dict()
        if args.heatmap_dir is not None:
            record["heatmap"] = str(write_heatmap(args.heatmap_dir, path, img, item))
        results.append(record)
        if not args.json:
            print(format_line(record))
    if args.json:
        print(json.dumps({"inspector": state.summary(), "results": results}, ensure_ascii=False))
    return 1 if failed else 0


def _labelset(args: argparse.Namespace, config):
    """``(services, label set)`` for --labelset, else ``(None, None)`` (no encoder is loaded then)."""
    if not args.labelset:
        return None, None
    from multimodal.inspect.defect_types import open_labelset
    from multimodal.services import build_services
    from multimodal.teach.names import labelsets_dir

    services = build_services(config)
    return services, open_labelset(
        services, labelsets_dir(config.resolved_cache_dir, args.labelsets_dir), args.labelset
    )


def inspector_selection(args: argparse.Namespace, config):
    """``sceneqa ask --inspector NAME``: the inspector as the ask pipeline's evidence (None without one)."""
    if not getattr(args, "inspector", None):
        return None
    from multimodal.ask.inspector_evidence import InspectorSelection
    from multimodal.inspect import Inspector, load_state

    state = load_state(_root(args, config), args.inspector)
    return InspectorSelection(Inspector(state, _backbone(state.backbone.spec, config, args.quiet)))


def write_heatmap(folder: Path, path: str, img, item) -> Path:
    from multimodal.inspect.render import overlay

    folder.mkdir(parents=True, exist_ok=True)
    stem, n = Path(path).stem, 1
    out = folder / f"{stem}.heatmap.png"
    while out.exists():
        n += 1
        out = folder / f"{stem}-{n}.heatmap.png"
    overlay(img, item.heatmap, item.threshold, item.boxes).save(out)
    return out


def format_line(r: dict) -> str:
    boxes = " ".join("[" + ",".join(map(str, b["box"])) + "]" for b in r["boxes"]) or "none"
    extra = f"  heatmap {r['heatmap']}" if "heatmap" in r else ""
    if "defect_type" in r:
        t = r["defect_type"]
        extra = f"  type {t['label']}" + (f" (p {t['probability']:.2f})" if "probability" in t else "") + extra
    return (
        f"{r['image']}: {r['verdict'].upper()}  score {r['score']:.4g} (threshold {r['threshold']:.4g}), "
        f"p {r['probability']:.3f}, regions {boxes}{extra}"
    )
