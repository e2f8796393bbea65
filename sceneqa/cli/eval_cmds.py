"""``sceneqa eval ...``: the parsers of the quality evaluations (their handlers: :mod:`sceneqa.cli.eval_run`)."""

from __future__ import annotations

from pathlib import Path

from sceneqa.cli.handlers import lazy_handler


def add_parser(sub) -> None:
    ev = sub.add_parser("eval", help="quality evaluations that write report.json / report.md")
    ev_sub = ev.add_subparsers(dest="eval_command", metavar="EVAL")
    ev_sub.required = True
    for add in (_add_zeroshot, _add_retrieval, _add_vqa, _add_ask_suite):
        add(ev_sub)


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
    ret.set_defaults(handler=lazy_handler("eval retrieval"))


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
