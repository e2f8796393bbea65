"""Greedy k-centre coreset selection (PatchCore's memory-bank subsampling), in two stages for speed.

The greedy rule (Sener & Savarese 2018) adds, one at a time, the point farthest from everything chosen so
far; the chosen set then covers every point within about twice the best possible radius. Distances are
computed in a seeded Gaussian random projection (Johnson-Lindenstrauss; PatchCore uses one too).

Stage 1 runs the greedy rule inside chunks of ``chunk`` consecutive points (small enough to stay in cache)
and keeps twice the requested share; stage 2 runs it over stage 1's survivors. The covering radius of the
result is at most the sum of the two stages' radii. The inner update is a numpy ``einsum`` (no BLAS
threads): on a shared 2-core machine a threaded matrix-vector product per step costs 10-50x more.
"""

from __future__ import annotations

import numpy as np

from multimodal.errors import ConfigError


def project(x: np.ndarray, dims: int, seed: int = 0) -> np.ndarray:
    """``x`` ``(n, d)`` through a seeded Gaussian projection to ``dims`` columns (``x`` itself if ``dims`` is
    0 or not smaller than ``d``); float32."""
    x = np.asarray(x, np.float32)
    if dims <= 0 or dims >= x.shape[1]:
        return x
    rng = np.random.default_rng(seed)
    return x @ (rng.standard_normal((x.shape[1], dims)) / np.sqrt(dims)).astype(np.float32)


def greedy_k_center(x: np.ndarray, k: int, start: int = 0) -> np.ndarray:
    """Indices of ``k`` rows of ``x`` ``(n, d)`` chosen by the greedy farthest-point rule from row ``start``;
    int64, in the order chosen, distinct when ``k <= n`` distinct rows exist."""
    n = len(x)
    if not 1 <= k <= n:
        raise ConfigError(f"a coreset of {k} points out of {n} is not possible")
    x = np.ascontiguousarray(x, np.float32)
    sq = np.einsum("ij,ij->i", x, x)
    chosen = np.empty(k, np.int64)
    chosen[0] = start
    dist = sq - 2.0 * np.einsum("ij,j->i", x, x[start]) + sq[start]
    for step in range(1, k):
        i = int(np.argmax(dist))
        chosen[step] = i
        np.minimum(dist, sq - 2.0 * np.einsum("ij,j->i", x, x[i]) + sq[i], out=dist)
    return chosen


def coreset(x: np.ndarray, share: float, projection: int = 32, seed: int = 0, chunk: int = 16384) -> np.ndarray:
    """Indices (sorted, int64) of about ``share * len(x)`` rows of ``x`` ``(n, d)`` covering it (at least 1)."""
    n = len(x)
    k = max(1, min(n, int(round(share * n))))
    if k == n:
        return np.arange(n)
    z = project(x, projection, seed)
    rng = np.random.default_rng(seed)
    if n <= 2 * chunk:
        return np.sort(greedy_k_center(z, k, int(rng.integers(n))))
    first_share = min(1.0, 2.0 * k / n)
    survivors = []
    for lo in range(0, n, chunk):
        part = z[lo : lo + chunk]
        m = max(1, int(round(first_share * len(part))))
        survivors.append(lo + greedy_k_center(part, m, int(rng.integers(len(part)))))
    pool = np.concatenate(survivors)
    k = min(k, len(pool))
    return np.sort(pool[greedy_k_center(z[pool], k, int(rng.integers(len(pool))))])


def covering_radius(x: np.ndarray, chosen: np.ndarray) -> float:
    """The largest distance from a row of ``x`` to its nearest chosen row (exact; for tests and reports)."""
    import faiss

    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(x[chosen], np.float32))
    dist, _ = index.search(np.ascontiguousarray(x, np.float32), 1)
    return float(np.sqrt(max(0.0, dist.max())))
