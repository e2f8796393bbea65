"""``sceneqa labelsets list|info|remove`` (no model loads), and ``classify --labelset`` (its handler here)."""

from __future__ import annotations

import argparse
import json
import sys

from sceneqa.cli.teach import add_labelsets_dir


def add_parser(sub) -> None:
    p = sub.add_parser("labelsets", help="list, show or remove taught label sets (see `sceneqa teach`)")
    lsub = p.add_subparsers(dest="labelsets_command", metavar="ACTION")
    lsub.required = True
    ls = lsub.add_parser("list", help="the label sets, their labels, encoder and cross-validated accuracy")
    info = lsub.add_parser("info", help="one label set's provenance: encoder, counts, head, CV report, problems")
    info.add_argument("name", metavar="NAME")
    rm = lsub.add_parser("remove", help="delete a label set")
    rm.add_argument("name", metavar="NAME")
    for q, handler in ((ls, run_list), (info, run_info), (rm, run_remove)):
        add_labelsets_dir(q)
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(handler=handler)


def _root(args, config):
    from multimodal.teach.names import labelsets_dir

    return labelsets_dir(config.resolved_cache_dir, args.labelsets_dir)


def run_list(args: argparse.Namespace, config) -> int:
    from multimodal.teach.errors import LabelSetError
    from multimodal.teach.store import list_names, load_labelset

    root = _root(args, config)
    rows = []
    for name in list_names(root):
        try:
            s = load_labelset(root, name).summary()
            cv = s["cv"]["accuracy"]
            rows.append({"name": name, "labels": len(s["labels"]), "examples": s["examples"],
                         "encoder": s["encoder"]["spec"], "cv_accuracy": cv, "created": s["created"]})  # fmt: skip
        except LabelSetError as exc:  # one damaged folder does not hide the others
            rows.append({"name": name, "error": str(exc)})
    if args.json:
        print(json.dumps({"labelsets_dir": str(root), "labelsets": rows}, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no label sets in {root} (teach one: sceneqa teach NAME --examples SOURCE)")
    for r in rows:
        if "error" in r:
            print(f"{r['name']}: DAMAGED: {r['error']}")
            continue
        cv = f"{r['cv_accuracy']:.3f}" if r["cv_accuracy"] is not None else "n/a"
        print(f"{r['name']}: {r['labels']} labels, {r['examples']} examples, encoder {r['encoder']}, CV accuracy {cv}")
    return 0


def run_info(args: argparse.Namespace, config) -> int:
    from multimodal.teach.store import load_labelset

    s = load_labelset(_root(args, config), args.name).summary()
    if args.json:
        print(json.dumps(s, ensure_ascii=False))
        return 0
    cv = s["cv"]
    print(f"{s['name']} (created {s['created']}): encoder {s['encoder']['spec']} (dim {s['encoder']['dim']}), "
          f"features {s['features']['kind']}{' + flips' if s['features']['flip'] else ''}")  # fmt: skip
    acc = f"{cv['accuracy']:.3f} over {cv['held_out']} held-out examples" if cv["accuracy"] is not None else "n/a"
    print(f"  cross-validated accuracy: {acc}")
    head = s["head"]
    print(f"  head: power {head['power']:g}, C {head['C']:g}, prototype weight {head['proto_weight']:g}, "
        f"text weight {head['text_weight']:g}, "
          f"temperature {head['temperature']:.2f}")  # fmt: skip
    texts = s["texts"] or [None] * len(s["labels"])
    for label, text in zip(s["labels"], texts):
        per = cv["per_label"].get(label)
        extra = (f", CV {per:.2f}" if per is not None else "") + (f", text {text!r}" if text and text != label else "")
        print(f"  {label}: {s['counts'][label]} examples{extra}")
    for p in s["problems"]:
        print(f"  problem: {p}")
    return 0


def run_remove(args: argparse.Namespace, config) -> int:
    from multimodal.teach.store import remove_labelset

    path = remove_labelset(_root(args, config), args.name)
    print(json.dumps({"removed": args.name, "path": str(path)}) if args.json else f"removed label set {args.name!r}")
    return 0


def run_classify(args: argparse.Namespace, config) -> int:
    """``sceneqa classify IMAGE... --labelset NAME``: like text-label classify, with the taught head."""
    from multimodal.teach.store import load_labelset
    from multimodal.teach.teach import classify_with_labelset
    from multimodal.zeroshot import ZeroShotOptions
    from sceneqa.cli.banner import announced_services

    options = ZeroShotOptions(multi_label=args.multi_label, top_k=args.top_k, threshold=args.threshold)
    services = announced_services(config, args.quiet)
    enc = services.encoder
    labelset = load_labelset(_root(args, config), args.labelset, encoder_spec=enc.spec, encoder_dim=enc.dim)
    results = classify_with_labelset(services, labelset, args.images, options)
    failed = 0
    for item in results:
        if item.error:
            failed += 1
            print(f"sceneqa: error: {item.error}", file=sys.stderr)
        if args.json:
            print(json.dumps({**item.as_dict(services), "labelset": labelset.name}, ensure_ascii=False))
        elif item.result is not None:
            print(format_labelset_result(item.image, item.result, args.threshold))
    return 1 if failed else 0


def format_labelset_result(image: str, result, threshold: float) -> str:
    """Human lines for one image classified with a label set (score = match = the head's probability)."""
    best = result.labels[0]
    if result.multi_label:
        if result.abstained:
            return f"{image}: none of these (best: {best.label}, probability {best.score:.2f} < {threshold:.2f})"
        return f"{image}: " + ", ".join(
            f"{s.label} ({s.score:.2f})" for s in result.labels if s.label in result.supported
        )
    others = ", ".join(f"{s.label} {s.score:.2f}" for s in result.labels[1:])
    tail = f"\n    others: {others}" if others else ""
    if result.abstained:
        return f"{image}: none of these (best guess {best.label}, probability {best.score:.2f} < {threshold:.2f}){tail}"
    return f"{image}: {best.label} (probability {best.score:.2f}){tail}"
