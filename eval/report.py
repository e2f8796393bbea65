"""Writing an evaluation's report.json, report.md and PNG plots into an output folder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from eval.requires import require


def write_json(out: Path, report: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(_clean(report), indent=2, ensure_ascii=False))
    return path


def write_markdown(out: Path, title: str, sections: list[tuple[str, str]]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    text = [f"# {title}", ""]
    for heading, body in sections:
        text += [f"## {heading}", "", body.rstrip(), ""]
    path = out / "report.md"
    path.write_text("\n".join(text))
    return path


def table(rows: list[tuple], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def plot_reliability(out: Path, rel: dict, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    centers = [(a + b) / 2 for a, b in zip(rel["edges"][:-1], rel["edges"][1:])]
    ax.bar(centers, [0 if math.isnan(a) else a for a in rel["accuracy"]], width=0.09, alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left")
    return _save(fig, out / "reliability.png")


def plot_coverage(out: Path, cov: dict, title: str) -> Path:
    return plot_coverage_curves(out, {"": cov}, title, "coverage.png")


def plot_coverage_curves(out: Path, curves: dict[str, dict], title: str, name: str) -> Path:
    """Accuracy on the answered items against coverage, one line per named curve (``coverage`` and ``accuracy``
    lists, e.g. from :func:`eval.metrics.risk_coverage`); a legend when there are several."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for label, cov in curves.items():
        ax.plot(cov["coverage"], cov["accuracy"], marker="o", ms=3, label=label or None)
    ax.set(xlabel="coverage (share answered)", ylabel="accuracy on answered", xlim=(0, 1), ylim=(0, 1), title=title)
    if len(curves) > 1:
        ax.legend(loc="lower left")
    return _save(fig, out / name)


def plot_confusion(out: Path, pred: np.ndarray, truth: np.ndarray, classes: list[str]) -> Path:
    plt = _pyplot()
    n = len(classes)
    m = np.zeros((n, n), int)
    for t, p in zip(truth, pred):
        m[t, p] += 1
    fig, ax = plt.subplots(figsize=(1.2 + 0.4 * n, 1.0 + 0.4 * n))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(n), classes, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    for i in range(n):
        for j in range(n):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=6)
    return _save(fig, out / "confusion.png")


def _pyplot():
    matplotlib = require("matplotlib", purpose="the report's plots")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _fmt(v) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:.3f}"
    return str(v)


def _clean(obj):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def plot_latency(out: Path, latencies_ms: list[float], title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(latencies_ms or [0.0], bins=40)
    ax.set(xlabel="milliseconds", ylabel="requests", title=title)
    return _save(fig, out / "latency.png")


def plot_recall_curve(out: Path, curves: dict[str, list[float]]) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=name.replace("_", " "))
    ax.set(xlabel="k", ylabel="recall@k", ylim=(0, 1), title="recall@k")
    ax.legend(loc="lower right")
    return _save(fig, out / "recall_at_k.png")
