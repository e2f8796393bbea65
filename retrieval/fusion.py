"""Reciprocal rank fusion (Cormack et al., 2009) of ranked id lists: ``score(d) = sum 1 / (k + rank_d)``."""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse best-first lists of ids; returns (id, fused score) best first, ties by first appearance."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: i for i, item in enumerate(dict.fromkeys(i for r in rankings for i in r))}
    return sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))


def fts_query(text: str) -> str:
    """A safe FTS5 query from free text: each word quoted, ORed (so any word matches; bm25 ranks)."""
    import re

    words = re.findall(r"\w+", text)
    return " OR ".join(f'"{w}"' for w in words)
