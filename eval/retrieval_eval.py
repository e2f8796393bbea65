"""``sceneqa eval retrieval``: text-to-image and image-to-image retrieval quality (recall@1/5/10, mAP).

Data: a captions JSONL (each caption should retrieve its own image), or a CSV catalog with a text column
(the caption) and optionally a group column (image-to-image: items of the same group are relevant; the
query item itself is excluded).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from eval.data import LoadReport, load_captioned_catalog, load_captions
from eval.machine import machine_info
from eval.metrics import first_relevant_ranks, mean_average_precision, recall_at_k
from eval.report import plot_recall_curve, table, write_json, write_markdown
from eval.requires import require
from multimodal.errors import ConfigError

KS = (1, 5, 10)


def retrieval_metrics(scores: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    ranks = first_relevant_ranks(scores, relevant)
    out = {f"recall@{k}": recall_at_k(ranks, k) for k in KS}
    out["mAP"] = mean_average_precision(scores, relevant)
    out["queries"] = int(len(scores))
    out["curve"] = [recall_at_k(ranks, k) for k in range(1, 51)]
    return out


def load_data(
    data: Path,
    *,
    text_column: str = "productDisplayName",
    group_column: str | None = None,
    path_column: str = "path",
    limit: int | None = None,
) -> LoadReport:
    """Captioned images from a captions ``.jsonl`` or a ``.csv`` catalog (``text_column`` is the caption; items
    sharing ``group_column`` are relevant to each other); each skipped row is reported on stderr. Called before
    any model loads, so bad data or a missing plotting package fails fast."""
    require("matplotlib", purpose="the report's plots")
    if data.suffix.lower() == ".jsonl":
        loaded = load_captions(data, limit)
    elif data.suffix.lower() == ".csv":
        loaded = load_captioned_catalog(data, text_column, group_column, path_column, limit)
    else:
        raise ConfigError(f"--data {data}: expected a captions .jsonl or a .csv catalog")
    for p in loaded.problems:
        print(f"sceneqa: skipped {p}", file=sys.stderr)
    return loaded


def embed_items(services, loaded: LoadReport) -> tuple[list, np.ndarray, list[str]]:
    """``(items embedded, their vectors (n, d), one message per image that failed)``, with a progress bar."""
    from tqdm import tqdm

    from multimodal.ingest.batch_embed import embed_sources

    items = list(loaded.items)
    with tqdm(total=len(items), unit="img", file=sys.stderr, disable=None) as bar:
        batch = embed_sources(
            services.encoder,
            [it.path for it in items],
            limits=services.config.image_limits,
            names=[str(it.path) for it in items],
            progress=bar.update,
        )
    for msg in batch.errors.values():
        print(f"sceneqa: skipped image: {msg}", file=sys.stderr)
    return [items[i] for i in batch.indices], batch.vectors, list(batch.errors.values())


def run_retrieval_eval(services, loaded: LoadReport, *, data: Path, out: Path = Path("reports/retrieval")) -> int:
    """Evaluate ``services``' encoder on ``loaded`` (from :func:`load_data`); writes report.json, report.md and a
    recall@k plot into ``out`` and prints the summary. ``data`` only labels the report."""
    start = time.perf_counter()
    kept, img, failed = embed_items(services, loaded)
    captions = [(j, c) for j, it in enumerate(kept) for c in it.captions]
    txt = services.encoder.embed_texts([c for _, c in captions])
    t2i_rel = np.zeros((len(captions), len(kept)), bool)
    t2i_rel[np.arange(len(captions)), [j for j, _ in captions]] = True
    report = {"text_to_image": retrieval_metrics(txt @ img.T, t2i_rel)}
    groups = np.array([it.group for it in kept])
    if groups.any():
        sims = img @ img.T
        np.fill_diagonal(sims, -np.inf)  # an item does not retrieve itself
        rel = (groups[:, None] == groups[None, :]) & (groups[:, None] != "")
        np.fill_diagonal(rel, False)
        report["image_to_image"] = retrieval_metrics(sims, rel)
    elapsed = time.perf_counter() - start
    full = {
        "task": "retrieval",
        "data": str(data),
        "tier": services.tier.tier,
        "encoder": services.encoder.info.as_dict(),
        "images": len(kept),
        "seconds": elapsed,
        "machine": machine_info(),
        "skipped_rows": list(loaded.problems),
        "failed_images": failed,
        **report,
    }
    write_json(out, full)
    plot = plot_recall_curve(out, {k: v["curve"] for k, v in report.items()})
    rows = [(name, m["queries"], m["recall@1"], m["recall@5"], m["recall@10"], m["mAP"]) for name, m in report.items()]
    write_markdown(
        out,
        f"Retrieval: {data}",
        [
            ("Summary", table(rows, ("direction", "queries", "recall@1", "recall@5", "recall@10", "mAP"))),
            ("Models", f"tier `{services.tier.tier}`, encoder `{services.encoder.spec}`"),
            ("Plots", f"![recall@k]({plot.name})"),
        ],
    )
    for name, m in report.items():
        print(
            f"{name}: {m['queries']} queries over {len(kept)} images, recall@1 {m['recall@1']:.3f}, recall@5 "
            f"{m['recall@5']:.3f}, recall@10 {m['recall@10']:.3f}, mAP {m['mAP']:.3f}"
        )
    print(f"report in {out}/")
    return 0
