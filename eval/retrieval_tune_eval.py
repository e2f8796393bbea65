"""``sceneqa eval retrieval --tune``: text->image recall of a catalog-tuned query map on items it never saw.

Every image and caption is embedded once. For each seed the items are split in two halves: the map is chosen
and fitted on the *tune* half's image-caption pairs only (:func:`retrieval.tune.choose_map`, which validates on
a part of that half), and text->image retrieval is measured on the *eval* half: each eval caption queries the
eval half's images (item text hidden: only image vectors are searched), before (the encoder's own text
embedding) and after (the tuned map). The same functions as ``sceneqa index tune`` do the fitting.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from eval.data import LoadReport
from eval.machine import machine_info
from eval.report import plot_recall_curve, table, write_json, write_markdown
from eval.retrieval_eval import embed_items, retrieval_metrics
from multimodal.errors import ConfigError
from multimodal.search_tune import text_features
from retrieval.tune import choose_map, split_mask


def tune_split_metrics(enc_text: np.ndarray, feats: np.ndarray, img: np.ndarray, seed: int) -> dict:
    """One seed: fit on one half, measure text->image on the other half (its images only). ``enc_text``
    ``(n, d)`` the encoder's caption embeddings, ``feats`` ``(n, f)`` the map's caption features, ``img``
    ``(n, d)`` image vectors; row ``i`` of each is item ``i``."""
    held = split_mask(len(img), 0.5, seed)
    qmap, table_ = choose_map(feats[~held], img[~held], seed=seed)
    rel = np.eye(int(held.sum()), dtype=bool)
    before = retrieval_metrics(enc_text[held] @ img[held].T, rel)
    after = retrieval_metrics(qmap.apply(feats[held]) @ img[held].T, rel)
    return {
        "seed": seed,
        "tune_items": int((~held).sum()),
        "eval_items": int(held.sum()),
        "direction": qmap.direction,
        "alpha": qmap.alpha,
        "validation_recall@10": table_,
        "before": before,
        "after": after,
    }


def run_retrieval_tune_eval(
    services, loaded: LoadReport, *, data: Path, seeds: int = 3, out: Path = Path("reports/retrieval_tune")
) -> int:
    """Evaluate tuning on ``loaded`` (captioned images, first caption of each); writes report.json, report.md and
    a recall@k plot into ``out`` and prints the before/after figures (mean over ``seeds``)."""
    if seeds < 1:
        raise ConfigError(f"--tune-seeds must be >= 1, got {seeds}")
    start = time.perf_counter()
    kept, img, failed = embed_items(services, loaded)
    if len(kept) < 40:
        raise ConfigError(f"--tune needs at least 40 captioned images to split in halves; got {len(kept)}")
    captions = [it.captions[0] for it in kept]
    enc_text = np.asarray(services.encoder.embed_texts(captions), np.float32)
    kind, feats = text_features(services.encoder, captions)
    runs = [tune_split_metrics(enc_text, feats, img, seed) for seed in range(seeds)]
    summary = {
        side: {m: float(np.mean([r[side][m] for r in runs])) for m in ("recall@1", "recall@5", "recall@10", "mAP")}
        for side in ("before", "after")
    }
    spread = {side: float(np.std([r[side]["recall@10"] for r in runs])) for side in ("before", "after")}
    full = {
        "task": "retrieval-tune",
        "data": str(data),
        "tier": services.tier.tier,
        "encoder": services.encoder.info.as_dict(),
        "features": kind,
        "images": len(kept),
        "protocol": "per seed: tune on a seeded half (map chosen on a validation part of it), text->image on the "
        "other half, its images only (item text hidden); first caption per image",
        "seeds": seeds,
        "mean": summary,
        "recall@10_std": spread,
        "runs": runs,
        "seconds": time.perf_counter() - start,
        "machine": machine_info(),
        "skipped_rows": list(loaded.problems),
        "failed_images": failed,
    }
    write_json(out, full)
    curves = {f"{side} (seed 0)": runs[0][side]["curve"] for side in ("before", "after")}
    plot = plot_recall_curve(out, curves)
    rows = [(side, runs[0]["eval_items"], *(summary[side][m] for m in ("recall@1", "recall@5", "recall@10", "mAP")))
            for side in ("before", "after")]  # fmt: skip
    write_markdown(
        out,
        f"Retrieval tuned on half the catalog: {data}",
        [
            ("Summary", table(rows, ("query", "eval queries", "recall@1", "recall@5", "recall@10", "mAP"))),
            ("Protocol", full["protocol"] + f"; mean of {seeds} seed(s)"),
            ("Models", f"tier `{services.tier.tier}`, encoder `{services.encoder.spec}`, map features `{kind}`"),
            ("Plots", f"![recall@k]({plot.name})"),
        ],
    )
    for side in ("before", "after"):
        m = summary[side]
        print(
            f"text_to_image {side} tuning: {runs[0]['eval_items']} held-out queries over their {runs[0]['eval_items']} "
            f"images, mean of {seeds} seed(s): recall@1 {m['recall@1']:.3f}, recall@5 {m['recall@5']:.3f}, "
            f"recall@10 {m['recall@10']:.3f} (std {spread[side]:.3f}), mAP {m['mAP']:.3f}"
        )
    print(f"report in {out}/")
    return 0
