"""``sceneqa eval fewshot``: k-shot accuracy of the teach head against zero-shot and plain baselines.

Every image is embedded once (the teach features, their flips and the joint-space embedding). For each
``k`` and seed, ``k`` images per class are drawn as the support set (what a user would teach with) and all
the other images of those classes are the query set; only the support set fits anything (the head's
cross-validation included), and accuracy is measured on the query set. Methods, on the same split:

- ``zero-shot``: the class names as text labels (``sceneqa classify --labels``);
- ``lr-embedding``: a plain logistic regression (C=10) on the encoder's embedding;
- ``ncm-embedding``: nearest class mean on the encoder's embedding;
- ``lr-features``: a plain logistic regression (C=10) on the teach features, no flips, no cross-validation;
- ``teach``: the teach head (prototypes + LR, flips, chosen by CV on the support set);
- ``teach+text``: the same with the class names blended in (``sceneqa teach --labels``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.data import LoadReport, load_labelled
from eval.machine import machine_info
from eval.metrics import expected_calibration_error
from eval.report import table, write_json, write_markdown
from eval.requires import require
from multimodal.errors import ConfigError
from multimodal.teach.features import Features, default_spec, extract
from multimodal.teach.head import HeadConfig, fit_head, fit_lr, log_softmax, prototypes, thread_limit
from multimodal.teach.teach import zeroshot_logp

METHODS = ("zero-shot", "lr-embedding", "ncm-embedding", "lr-features", "teach", "teach+text")
BASELINE_C = 10.0


@dataclass(frozen=True)
class FewShotData:
    """Features of every loaded image, label indices ``y``, class names and zero-shot log-probabilities."""

    features: Features
    y: np.ndarray
    classes: list[str]
    zs_logp: np.ndarray


def check_protocol(shots: tuple[int, ...], seeds: int, min_per_class: int) -> None:
    """Refuse shots < 1, seeds < 1, or classes too small to leave a query image at the largest k."""
    if not shots or min(shots) < 1:
        raise ConfigError(f"--shots must be positive numbers of examples per class, got {list(shots)}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    if min_per_class <= max(shots):
        raise ConfigError(
            f"--min-per-class {min_per_class} leaves no query image at {max(shots)} shots; use >= {max(shots) + 1}"
        )


def load_data(
    data: Path,
    *,
    label_column: str,
    path_column: str,
    min_per_class: int,
    shots: tuple[int, ...] = (1,),
    seeds: int = 1,
) -> LoadReport:
    """The labelled images of classes with at least ``min_per_class`` rows; skipped rows on stderr. The protocol
    (``shots``, ``seeds``) is checked first, so bad options fail before anything is read."""
    check_protocol(shots, seeds, min_per_class)
    require("matplotlib", purpose="the accuracy-vs-shots plot")
    loaded = load_labelled(data, label_column=label_column, path_column=path_column)
    for problem in loaded.problems:
        print(f"sceneqa: skipped {problem}", file=sys.stderr)
    counts: dict[str, int] = {}
    for it in loaded.items:
        counts[it.label] = counts.get(it.label, 0) + 1
    items = tuple(it for it in loaded.items if counts[it.label] >= min_per_class)
    if len({it.label for it in items}) < 2:
        raise ConfigError(f"--data {data}: fewer than 2 classes with >= {min_per_class} images (--min-per-class)")
    return LoadReport(items, loaded.problems)


def fewshot_split(y: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` random indices per class (support) and all the others (query), sorted. Every class needs > k."""
    rng = np.random.default_rng(seed)
    support = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) <= k:
            raise ConfigError(f"class {c} has {len(idx)} images; {k}-shot needs at least {k + 1}")
        support.extend(rng.choice(idx, size=k, replace=False).tolist())
    support_idx = np.sort(np.array(support, dtype=int))
    return support_idx, np.setdiff1d(np.arange(len(y)), support_idx)


