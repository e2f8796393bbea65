"""Catalog-tuned text search: learn a text-query map from a catalog's own image-text pairs, and search with it.

``tune_catalog`` reads every item's text (the values of ``--text-columns``, joined), embeds it as *query
features* (:func:`text_features`), holds out a seeded part of the items, picks the map on the rest
(:func:`retrieval.tune.choose_map`), reports held-out text->image recall@10 before (the encoder's own text
embedding) and after (the map), refits the chosen map on every item and saves it with each item's text
features in ``INDEX/tune.npz``.

Searching (``search --text``) then uses the mapped query; a text-only query also scores each item's own text
(:func:`fused_text_search`): ``score = (1 - TEXT_WEIGHT) * cos(query, image) + TEXT_WEIGHT * cos(text, item
text)``, over the union of the best image and best text candidates, so items can be found through their text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from multimodal.encoders.base import Encoder, l2_normalize
from multimodal.errors import ConfigError
from retrieval.catalog import Catalog, Hit
from retrieval.filters import Filter
from retrieval.tune import TunedIndex, choose_map, fit_map, recall_at, save_tuned, split_mask
from retrieval.vector_index import SearchParams

#: Share of an item's own-text cosine in a tuned text-only search (0: images only). Measured on the fashion
#: catalog (lite, each product's name without its first word as the query, item text visible): recall@10 0.718
#: at 0 (image only), 0.977 at 0.25, 0.989 at 0.5, 0.993 at 0.75 and 1; a half share keeps nearly all of the
#: text's gain while the image still orders items whose text says little.
TEXT_WEIGHT = 0.5
#: Candidates taken from each side (image, text) before fusing, at least ``k``.
FUSE_DEPTH = 200


def text_features(encoder: Encoder, texts: list[str]) -> tuple[str, np.ndarray]:
    """The features a tuned map reads: ``("sentence", (n, f))`` from an encoder's sentence embedder when it has
    one (``lite``: MiniLM, richer than its concept-space text vector), else ``("text-embedding", (n, d))``,
    the encoder's joint-space text embedding. Unit float32 rows."""
    sentence = getattr(encoder, "sentence_embeddings", None)
    if callable(sentence):
        return "sentence", l2_normalize(np.asarray(sentence(texts), np.float32))
    return "text-embedding", np.asarray(encoder.embed_texts(texts), np.float32)


@dataclass(frozen=True)
class TuneOptions:
    """columns: metadata columns whose text describes an item; holdout: share of the items kept out of the fit
    to measure recall; seed: of that split; keep_item_text: store each item's text features (for fusion)."""

    columns: tuple[str, ...]
    holdout: float = 0.2
    seed: int = 0
    keep_item_text: bool = True

    def __post_init__(self) -> None:
        if not self.columns or not all(c.strip() for c in self.columns):
            raise ConfigError("--text-columns is empty; name the metadata columns holding item text, e.g. name,title")
        if not 0.05 <= self.holdout <= 0.5:
            raise ConfigError(f"--holdout must be between 0.05 and 0.5 (share of items held out), got {self.holdout}")


def check_columns(schema: dict[str, str], columns: tuple[str, ...], where: str) -> None:
    """Refuse column names the catalog does not have, and a catalog with no text column at all."""
    text_cols = [name for name, typ in schema.items() if typ == "text"]
    if not text_cols:
        listed = ", ".join(f"{k} ({v})" for k, v in schema.items()) or "none"
        raise ConfigError(
            f"{where} has no text metadata columns (columns: {listed}); "
            "tuning learns from item text, so add items from a catalog file with a text column (e.g. a product name)"
        )
    unknown = [c for c in columns if c not in schema]
    if unknown:
        raise ConfigError(
            f"--text-columns: {', '.join(map(repr, unknown))} not in {where}; "
            f"its text columns are: {', '.join(text_cols)}"
        )
    other = [f"{c!r} ({schema[c]})" for c in columns if schema[c] != "text"]
    if other:
        raise ConfigError(
            f"--text-columns: {', '.join(other)} hold no text; use text columns of {where}: {', '.join(text_cols)}"
        )


def item_text(metadata: dict, columns: tuple[str, ...]) -> str:
    """The values of ``columns`` in ``metadata``, joined with spaces (missing ones skipped)."""
    return " ".join(str(metadata[c]).strip() for c in columns if metadata.get(c) not in (None, "")).strip()


