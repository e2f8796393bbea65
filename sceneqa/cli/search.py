"""``sceneqa search``: query a visual catalog by text, image, both, or "more like this"."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sceneqa.cli.banner import announce
from sceneqa.cli.catalog import services_for_index
from sceneqa.cli.explain_limits import add_explain_options, explain_max

HELP = """\
Finds the catalog items closest to a query. --text and --image combine (--weight is the image's share);
--like ID finds items similar to a stored one; --negative pushes results away from a description.
--filter restricts to items whose metadata match (applied inside the search, so k results come back
whenever k items match): COLUMN=VALUE, COLUMN!=VALUE, <, <=, >, >=, COLUMN in (A, B). --hybrid also
ranks items whose text fields contain the words of --text and fuses both rankings (reciprocal rank fusion).
An index tuned with `sceneqa index tune` maps --text through its learned map, and a text-only query also
matches each item's own text (weight 0.5 of the score); --no-tune searches with the encoder's text embedding.
"""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "search",
        help="search a visual catalog by text, image, both, or like an item",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--index", required=True, type=Path, metavar="DIR", help="the index folder")
    p.add_argument("--text", help="what to look for, in words")
    p.add_argument("--image", type=Path, help="an example image")
    p.add_argument("--like", metavar="ID", help="find items like this catalog item")
    p.add_argument("--weight", type=float, default=0.5, help="image share when --text and --image are both given")
    p.add_argument("--negative", metavar="TEXT", help="steer away from this description")
    p.add_argument("--negative-weight", type=float, default=0.5, help="strength of --negative (default 0.5)")
    p.add_argument("--filter", action="append", default=[], metavar="EXPR", help="metadata filter (repeatable)")
    p.add_argument("-k", type=int, default=10, help="number of results (default: 10)")
    p.add_argument("--hybrid", action="store_true", help="fuse keyword (FTS5) and vector rankings")
    p.add_argument("--ef-search", type=int, default=64, help="HNSW search depth for this query (default 64)")
    p.add_argument("--nprobe", type=int, default=32, help="IVF lists probed for this query (default 32)")
    p.add_argument(
        "--no-tune",
        action="store_true",
        help="ignore the index's tuned text map (`sceneqa index tune`): search with the encoder's own text embedding",
    )
    p.add_argument("--json", action="store_true", help='print {"results": [...], "query": {...}}')
    add_explain_options(p, "hits", "write a heatmap overlay PNG per top hit (where it matches) to DIR")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config) -> int:
    from multimodal.search import SearchRequest, search_catalog
    from retrieval.catalog import Catalog

    request = SearchRequest(
        text=args.text,
        image=args.image,
        image_name=str(args.image) if args.image else None,
        like=args.like,
        weight=args.weight,
        negative=args.negative,
        negative_weight=args.negative_weight,
        filters=tuple(args.filter),
        k=args.k,
        hybrid=args.hybrid,
        ef_search=args.ef_search,
        nprobe=args.nprobe,
        tune=not args.no_tune,
    )
    most = explain_max(args, "hits") if args.explain else None  # checked before any model loads
    services = services_for_index(config, args.index)
    announce(services, args.quiet)
    with Catalog.open(args.index, encoder=services.encoder.spec, dim=services.encoder.dim) as catalog:
        response = search_catalog(services, catalog, request)
    if args.explain:  # off by default: no explain import, no extra work
        from sceneqa.cli.locate import write_search_explanations

        write_search_explanations(args, services, response, most)
    if args.json:
        print(json.dumps(response, ensure_ascii=False))
        return 0
    if not response["results"]:
        print("no results (no item matches the filters)" if args.filter else "no results (the index is empty)")
    for rank, hit in enumerate(response["results"], start=1):
        meta = ", ".join(f"{k}={v}" for k, v in list(hit["metadata"].items())[:6])
        print(f"{rank:3d}. {hit['score']:.3f}  {hit['id']}  {hit['image']}" + (f"  [{meta}]" if meta else ""))
    return 0
