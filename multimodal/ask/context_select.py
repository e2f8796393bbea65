"""Choosing the chunks of attached context that bear on a question, within a token budget.

Two rankings fused by reciprocal rank fusion: keyword (BM25 over lowercased words) and dense (sentence
embeddings). Each chosen chunk keeps a relevance in [0, 1] (dense cosine, boosted when keywords match),
used as the evidence score. Adjacent chosen lines of one file merge into one cited range.

The cost is bounded whatever the size of the context: at most :data:`MAX_CHUNKS` chunks are searched (the
first ones, in attachment order; the notice says so), BM25 ranks them all (cheap), and only the best
:data:`MAX_EMBED` BM25 candidates are embedded and fused. A question that matches no keyword has its
candidates spread evenly over the context.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from multimodal.ask.answers import Evidence
from multimodal.ask.context_files import MAX_CHUNKS, Chunk
from multimodal.ask.text_embed import TextEmbedder
from multimodal.deadline import check_deadline
from retrieval.fusion import reciprocal_rank_fusion

#: Chunks embedded per question (the BM25 best; the embedder's cost is bounded by this).
MAX_EMBED = 256

STOPWORDS = frozenset(
    "a an the is are was were be been of to in on at for and or not no this that these those "
    "it its there what which who whom when where why how do does did can could should would "
    "with from by as any some image picture photo".split()
)


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS]


def bm25_scores(query: str, docs: Sequence[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """Okapi BM25 of ``query`` against each doc (pure; idf with +1 smoothing). Query words holding digits
    (``7``, ``SKU-12``, ``2026``) count double: in records they name the thing asked about."""
    toks = [words(d) for d in docs]
    q_weights = {w: (2.0 if any(ch.isdigit() for ch in w) else 1.0) for w in words(query)}
    n = len(toks)
    if n == 0:
        return np.zeros(0)
    avg = sum(len(t) for t in toks) / n or 1.0
    df = Counter(w for t in toks for w in set(t))
    out = np.zeros(n)
    for i, t in enumerate(toks):
        tf = Counter(t)
        for w, weight in q_weights.items():
            if tf[w]:
                idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
                out[i] += weight * idf * tf[w] * (k1 + 1) / (tf[w] + k1 * (1 - b + b * len(t) / avg))
    return out


def approx_tokens(text: str) -> int:
    return max(1, int(len(text.split()) * 1.3))


@dataclass(frozen=True)
class Selection:
    chunks: tuple[Chunk, ...]
    relevance: tuple[float, ...]
    total: int
    notice: str = ""


def select_chunks(
    question: str,
    chunks: Sequence[Chunk],
    embedder: TextEmbedder,
    *,
    budget_tokens: int = 1500,
    max_chunks: int = 12,
    max_embed: int = MAX_EMBED,
    max_read: int = MAX_CHUNKS,
) -> Selection:
    """The most relevant chunks for ``question``, best first, within ``budget_tokens`` and ``max_chunks``.

    Only the first ``max_read`` chunks are searched, and only the ``max_embed`` best by BM25 are embedded
    (``embedder.embed`` gets at most ``max_embed + 1`` texts, the question first), so the cost does not grow
    with the context beyond a BM25 pass. ``Selection.total`` is ``len(chunks)``; ``notice`` says when the
    context was cut or did not fit the budget.
    """
    if not chunks:
        return Selection((), (), 0)
    notices = []
    if len(chunks) > max_read:
        notices.append(
            f"context too long: at least {len(chunks):,} chunks (lines, rows or paragraphs) are over the "
            f"{max_read:,}-chunk cap per question (MAX_CHUNKS); only the first {max_read:,} were searched, "
            "attach only the part that matters"
        )
    searched = chunks[:max_read]
    texts = [c.text for c in searched]
    kw_all = bm25_scores(question, texts)
    cand = _candidates(kw_all, max_embed)
    kw = kw_all[cand]
    check_deadline("embedding the attached context")
    emb = embedder.embed([question] + [texts[i] for i in cand])
    dense = emb[1:] @ emb[0]
    kw_rank = [j for j in np.argsort(-kw, kind="stable") if kw[j] > 0]
    dense_rank = list(np.argsort(-dense, kind="stable"))
    fused = [j for j, _ in reciprocal_rank_fusion([kw_rank, dense_rank])]
    kw_norm = kw / kw.max() if kw.max() > 0 else kw
    chosen, rel, used = [], [], 0
    for j in fused:
        cost = approx_tokens(texts[cand[j]])
        if used + cost > budget_tokens or len(chosen) >= max_chunks:
            break
        chosen.append(searched[cand[j]])
        rel.append(float(np.clip(0.6 * max(dense[j], 0.0) + 0.4 * kw_norm[j], 0.0, 1.0)))
        used += cost
    total_tokens = sum(approx_tokens(t) for t in texts)
    if total_tokens > budget_tokens:
        notices.append(
            f"context truncated: {len(searched)} chunks (~{total_tokens} tokens) exceed the {budget_tokens}-token "
            f"budget; the {len(chosen)} most relevant were kept"
        )
    return Selection(tuple(chosen), tuple(rel), len(chunks), "; ".join(notices))


def _candidates(kw: np.ndarray, max_embed: int) -> np.ndarray:
    """Indices (ascending) of the chunks worth embedding: all when at most ``max_embed``, else the BM25 best,
    topped up with chunks spread evenly over the rest (so a question without keyword matches still sees
    every part of the context)."""
    n = len(kw)
    if n <= max_embed:
        return np.arange(n)
    order = np.argsort(-kw, kind="stable")
    hits = order[: min(max_embed, int(np.count_nonzero(kw > 0)))]
    rest = np.setdiff1d(np.arange(n), hits)
    spare = max_embed - len(hits)
    fill = rest[np.linspace(0, len(rest) - 1, spare).astype(int)] if spare else rest[:0]
    return np.unique(np.concatenate([hits, fill]))


def to_evidence(selection: Selection, merge_gap: int = 1, merge_share: float = 0.8) -> list[Evidence]:
    """Context evidence, best first. Adjacent lines of one source merge into one cited range
    (``log:L12-L14``) only when both are nearly as relevant as the best chunk (``merge_share``)."""
    groups: list[dict] = []
    top = max(selection.relevance, default=0.0)
    for chunk, score in zip(selection.chunks, selection.relevance):
        strong = score >= merge_share * top
        home = next((g for g in groups if strong and g["strong"] and _adjacent(g["members"], chunk, merge_gap)), None)
        if home is None:
            groups.append({"members": [chunk], "score": score, "strong": strong})
        else:
            home["members"].append(chunk)
            home["score"] = max(home["score"], score)
    out = []
    for g in groups:
        members = sorted(g["members"], key=lambda c: c.line_start)
        merged = Chunk(
            members[0].source,
            " | ".join(m.text for m in members),
            members[0].line_start,
            members[-1].line_end,
            members[0].row if len(members) == 1 else 0,
        )
        out.append(Evidence("context", merged.locator, merged.text, round(g["score"], 4)))
    return sorted(out, key=lambda e: -e.score)


def _adjacent(members: list[Chunk], chunk: Chunk, gap: int) -> bool:
    if chunk.row or members[0].row or chunk.source != members[0].source:
        return False
    return any(abs(chunk.line_start - m.line_end) <= gap or abs(m.line_start - chunk.line_end) <= gap for m in members)