def tune_catalog(services, catalog: Catalog, options: TuneOptions) -> TunedIndex:
    """Fit, measure and save the tuned map of ``catalog`` (see the module docstring); returns what was saved."""
    enc = services.encoder
    check_columns(catalog.store.schema(), options.columns, str(catalog.folder))
    vids = catalog.store.all_vids()
    items = catalog.store.items(vids)
    pairs = [(it.vid, it.id, item_text(it.metadata, options.columns)) for it in items]
    pairs = [p for p in pairs if p[2]]
    if len(pairs) < 20:
        raise ConfigError(
            f"{catalog.folder}: only {len(pairs)} items have text in {', '.join(options.columns)}; tuning needs at "
            "least 20 (and works best with hundreds)"
        )
    texts = [t for _, _, t in pairs]
    kind, feats = text_features(enc, texts)
    x = catalog.store.vectors([v for v, _, _ in pairs])
    held = split_mask(len(pairs), options.holdout, options.seed)
    before = recall_at(np.asarray(enc.embed_texts([texts[i] for i in np.flatnonzero(held)]), np.float32), x[held])
    chosen, table = choose_map(feats[~held], x[~held], seed=options.seed)
    after = recall_at(chosen.apply(feats[held]), x[held])
    final = fit_map(feats, x, chosen.direction, chosen.alpha)  # the saved map learns from every item
    provenance = {
        "encoder": enc.spec,
        "dim": int(enc.dim),
        "features": kind,
        "feature_dim": int(feats.shape[1]),
        "columns": list(options.columns),
        "direction": chosen.direction,
        "alpha": chosen.alpha,
        "items": len(pairs),
        "catalog_count": int(catalog.store.count()),
        "fit_items": int((~held).sum()),
        "held_out_items": int(held.sum()),
        "holdout": options.holdout,
        "seed": options.seed,
        "held_out_recall@10": {"before": round(before, 4), "after": round(after, 4)},
        "validation_recall@10": table,
        "text_weight": TEXT_WEIGHT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    keep = options.keep_item_text
    tuned = TunedIndex(
        final,
        np.array([v for v, _, _ in pairs] if keep else [], np.int64),
        feats.astype(np.float16) if keep else np.zeros((0, feats.shape[1]), np.float16),
        provenance,
    )
    save_tuned(catalog.folder, tuned)
    return tuned


def tuned_query(encoder: Encoder, tuned: TunedIndex, text: str) -> tuple[np.ndarray, np.ndarray]:
    """``(query (d,), features (f,))`` of ``text`` under ``tuned``; :class:`ConfigError` if the feature kind the
    map was fitted on is not what this encoder gives."""
    kind, feats = text_features(encoder, [text])
    if kind != tuned.provenance.get("features") or feats.shape[1] != tuned.query_map.matrix.shape[0]:
        raise ConfigError(
            f"the tuned map reads {tuned.provenance.get('features')} features of dim {tuned.query_map.matrix.shape[0]}"
            f" but encoder {encoder.spec} gives {kind} of dim {feats.shape[1]}; run `sceneqa index tune` again"
        )
    return tuned.query_map.apply(feats)[0], feats[0]


def fused_text_search(
    catalog: Catalog,
    tuned: TunedIndex,
    query: np.ndarray,
    feats: np.ndarray,
    k: int,
    *,
    filters: list[Filter],
    params: SearchParams,
    exclude_ids: tuple[str, ...] = (),
) -> list[Hit]:
    """The ``k`` best items by ``(1 - TEXT_WEIGHT) * image score + TEXT_WEIGHT * item-text score`` (items with no
    stored text score 0 on that side), over the best ``FUSE_DEPTH`` candidates of each side, filters applied."""
    depth = max(k, FUSE_DEPTH)
    image_hits = catalog.search(query, depth, filters=filters, params=params, exclude_ids=exclude_ids)
    candidates = {h.vid for h in image_hits}
    vids, text = tuned.item_vids, tuned.item_text
    allowed = catalog.filter_vids(filters)
    if allowed is not None:
        keep = np.isin(vids, allowed)
        vids, text = vids[keep], text[keep]
    text_scores = text.astype(np.float32) @ np.asarray(feats, np.float32) if len(vids) else np.zeros(0, np.float32)
    candidates |= {int(v) for v in vids[np.argsort(-text_scores, kind="stable")[:depth]]}
    excluded = set(catalog.store.vids_for(exclude_ids).values())
    items = {it.vid: it for it in catalog.store.items(sorted(candidates - excluded))}
    if not items:
        return []
    cand = np.array(sorted(items), np.int64)
    by_vid = dict(zip(vids.tolist(), text_scores.tolist()))
    image = catalog.store.vectors(cand) @ np.asarray(query, np.float32)
    fused = (1.0 - TEXT_WEIGHT) * image + TEXT_WEIGHT * np.array([by_vid.get(int(v), 0.0) for v in cand], np.float32)
    order = np.lexsort((cand, -fused))[:k]
    return [
        Hit(int(cand[i]), items[cand[i]].id, float(fused[i]), items[cand[i]].image, dict(items[cand[i]].metadata))
        for i in order
    ]
