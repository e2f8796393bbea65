"""``sceneqa locate IMAGE "phrase"``: where in the image is the thing a phrase names (boxes from a heatmap).

Also the ``search --explain DIR`` and ``ask --explain DIR`` helpers: heatmap overlays, written only when asked
(``classify --explain DIR``'s are in :mod:`sceneqa.cli.classify`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from multimodal.services import ServiceConfig

HELP = """\
When the phrase names one of the 80 COCO categories ("dog", "the cups", "a phone") and the packaged object
detector (CenterNet, lite and full tiers) finds it at score >= 0.15, its boxes answer (method "detector").
Otherwise the image's similarity to the phrase is explained as a heatmap (Grad-CAM for the lite tier's
EfficientNet, token Grad-CAM for CLIP ViTs) and the regions where it is at least --threshold of its maximum
are boxed (method "heatmap"; --no-detector always does this). Boxes are in image pixels (x0, y0, x1, y1; x1, y1
exclusive), best first, with a description like "left half, around x=120..300, y=80..260". A flat heatmap means
the model finds nothing for the phrase.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "locate",
        help='boxes for "where is the X?" from an explanation heatmap',
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", metavar="IMAGE", help="an image file")
    p.add_argument("phrase", help='what to find, e.g. "the red car" (1..200 characters)')
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--threshold", type=float, help="box threshold, share of the map's max (default: the method's; lite 0.15)"
    )
    p.add_argument("--max-boxes", type=int, default=3, help="boxes reported (default: 3)")
    p.add_argument("--overlay", type=Path, metavar="PNG", help="also write the heatmap overlay with the boxes")
    p.add_argument("--no-detector", action="store_true", help="boxes from the heatmap even for COCO categories")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: ServiceConfig) -> int:
    from multimodal.explain.api import locate
    from multimodal.explain.base import ExplainConfig, check_phrase
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.targets import phrase_targets
    from multimodal.explain.where import WhereConfig, detector_for
    from multimodal.images import load_image
    from multimodal.services import build_services
    from sceneqa.cli.banner import announce

    phrase = check_phrase(args.phrase)  # before any model loads
    explain_config = ExplainConfig(box_threshold=args.threshold, max_boxes=args.max_boxes)
    image = load_image(args.image, limits=config.image_limits)
    services = build_services(config)
    announce(services, args.quiet)
    explainer = create_explainer(services.encoder)
    targets, sources = phrase_targets(services.encoder, services.zeroshot, [phrase])
    where = WhereConfig(use_detector=not args.no_detector)
    detector = detector_for(services) if where.use_detector else None
    found = locate(explainer, image, phrase, targets[0], explain_config, detector, where)
    if args.overlay:
        from multimodal.explain.render import located_overlay

        args.overlay.parent.mkdir(parents=True, exist_ok=True)
        located_overlay(image, found).save(args.overlay, format="PNG")
    if args.json:
        print(json.dumps({"image": args.image, "target": sources[0], **found.as_dict()}, ensure_ascii=False))
        return 0
    print(f"{args.image}: {phrase}: {found.description}  ({found.method}: {found.source})")
    for i, b in enumerate(found.boxes, 1):
        print(f"  box {i}: x={b.x0}..{b.x1 - 1}, y={b.y0}..{b.y1 - 1}  score {b.score:.2f}  share {b.mass:.2f}")
    for note in found.explanation.notes if found.explanation else ():
        print(f"  note: {note}", file=sys.stderr)
    return 0


def write_search_explanations(args: argparse.Namespace, services, response: dict, most: int) -> int:
    """``search --explain DIR``: one overlay PNG per top hit (``DIR/<rank>-<id>.png``), where its image matches
    the text query (or the query image without text), at most ``most`` (``--explain-max``, capped); each
    explained hit's row gets an ``explanation`` (for ``--json``). Returns the PNGs written."""
    from multimodal.explain.api import slug
    from multimodal.explain.base import ExplainConfig
    from multimodal.explain.factory import create_explainer
    from multimodal.explain.hits import explain_hits, query_target
    from multimodal.images import load_image

    config = ExplainConfig(max_explanations=most)
    limits = services.config.image_limits
    query = load_image(args.image, limits=limits) if args.image and not args.text else None
    found = query_target(services.encoder, services.zeroshot, args.text, query)
    hits = response["results"]
    if found is None or not hits:
        why = "no results" if found else "a --like query is not explained (only --text or --image queries)"
        print(f"sceneqa: --explain: nothing explained: {why}", file=sys.stderr)
        return 0
    target, label = found
    pairs = [(h["id"], h["image"]) for h in hits]
    rows, note = explain_hits(create_explainer(services.encoder), pairs, target, config, limits)
    _make_dir(args.explain)
    written = 0
    for rank, (hit, row) in enumerate(zip(hits, rows), start=1):
        picture = row.picture()
        if picture is None:
            hit["explanation"] = {"target": label, "note": row.error}
            print(f"sceneqa: {row.summary()}", file=sys.stderr)
            continue
        path = args.explain / f"{rank:02d}-{slug(row.item_id, 60)}.png"
        picture.save(path, format="PNG")
        written += 1
        e = row.explanation
        boxes = [b.as_dict() for b in row.boxes]
        hit["explanation"] = {"png": str(path), "target": label, "method": e.method, "flat": e.flat, "boxes": boxes}
        if e.flat:
            print(f"sceneqa: {row.summary()}", file=sys.stderr)
    if note:
        print(f"sceneqa: {note} (--explain-max)", file=sys.stderr)
    print(f"sceneqa: wrote {written} heatmap overlays to {args.explain} (target: {label})", file=sys.stderr)
    return written


def write_answer_explanations(out_dir: Path, services, question: str, images: list[str], answer) -> int:
    """``ask --explain DIR``: per image, ``DIR/image<n>-<stem>__why.png``: the boxes of the image facts the
    answer cites over the heatmap of the question's subject (when it names one). Returns the PNGs written."""
    from multimodal.explain.evidence import answer_target, explain_answer, write_answer_overlays
    from multimodal.images import load_image

    if not images:
        print("sceneqa: --explain: no images, nothing to explain", file=sys.stderr)
        return 0
    subject, explainer, target, problem = answer_target(services, question)
    if problem:
        print(f"sceneqa: --explain: {problem}", file=sys.stderr)
    loaded = [load_image(p, limits=services.config.image_limits) for p in images]
    rows, note = explain_answer(loaded, answer, explainer, target)
    paths = write_answer_overlays(rows, images, out_dir)
    for row, path in zip(rows, paths):
        heat = f"heatmap of '{subject}'" if row.explanation is not None else "no heatmap (no subject)"
        if row.explanation is not None and row.explanation.flat:
            heat = f"flat heatmap of '{subject}': {row.explanation.reason}"
        cited = ", ".join(row.locators) or "none"
        print(f"sceneqa: {path}: {len(row.boxes)} cited boxes ({cited}); {heat}", file=sys.stderr)
    if note:
        print(f"sceneqa: --explain: {note}", file=sys.stderr)
    if len(rows) < len(images) and not note:
        print(
            f"sceneqa: --explain: {len(images) - len(rows)} image(s) without cited boxes or a subject: no overlay",
            file=sys.stderr,
        )
    print(f"sceneqa: wrote {len(paths)} answer overlays to {out_dir}", file=sys.stderr)
    return len(paths)


def _make_dir(path: Path) -> None:
    from multimodal.errors import ConfigError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--explain {path}: cannot create the folder ({exc}); pass a writable folder") from exc
