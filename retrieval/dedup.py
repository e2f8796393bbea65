"""Near-duplicate groups in an index folder: items whose embeddings have cosine >= a threshold."""

from __future__ import annotations

from retrieval.catalog import Catalog
from retrieval.vector_index import SearchParams


def near_duplicate_groups(
    catalog: Catalog,
    threshold: float = 0.95,
    neighbours: int = 10,
    params: SearchParams = SearchParams(ef_search=128, nprobe=64),
) -> list[list[str]]:
    """Connected groups (size >= 2) of items linked by cosine >= ``threshold``, largest first, ids sorted."""
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        while parent.get(a, a) != a:
            parent[a] = parent.get(parent[a], parent[a])
            a = parent[a]
        return a

    for vids, vecs in catalog.store.iter_vectors():
        res = catalog.index.search(vecs, neighbours + 1, params=params)
        for src, row_v, row_s in zip(vids, res.vids, res.scores):
            for dst, score in zip(row_v, row_s):
                if dst >= 0 and dst != src and score >= threshold:
                    ra, rb = find(int(src)), find(int(dst))
                    parent.setdefault(ra, ra)
                    parent.setdefault(rb, rb)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for vid in list(parent):
        groups.setdefault(find(vid), []).append(vid)
    out = []
    for members in groups.values():
        ids = sorted(it.id for it in catalog.store.items(sorted(set(members))))
        if len(ids) >= 2:
            out.append(ids)
    return sorted(out, key=lambda g: (-len(g), g))