def embed_data(services, loaded: LoadReport, progress=None) -> FewShotData:
    items = list(loaded.items)
    spec = default_spec(services.encoder)
    feats = extract(
        services.encoder,
        [it.path for it in items],
        spec,
        limits=services.config.image_limits,
        names=[str(it.path) for it in items],
        progress=progress,
    )
    for msg in feats.errors.values():
        print(f"sceneqa: skipped image: {msg}", file=sys.stderr)
    labels = [items[i].label for i in feats.indices]
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    return FewShotData(feats, y, classes, zeroshot_logp(services, feats.embedding, classes))


def evaluate_split(data: FewShotData, support: np.ndarray, query: np.ndarray, config: HeadConfig) -> dict:
    """Top-1 accuracy of every method of :data:`METHODS` on ``query``, fitted on ``support`` only."""
    f, y, n = data.features, data.y, len(data.classes)
    truth = y[query]
    emb = f.embedding

    def acc(scores: np.ndarray) -> float:
        return float((scores.argmax(axis=1) == truth).mean())

    out = {"zero-shot": acc(data.zs_logp[query])}
    coef, b = fit_lr(emb[support], y[support], n, BASELINE_C, config.max_iter)
    out["lr-embedding"] = acc(emb[query] @ coef.T + b)
    out["ncm-embedding"] = acc(emb[query] @ prototypes(emb[support], y[support], n).T)
    coef, b = fit_lr(f.x[support], y[support], n, BASELINE_C, config.max_iter)
    out["lr-features"] = acc(f.x[query] @ coef.T + b)
    x_aug = f.x_flip[support][None] if f.x_flip is not None else None
    q = f.query()[query]
    labels = tuple(data.classes)
    head = fit_head(f.x[support], y[support], labels, x_aug=x_aug, config=config)
    out["teach"] = acc(head.logits(q))
    head_t = fit_head(f.x[support], y[support], labels, zs_logp=data.zs_logp[support], x_aug=x_aug, config=config)
    out["teach+text"] = acc(head_t.logits(q, data.zs_logp[query]))
    out["teach_choice"] = {"power": head.power, "C": head.c, "proto": head.proto_weight, "cv": head.cv.accuracy}
    out["teach+text_choice"] = {
        "power": head_t.power,
        "C": head_t.c,
        "proto": head_t.proto_weight,
        "text": head_t.text_weight,
        "cv": head_t.cv.accuracy,
        "ece": _ece(np.exp(log_softmax(head_t.logits(q, data.zs_logp[query]) / head_t.temperature)), truth),
    }
    return out


def _ece(probs: np.ndarray, truth: np.ndarray) -> float:
    """Expected calibration error of the top-1 probability."""
    return expected_calibration_error(probs.max(axis=1), (probs.argmax(axis=1) == truth).astype(float))


