"""``sceneqa eval ...``: the parsers of the quality evaluations (their handlers: :mod:`sceneqa.cli.eval_run`)."""

from __future__ import annotations

from pathlib import Path

from sceneqa.cli.handlers import lazy_handler


def add_parser(sub) -> None:
    ev = sub.add_parser("eval", help="quality evaluations that write report.json / report.md")
    ev_sub = ev.add_subparsers(dest="eval_command", metavar="EVAL")
    ev_sub.required = True
    for add in (_add_zeroshot, _add_retrieval, _add_vqa, _add_ask_suite, _add_fewshot):
        add(ev_sub)
    _add_anomaly(ev_sub)
    _add_explain(ev_sub)


def _add_zeroshot(ev_sub) -> None:
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
    zs.set_defaults(handler=lazy_handler("eval zeroshot"))


def _add_retrieval(ev_sub) -> None:
    ret = ev_sub.add_parser(
        "retrieval",
        help="text-to-image and image-to-image recall@k and mAP",
        description="Captions JSONL ({path, captions}): each caption should retrieve its image. "
        "CSV catalog: --text-column is the caption; --group-column makes items of "
        "the same group relevant to each other (image-to-image).",
    )
    ret.add_argument("--data", required=True, type=Path, help="a captions .jsonl or a .csv catalog")
    ret.add_argument("--text-column", default="productDisplayName", help="CSV: caption column")
    ret.add_argument("--group-column", help="CSV: items sharing this value are relevant to each other")
    ret.add_argument("--path-column", default="path", help="CSV: image path column (default: path)")
    ret.add_argument("--limit", type=int, help="evaluate only the first N items")
    ret.add_argument("--out", type=Path, default=Path("reports/retrieval"), help="output folder")
    ret.add_argument(
        "--tune",
        action="store_true",
        help="instead: per seed, tune a text-query map on one half (as `sceneqa index tune`) and measure "
        "text->image on the other half, before/after (report in --out, default reports/retrieval_tune)",
    )
    ret.add_argument("--tune-seeds", type=int, default=3, help="with --tune: seeds (halvings) to average (default 3)")
    ret.set_defaults(handler=_run_retrieval)


def _run_retrieval(args, config) -> int:
    """``eval retrieval``, or with ``--tune`` the tuned-map evaluation of :mod:`eval.retrieval_tune_eval`."""
    if not args.tune:
        return lazy_handler("eval retrieval")(args, config)
    from eval import retrieval_eval, retrieval_tune_eval
    from sceneqa.cli.banner import announced_services

    loaded = retrieval_eval.load_data(
        args.data, text_column=args.text_column, path_column=args.path_column, limit=args.limit
    )
    out = Path("reports/retrieval_tune") if args.out == Path("reports/retrieval") else args.out
    services = announced_services(config, args.quiet)
    return retrieval_tune_eval.run_retrieval_tune_eval(services, loaded, data=args.data, seeds=args.tune_seeds, out=out)


def _add_vqa(ev_sub) -> None:
    vqa = ev_sub.add_parser(
        "vqa",
        help="ask-pipeline accuracy, coverage and calibration on real photos (coco128) or easy-vqa",
        description="Answers every question with the ask pipeline and reports, per question kind and "
        "overall: VQA accuracy (normalised answers; abstentions count as wrong), coverage (share "
        "answered), accuracy when answering, ECE of the answered confidences and the risk-coverage "
        "curve (table and risk_coverage.png); writes predictions.jsonl (one line per question) for "
        "error analysis, and latency.",
    )
    vqa.add_argument(
        "--data",
        default="easy-vqa",
        help="a coco128-shaped folder (presence.jsonl, counts.jsonl), a JSONL of "
        '{"path", "question", "answers": [...]}, or easy-vqa (synthetic shapes, from its package; the default)',
    )
    vqa.add_argument(
        "--split",
        help="keep only lines whose 'split' field is this (e.g. val); easy-vqa: test (default) or train; "
        "default for a folder or JSONL: every line",
    )
    vqa.add_argument("--limit", type=int, help="evaluate only the first N questions")
    vqa.add_argument("--out", type=Path, default=Path("reports/vqa"), help="output folder")
    vqa.add_argument(
        "--fit-calibration",
        type=Path,
        metavar="OUT.json",
        help="lite: answer without abstention (raw confidences) and fit the confidence calibration on these "
        "questions (one isotonic map per route key), written to OUT.json; use only a fit split (e.g. train)",
    )
    vqa.add_argument(
        "--calibration",
        help="lite: the confidence calibration to answer with: shipped (the package's, fitted on the lite tier), "
        "unfitted (raw; no/0 abstain), none (raw) or a JSON written by --fit-calibration; default: the tier's "
        "(lite: shipped, full: unfitted, tiny: none)",
    )
    vqa.set_defaults(handler=lazy_handler("eval vqa"))


def _add_ask_suite(ev_sub) -> None:
    suite = ev_sub.add_parser(
        "ask-suite",
        help="ask on package photos and generated logs with known answers",
        description="Questions about scikit-image's photos with known answers, and "
        "questions about generated inspection logs whose answer is one known "
        "line (which must be cited).",
    )
    suite.add_argument("--logs", type=int, default=20, help="generated logs, 3 questions each (default: 20)")
    suite.add_argument("--json", action="store_true")
    suite.set_defaults(handler=lazy_handler("eval ask-suite"))


