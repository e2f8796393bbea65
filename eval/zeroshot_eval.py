"""``sceneqa eval zeroshot``: zero-shot accuracy and calibration on labelled images."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.data import LoadReport, load_labelled
from eval.machine import machine_info
from eval.metrics import (
    coverage_curve,
    expected_calibration_error,
    fit_logistic_1d,
    fit_temperature,
    macro_f1,
    per_class_accuracy,
    reliability,
    topk_accuracy,
)
from eval.report import plot_confusion, plot_coverage, plot_reliability, table, write_json, write_markdown
from eval.requires import require
from multimodal.errors import ConfigError
from multimodal.ingest.batch_embed import embed_sources
from multimodal.zeroshot_scores import match_scores, softmax_scores


@dataclass(frozen=True)
class ZeroShotResult:
    """Everything computed from one run: scores, truth, and the metrics dict."""

    classes: list[str]
    truth: np.ndarray
    scores: np.ndarray
    match: np.ndarray
    metrics: dict


def evaluate(services, items, classes: list[str], threshold: float = 0.5, progress=None) -> ZeroShotResult:
    """Embed ``items`` (LabelledImage) and score them against ``classes`` with ``services``."""
    batch = embed_sources(
        services.encoder,
        [it.path for it in items],
        limits=services.config.image_limits,
        names=[str(it.path) for it in items],
        progress=progress,
    )
    if not batch.indices:
        raise ConfigError("no image of the data set could be loaded; see the errors above")
    truth = np.array([classes.index(items[i].label) for i in batch.indices])
    zs = services.zeroshot
    cos = batch.vectors @ zs.label_embeddings(classes).T
    cal = zs.calibration
    bg = batch.vectors @ zs.background_embeddings().T if cal.activation == "background" else None
    scores = softmax_scores(cos, cal.logit_scale, cal.log_floor)
    match = match_scores(cos, bg, cal)
    pred = scores.argmax(axis=1)
    correct = (pred == truth).astype(float)
    conf = scores.max(axis=1)
    top_match = match[np.arange(len(pred)), pred]
    answered = top_match >= threshold
    per_class = per_class_accuracy(pred, truth, len(classes))
    metrics = {
        "n": int(len(truth)),
        "classes": len(classes),
        "top1": topk_accuracy(scores, truth, 1),
        "top5": topk_accuracy(scores, truth, min(5, len(classes))),
        "macro_f1": macro_f1(pred, truth, len(classes)),
        "ece": expected_calibration_error(conf, correct),
        "reliability": reliability(conf, correct),
        "abstention_rate": float(1 - answered.mean()),
        "accuracy_answered": float(correct[answered].mean()) if answered.any() else float("nan"),
        "coverage_curve": coverage_curve(top_match, correct),
        "per_class_accuracy": {c: float(a) for c, a in zip(classes, per_class)},
        "failed_images": {str(items[i].path): msg for i, msg in batch.errors.items()},
        "calibration_fit": _fit(cos, bg, truth, pred, correct, cal),
        "calibration_used": {
            "logit_scale": cal.logit_scale,
            "log_floor": cal.log_floor,
            "activation": cal.activation,
            "center": cal.center,
            "slope": cal.slope,
        },
    }
    return ZeroShotResult(classes, truth, scores, match, metrics)


def _fit(cos, bg, truth, pred, correct, cal) -> dict:
    """What temperature / match calibration this data would choose (for tuning defaults, not applied)."""
    x = cos if cal.log_floor is None else np.log(np.maximum(cos, 0.0) + cal.log_floor)
    out = {"logit_scale": fit_temperature(x, truth, np.geomspace(0.1, 1000.0, 201))}
    if bg is not None:
        z = (cos - bg.mean(1, keepdims=True)) / np.maximum(bg.std(1, keepdims=True), 1e-6)
        center, slope = fit_logistic_1d(z[np.arange(len(pred)), pred], correct)
        out.update({"match_center": center, "match_slope": slope})
    return out


def load_data(
    data: Path, *, label_column: str = "label", path_column: str = "path", limit: int | None = None
) -> LoadReport:
    """The labelled images of ``data`` (a class-folder tree or a CSV); each skipped row is reported on stderr.
    Called before any model loads, so bad data or a missing plotting package fails fast."""
    require("matplotlib", purpose="the report's plots")
    loaded = load_labelled(data, label_column=label_column, path_column=path_column, limit=limit)
    for problem in loaded.problems:
        print(f"sceneqa: skipped {problem}", file=sys.stderr)
    return loaded


def run_zeroshot_eval(
    services, loaded: LoadReport, *, data: Path, label_column: str = "label", out: Path = Path("reports/zeroshot")
) -> int:
    """Evaluate ``services`` on ``loaded`` (from :func:`load_data`); writes report.json, report.md and plots into
    ``out`` and prints the summary. ``data`` and ``label_column`` only label the report."""
    from tqdm import tqdm

    classes = sorted({it.label for it in loaded.items})
    start = time.perf_counter()
    with tqdm(total=len(loaded.items), unit="img", file=sys.stderr, disable=None) as bar:
        result = evaluate(services, list(loaded.items), classes, progress=bar.update)
    elapsed = time.perf_counter() - start
    m = result.metrics
    for msg in m["failed_images"].values():
        print(f"sceneqa: skipped image: {msg}", file=sys.stderr)
    report = {
        "task": "zeroshot",
        "data": str(data),
        "label_column": label_column,
        "tier": services.tier.tier,
        "encoder": services.encoder.info.as_dict(),
        "seconds": elapsed,
        "machine": machine_info(),
        "skipped_rows": list(loaded.problems),
        **m,
    }
    write_json(out, report)
    plots = [
        plot_reliability(out, m["reliability"], "top-1 confidence"),
        plot_coverage(out, m["coverage_curve"], "abstention by match"),
    ]
    if len(classes) <= 30:
        plots.append(plot_confusion(out, np.argmax(result.scores, 1), result.truth, classes))
    summary = table(
        [
            (
                m["n"],
                m["classes"],
                m["top1"],
                m["top5"],
                m["macro_f1"],
                m["ece"],
                m["abstention_rate"],
                m["accuracy_answered"],
            )
        ],
        ("images", "classes", "top-1", "top-5", "macro F1", "ECE", "abstained", "acc. answered"),
    )
    worst = sorted(((a, c) for c, a in m["per_class_accuracy"].items() if a == a))[:10]
    write_markdown(
        out,
        f"Zero-shot: {data} ({label_column})",
        [
            ("Summary", summary),
            (
                "Models",
                f"tier `{services.tier.tier}`, encoder `{services.encoder.spec}` "
                f"({services.encoder.info.weights}); runtime {services.runtime.describe()}",
            ),
            ("Lowest per-class accuracy", table([(c, a) for a, c in worst], ("class", "accuracy"))),
            (
                "Calibration fit on this data (not applied)",
                table(sorted(m["calibration_fit"].items()), ("knob", "value")),
            ),
            ("Plots", "\n".join(f"![{p.stem}]({p.name})" for p in plots)),
        ],
    )
    print(
        f"zero-shot {data} [{label_column}]: {m['n']} images, {m['classes']} classes, "
        f"top-1 {m['top1']:.3f}, top-5 {m['top5']:.3f}, macro F1 {m['macro_f1']:.3f}, ECE {m['ece']:.3f}, "
        f"abstained {m['abstention_rate']:.2f} (accuracy when answering {m['accuracy_answered']:.3f}); "
        f"{elapsed:.1f} s; report in {out}/"
    )
    return 0
