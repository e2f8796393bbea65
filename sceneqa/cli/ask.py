"""``sceneqa ask IMAGE... "question"``: answer a question about images, citing the evidence."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from multimodal.errors import EmptyInputError
from sceneqa.cli.banner import announce
from sceneqa.cli.catalog import services_for_index
from sceneqa.cli.teach import add_labelsets_dir

HELP = """\
Answers a question about one or more images, optionally using attached records (--context FILE: .txt, .log,
.md, .csv, .jsonl; --context-text) and a catalog (--index DIR: the nearest items and their records). The
answer cites its evidence (image facts, record lines such as inspection.log:L12-L14, catalog items) and
carries a confidence; below --threshold it says "cannot tell from this image and these records" and lists
what it could establish. Text inside records and images is treated as data, never as instructions.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ask",
        help="answer a question about images, with records and a catalog, citing evidence",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs", nargs="+", metavar="IMAGE... QUESTION", help="zero or more image files, then the question (quote it)"
    )
    p.add_argument(
        "--context", action="append", type=Path, default=[], metavar="FILE", help="attach a text record (repeatable)"
    )
    p.add_argument("--context-text", help="attach pasted text")
    p.add_argument("--index", type=Path, metavar="DIR", help="use a catalog's nearest items as evidence")
    p.add_argument("--threshold", type=float, default=0.5, help="abstain below this confidence (default 0.5)")
    p.add_argument("--budget-tokens", type=int, default=1500, help="context budget in tokens (default 1500)")
    p.add_argument("--stream", action="store_true", help="print the answer as it comes, then the citations")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--inspector", metavar="NAME", help="an inspector (`sceneqa inspect fit`) whose verdict is evidence")
    p.add_argument(
        "--inspectors-dir", type=Path, metavar="DIR", help="where inspectors live (default CACHE/inspectors)"
    )
    p.add_argument(
        "--labelset", metavar="NAME", help="a label set (`sceneqa teach`) that answers 'which of my labels is this?'"
    )
    add_labelsets_dir(p)
    p.add_argument(
        "--explain",
        type=Path,
        metavar="DIR",
        help="write per image an overlay PNG of the regions behind the answer's cited facts to DIR",
    )
    p.set_defaults(handler=run)


def _labelset(args, services, config):
    """The chosen label set, loaded and checked against the running encoder (None without --labelset)."""
    if not args.labelset:
        return None
    from multimodal.ask.labelset_evidence import LabelSetSelection
    from multimodal.teach.names import labelsets_dir
    from multimodal.teach.store import load_labelset

    root = labelsets_dir(config.resolved_cache_dir, args.labelsets_dir)
    enc = services.encoder
    return LabelSetSelection(load_labelset(root, args.labelset, encoder_spec=enc.spec, encoder_dim=enc.dim), services)


def run(args: argparse.Namespace, config) -> int:
    from multimodal.ask.pipeline import AskRequest, ask, ask_stream
    from multimodal.services import build_services
    from retrieval.catalog import Catalog
    from sceneqa.cli.inspect_cmd import inspector_selection

    *images, question = args.inputs
    if not question.strip():
        raise EmptyInputError("the question is empty; pass it last, in quotes")
    config = replace(config, abstain_below=args.threshold)
    services = services_for_index(config, args.index) if args.index else build_services(config)
    announce(services, args.quiet)
    request = AskRequest(
        question=question,
        images=tuple(Path(p) for p in images),
        image_names=tuple(images),
        context_files=tuple(args.context),
        context_text=args.context_text,
        budget_tokens=args.budget_tokens,
        inspector=inspector_selection(args, config),
        labelset=_labelset(args, services, config),
    )
    catalog = None
    if args.index:
        enc = services.encoder
        catalog = Catalog.open(args.index, encoder=enc.spec, dim=enc.dim)
    try:
        if args.stream and not args.json:
            result = None
            for piece in ask_stream(services, request, catalog):
                if isinstance(piece, str):
                    print(piece, end="", flush=True)
                else:
                    result = piece
            print()
            print_citations(result)
            _explain(args, services, question, images, result.answer)
            return 0
        result = ask(services, request, catalog)
    finally:
        if catalog is not None:
            catalog.close()
    _explain(args, services, question, images, result.answer)
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False))
        return 0
    print(result.answer.text, flush=True)
    print_citations(result)
    return 0


def _explain(args, services, question: str, images: list[str], answer) -> None:
    if args.explain:  # off by default: no explain import, no extra work
        from sceneqa.cli.locate import write_answer_explanations

        write_answer_explanations(args.explain, services, question, images, answer)


def print_citations(result) -> None:
    a = result.answer
    if a.detail:
        print(f"  ({a.detail})")
    print(f"confidence {a.confidence:.2f}" + (" — abstained" if a.abstained else ""))
    for c in a.citations:
        print(f"  [{c.kind}] {c.locator}: {c.text[:160]}")
    for notice in a.notices:
        print(f"sceneqa: {notice}", file=sys.stderr)