def _add_fewshot(ev_sub) -> None:
    fs = ev_sub.add_parser(
        "fewshot",
        help="k-shot accuracy of taught label sets vs zero-shot and plain logistic regression",
        description="Per seed, k images per class are the support set (all fitting and cross-validation "
        "happens there) and every other image of those classes is the query set; reports top-1 of the teach "
        "head (with and without the class names blended in), zero-shot, and plain baselines on the same "
        "features, mean and spread over seeds, and plots accuracy against k.",
    )
    fs.add_argument("--data", required=True, type=Path, help="a labelled folder or a CSV with path and label columns")
    fs.add_argument("--label-column", default="label", help="CSV column holding the class (default: label)")
    fs.add_argument("--path-column", default="path", help="CSV column holding the image path (default: path)")
    fs.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10], metavar="K", help="default: 1 5 10")
    fs.add_argument("--seeds", type=int, default=3, help="random support draws per k (default: 3)")
    fs.add_argument("--min-per-class", type=int, default=11, help="keep classes with this many images (default: 11)")
    fs.add_argument("--out", type=Path, default=Path("reports/fewshot"), help="output folder for the report")
    fs.set_defaults(handler=lazy_handler("eval fewshot"))


def _add_anomaly(ev_sub) -> None:
    an = ev_sub.add_parser(
        "anomaly",
        help="anomaly inspection: image/pixel AUROC, F1 and false alarms at the threshold, few-shot",
        description="Fits an inspector on DATA/train/good only (the fit split), inspects every image of "
        "DATA/test/<kind> (the report split) and reports image AUROC (overall, per defect kind, per defect size), "
        "pixel AUROC when DATA/ground_truth/<kind>/<stem>_mask.png exist, F1 and false-alarm rate at the "
        "threshold, verdict counts, the few-shot AUROC, fit and inspect times; writes report.json/md, roc.png "
        "and example heatmaps.",
    )
    an.add_argument("--data", required=True, type=Path, help="folder with train/good, test/good, test/<defect>")
    an.add_argument("--out", type=Path, default=Path("reports/anomaly"), help="output folder for the report")
    an.add_argument("--backbone", help="lite or tiny (default: tiny in --tier tiny, else lite)")
    an.add_argument("--size", type=int, default=512, help="longest input side in pixels (default 512)")
    an.add_argument("--bank", choices=("nearest", "coreset"), default="nearest", help="memory bank (default nearest)")
    an.add_argument("--coreset", type=float, default=0.01, help="coreset bank: share of patches kept (default 0.01)")
    an.add_argument("--dims", type=int, default=32, help="principal components kept per patch (default 32)")
    an.add_argument("--false-alarm", type=float, default=0.01, help="threshold's false-alarm rate (default 0.01)")
    an.add_argument("--few-shot", type=int, default=8, help="good images of the few-shot inspector (0: skip)")
    an.add_argument("--examples", type=int, default=6, help="example heatmap PNGs (default 6)")
    an.add_argument("--limit", type=int, help="evaluate about N test images (evenly spaced)")
    an.set_defaults(handler=lazy_handler("eval anomaly"))


def _add_explain(ev_sub) -> None:
    ex = ev_sub.add_parser(
        "explain",
        help="heatmaps: pointing game vs a centre baseline, locate box IoU, deletion/insertion AUC",
        description="For every (image, category) pair of a coco128-shaped objects.jsonl whose category has an "
        "ImageNet concept under it: does the heatmap's maximum fall on the category's boxes (pointing game, vs the "
        "image centre), how well do locate's boxes overlap them (best IoU), and how fast does the label's score "
        "fall when the hottest pixels are removed (deletion/insertion AUC vs random masks); and how often ask's "
        "answer to 'where is the <category>?' boxes it (IoU >= 0.5), with false answers for absent categories. "
        "Tune on --split train, report on --split val.",
    )
    ex.add_argument("--data", required=True, type=Path, help="a coco128 objects.jsonl")
    ex.add_argument("--split", default="val", help="the rows whose 'split' is this (default: val; tune on train)")
    ex.add_argument("--limit", type=int, help="evaluate only the first N images")
    ex.add_argument("--tolerance", type=float, default=15.0, help="pointing tolerance in px (default: 15)")
    ex.add_argument("--threshold", type=float, help="locate box threshold, share of the map's maximum")
    ex.add_argument("--layer", help="lite: the Grad-CAM layer (default: the explainer's)")
    ex.add_argument("--long-side", type=int, help="lite: input long side in px (default: the explainer's)")
    ex.add_argument("--score", choices=("logit", "cosine", "logprob"), help="lite: the score backpropagated")
    ex.add_argument("--vit-method", choices=("gradcam", "similarity"), help="open_clip ViTs: the method")
    ex.add_argument("--auc-pairs", type=int, default=40, help="trials with deletion/insertion curves (0 skips)")
    where = ex.add_mutually_exclusive_group()
    where.add_argument("--no-where", action="store_true", help='skip the "where is the X?" answers through ask')
    where.add_argument("--where-only", action="store_true", help='only the "where is the X?" answers through ask')
    ex.add_argument("--out", type=Path, default=Path("reports/explain"), help="output folder for the report")
    ex.set_defaults(handler=_run_explain)


def _run_explain(args, config) -> int:
    from eval.explain_eval import run_eval_explain

    return run_eval_explain(args, config)
