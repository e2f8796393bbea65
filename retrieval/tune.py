"""A catalog's tuned text-query map: fitting, measuring, and the ``tune.npz`` artefact in the index folder.

Text queries and images meet only as well as the encoder's joint space lets them. A catalog whose items carry
text (product names, descriptions) holds pairs from which a better query can be learned. The map is
query-side and linear: a text's features ``t`` ``(f,)`` become the query ``q = unit(t @ M + b)`` ``(d,)`` in the
index's space, so the index itself (FAISS, stored vectors) is never touched and a score stays one inner
product ``q . x``. Two least-squares fits give an ``M`` (the candidates :data:`DIRECTIONS`):

- ``text-to-image``: ridge regression of the image vector on the text features (``q`` = predicted image);
- ``image-to-text``: ridge regression of the text features on the image vector, ``A`` ``(d, f)``; the score
  ``t . (x @ A)`` equals ``(t @ A.T) . x``, so ``M = A.T`` searches the same index.

Which direction and ridge strength are chosen by recall@10 on a validation part of the fit items, never on
the held-out items whose recall is reported. Pure numpy (no model); the encoder side is in
:mod:`multimodal.search_tune`.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.atomic import atomic_write_bytes
from retrieval.errors import CatalogError, EncoderMismatchError

TUNE_FILE = "tune.npz"
FORMAT = "sceneqa-tune/1"
DIRECTIONS = ("text-to-image", "image-to-text")
ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


@dataclass(frozen=True)
class QueryMap:
    """``q = unit(t @ matrix + bias)``: ``matrix`` ``(f, d)`` float32, ``bias`` ``(d,)`` float32."""

    matrix: np.ndarray
    bias: np.ndarray
    direction: str
    alpha: float

    def apply(self, feats: np.ndarray) -> np.ndarray:
        """``(n, f)`` text features -> ``(n, d)`` unit float32 queries (a zero row stays zero)."""
        q = np.asarray(feats, np.float32) @ self.matrix + self.bias
        return (q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def fit_map(t: np.ndarray, x: np.ndarray, direction: str, alpha: float) -> QueryMap:
    """Ridge fit of ``direction`` on pairs ``t`` ``(n, f)`` text features, ``x`` ``(n, d)`` image vectors."""
    if direction not in DIRECTIONS:
        raise CatalogError(f"tune direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    t, x = np.asarray(t, np.float64), np.asarray(x, np.float64)
    mt, mx = t.mean(axis=0), x.mean(axis=0)
    tc, xc = t - mt, x - mx
    if direction == "text-to-image":
        w = _ridge(tc, xc, alpha)  # (f, d)
        bias = mx - mt @ w
    else:
        w = _ridge(xc, tc, alpha).T  # (d, f) -> (f, d)
        bias = -mt @ w
    return QueryMap(w.astype(np.float32), bias.astype(np.float32), direction, float(alpha))


def _ridge(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """``argmin_W |a W - b|^2 + alpha |W|^2`` (closed form; the smaller Gram matrix is inverted)."""
    n, f = a.shape
    if f <= n:
        return np.linalg.solve(a.T @ a + alpha * np.eye(f), a.T @ b)
    return a.T @ np.linalg.solve(a @ a.T + alpha * np.eye(n), b)


def recall_at(queries: np.ndarray, x: np.ndarray, k: int = 10) -> float:
    """Share of queries ``i`` whose own image ``x[i]`` is among the ``k`` best of all rows of ``x`` (ties count
    against it)."""
    if len(queries) == 0:
        return 0.0
    scores = np.asarray(queries, np.float32) @ np.asarray(x, np.float32).T
    own = np.diagonal(scores)[:, None]
    return float(((scores > own).sum(axis=1) < k).mean())


def split_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """``(n,)`` bool, ``True`` for rows held out: a seeded draw of ``fraction`` of them (at least one each side)."""
    order = np.random.default_rng(seed).permutation(n)
    held = np.zeros(n, bool)
    held[order[: min(n - 1, max(1, round(fraction * n)))]] = True
    return held


def choose_map(t: np.ndarray, x: np.ndarray, seed: int = 0, validation: float = 0.25) -> tuple[QueryMap, dict]:
    """The direction and ridge strength with the best recall@10 on a seeded validation part of the pairs, refit on
    all of them. Returns the map and the validation table ``{"direction/alpha": recall}``."""
    if len(t) < 8:
        raise CatalogError(f"tuning needs at least 8 items with text; got {len(t)}")
    val = split_mask(len(t), validation, seed + 1)
    table: dict[str, float] = {}
    best = (-1.0, DIRECTIONS[0], ALPHAS[0])
    for direction in DIRECTIONS:
        for alpha in ALPHAS:
            m = fit_map(t[~val], x[~val], direction, alpha)
            r = recall_at(m.apply(t[val]), x[val])
            table[f"{direction}/{alpha:g}"] = round(r, 4)
            if r > best[0]:
                best = (r, direction, alpha)
    return fit_map(t, x, best[1], best[2]), table


# ---- the artefact -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TunedIndex:
    """What ``tune.npz`` holds: the query map, each item's text features (``item_vids`` ``(n,)`` int64,
    ``item_text`` ``(n, f)`` float16 unit rows; empty when no item text is kept) and the provenance
    (encoder, dims, columns, feature kind, held-out recall before/after, ...)."""

    query_map: QueryMap
    item_vids: np.ndarray
    item_text: np.ndarray
    provenance: dict


def save_tuned(folder: Path, tuned: TunedIndex) -> Path:
    """Write ``folder/tune.npz`` atomically (one file: arrays + provenance JSON); returns its path."""
    meta = {"format": FORMAT, "direction": tuned.query_map.direction, "alpha": tuned.query_map.alpha}
    meta.update(tuned.provenance)
    buf = io.BytesIO()
    np.savez(
        buf,
        matrix=tuned.query_map.matrix,
        bias=tuned.query_map.bias,
        item_vids=np.asarray(tuned.item_vids, np.int64),
        item_text=np.asarray(tuned.item_text, np.float16),
        meta=np.array(json.dumps(meta, ensure_ascii=False)),
    )
    path = Path(folder) / TUNE_FILE
    atomic_write_bytes(path, buf.getvalue())
    return path


def load_tuned(folder: Path, *, encoder: str | None = None, dim: int | None = None) -> TunedIndex | None:
    """The tuned map of index ``folder``, or ``None`` when it has none. With ``encoder``/``dim``, a map fitted
    for another encoder is an :class:`EncoderMismatchError` naming both; a damaged file a :class:`CatalogError`."""
    path = Path(folder) / TUNE_FILE
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            qmap = QueryMap(z["matrix"], z["bias"], meta["direction"], float(meta["alpha"]))
            vids, text = z["item_vids"], z["item_text"]
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
        if qmap.matrix.ndim != 2 or qmap.bias.shape != (qmap.matrix.shape[1],) or len(vids) != len(text):
            raise ValueError("array shapes disagree")
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise CatalogError(
            f"{path}: unreadable tuned map ({type(exc).__name__}: {exc}); run `sceneqa index tune --index {folder} "
            "--text-columns ...` again, or delete the file to search untuned"
        ) from exc
    if encoder is not None and (meta.get("encoder") != encoder or (dim is not None and meta.get("dim") != dim)):
        raise EncoderMismatchError(
            f"{path} was tuned for encoder {meta.get('encoder')} (dim {meta.get('dim')}) but the encoder in use is "
            f"{encoder} (dim {dim}); run `sceneqa index tune` again with this encoder, or search with --no-tune"
        )
    return TunedIndex(qmap, vids, text, meta)