def summarise(runs: dict[int, list[dict]]) -> dict[str, dict[str, dict[str, float]]]:
    """``{method: {k: {mean, std, min, max}}}`` over the seeds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for method in METHODS:
        for k, per_seed in runs.items():
            v = np.array([r[method] for r in per_seed])
            out.setdefault(method, {})[str(k)] = {
                "mean": float(v.mean()),
                "std": float(v.std()),
                "min": float(v.min()),
                "max": float(v.max()),
            }
    return out


def run_fewshot_eval(
    services,
    loaded: LoadReport,
    *,
    data: Path,
    label_column: str,
    shots: tuple[int, ...],
    seeds: int,
    out: Path,
    config: HeadConfig = HeadConfig(),
) -> int:
    """Embed, evaluate every ``(k, seed)``, write report.json / report.md / fewshot.png into ``out``, print."""
    from tqdm import tqdm

    start = time.perf_counter()
    with tqdm(total=len(loaded.items), unit="img", file=sys.stderr, disable=None) as bar:
        fs = embed_data(services, loaded, progress=bar.update)
    embed_s = time.perf_counter() - start
    runs: dict[int, list[dict]] = {}
    for k in shots:
        for seed in range(seeds):
            support, query = fewshot_split(fs.y, k, seed)
            with thread_limit(config.blas_threads):  # the baselines' fits too (fit_head limits its own)
                result = evaluate_split(fs, support, query, config)
            runs.setdefault(k, []).append({"seed": seed, **result})
            print(f"sceneqa: {k}-shot seed {seed}: " + _line(runs[k][-1]), file=sys.stderr)
    summary = summarise(runs)
    report = {
        "task": "fewshot",
        "data": str(data),
        "label_column": label_column,
        "classes": len(fs.classes),
        "images": int(len(fs.y)),
        "shots": list(shots),
        "seeds": seeds,
        "tier": services.tier.tier,
        "encoder": services.encoder.info.as_dict(),
        "features": default_spec(services.encoder).as_dict(),
        "head_config": {
            "power_grid": config.power_grid,
            "c_grid": config.c_grid,
            "proto_grid": config.proto_grid,
            "text_grid": config.text_grid,
            "criterion": config.criterion,
            "folds": config.folds,
            "blas_threads": config.blas_threads,
        },
        "summary": summary,
        "runs": {str(k): v for k, v in runs.items()},
        "embed_seconds": embed_s,
        "seconds": time.perf_counter() - start,
        "machine": machine_info(),
        "skipped_rows": list(loaded.problems),
    }
    write_json(out, report)
    plot = plot_shots(out, summary, shots)
    _markdown(out, report, plot)
    print(_final(report, out))
    return 0


def _line(r: dict) -> str:
    return ", ".join(f"{m} {r[m]:.3f}" for m in METHODS)


def _final(report: dict, out: Path) -> str:
    s = report["summary"]
    parts = [
        f"{m}: " + " / ".join(f"{s[m][str(k)]['mean']:.3f}±{s[m][str(k)]['std']:.3f}" for k in report["shots"])
        for m in METHODS
    ]
    head = (
        f"few-shot {report['data']} [{report['label_column']}]: {report['classes']} classes, {report['images']} images"
    )
    shots = "/".join(str(k) for k in report["shots"])
    return (
        f"{head}; top-1 at {shots} shots (mean±std over {report['seeds']} seeds):\n  "
        + "\n  ".join(parts)
        + (f"\nreport in {out}/")
    )


def plot_shots(out: Path, summary: dict, shots: tuple[int, ...]) -> Path:
    matplotlib = require("matplotlib", purpose="the accuracy-vs-shots plot")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method in METHODS:
        means = [summary[method][str(k)]["mean"] for k in shots]
        stds = [summary[method][str(k)]["std"] for k in shots]
        ax.errorbar(shots, means, yerr=stds, marker="o", capsize=3, label=method)
    ax.set_xlabel("examples per class (k)")
    ax.set_ylabel("top-1 accuracy on the rest")
    ax.set_xticks(list(shots))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = Path(out) / "fewshot.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _markdown(out: Path, report: dict, plot: Path) -> None:
    s, shots = report["summary"], report["shots"]
    rows = [(m, *(f"{s[m][str(k)]['mean']:.3f} ± {s[m][str(k)]['std']:.3f}" for k in shots)) for m in METHODS]
    enc = report["encoder"]
    write_markdown(
        out,
        f"Few-shot: {report['data']} ({report['label_column']})",
        [
            ("Top-1 on the query part (mean ± std over seeds)", table(rows, ("method", *(f"{k}-shot" for k in shots)))),
            (
                "Protocol",
                f"{report['classes']} classes, {report['images']} images; per seed, k images per class are the "
                "support set (the only data anything is fitted or cross-validated on) and all others the query "
                f"set. Encoder `{enc['spec']}`, teach features `{report['features']}`.",
            ),
            ("Head choices (teach+text; cross-validated on the support set)", _choices(report["runs"])),
            ("Plot", f"![accuracy vs shots]({plot.name})"),
        ],
    )


def _choices(runs: dict) -> str:
    rows = []
    for k, per_seed in runs.items():
        for r in per_seed:
            ch = r["teach+text_choice"]
            cv = "n/a" if ch["cv"] is None else f"{ch['cv']:.3f}"
            rows.append((k, r["seed"], ch["power"], ch["C"], ch["proto"], ch["text"], cv, r["teach+text"], ch["ece"]))
    header = ("k", "seed", "power", "C", "proto", "text", "CV acc. (support)", "top-1 (query)", "ECE (query)")
    return table(rows, header)
