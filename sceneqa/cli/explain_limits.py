"""``--explain-max`` of ``classify`` and ``search``: how many heatmaps one run makes per image (classify) or per
search. Each costs a forward and a backward pass (about 0.3 s on lite, 1 s on a ViT-B-32, 2 cores), so the
option is capped as the API caps ``explain=true`` (at :data:`demos.explain_api.MAX_OVERLAYS` per request):
a larger value is cut to the cap and the CLI says so; the CLI's cap is higher, it is where more are made."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from multimodal.errors import ConfigError

#: the most heatmaps ``--explain-max`` asks for (per image for classify, per search for search)
MAX_EXPLAIN = 32


def add_explain_options(p: argparse.ArgumentParser, what: str, help_dir: str) -> None:
    """``--explain DIR`` and ``--explain-max N`` (``what``: what is explained, "labels per image", "hits")."""
    p.add_argument("--explain", type=Path, metavar="DIR", help=help_dir)
    p.add_argument(
        "--explain-max", type=int, default=3, metavar="N", help=f"{what} explained (default: 3, at most {MAX_EXPLAIN})"
    )


def explain_max(args: argparse.Namespace, what: str) -> int:
    """``args.explain_max`` within ``1..MAX_EXPLAIN``: below 1 is an error naming the option, above the cap is
    cut to it with a line on stderr."""
    asked = args.explain_max
    if asked < 1:
        raise ConfigError(f"--explain-max must be at least 1, got {asked}; pass 1..{MAX_EXPLAIN}")
    if asked > MAX_EXPLAIN:
        print(
            f"sceneqa: --explain-max {asked}: at most {MAX_EXPLAIN} {what} are explained (each heatmap costs a "
            f"forward and a backward pass); explaining {MAX_EXPLAIN}",
            file=sys.stderr,
        )
        return MAX_EXPLAIN
    return asked
