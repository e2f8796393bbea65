"""``sceneqa eval anomaly``'s handler and report: metrics from the scored test split, report.json / report.md,
the ROC curve (data in report.json, plot in roc.png) and example heatmaps."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from eval.anomaly_data import load_anomaly_data
from eval.anomaly_eval import EvalOptions, Scored, fit_split, pixel_aurocs, score_test, summarize_times, write_examples
from eval.anomaly_metrics import auroc, roc_points
from eval.machine import header_line, machine_info
from eval.report import table, write_json, write_markdown
from eval.requires import require


def image_metrics(scored: Scored, threshold: float, size_split: int) -> dict[str, object]:
    """Image AUROC overall, per defect kind and per defect size; F1, precision, recall and false alarms at the
    threshold; verdict counts; how often good images reach high probabilities."""
    s = np.array(scored.scores)
    bad = np.array([t.defective for t in scored.items])
    kinds = np.array([t.kind for t in scored.items])
    px = np.array(scored.mask_px)
    per = {"all": auroc(s, bad)}
    for kind in sorted(set(kinds[bad])):
        sel = ~bad | (kinds == kind)
        per[kind] = auroc(s[sel], bad[sel])
    if (px[bad] > 0).any():
        for name, sel in (("small", px < size_split), ("large", px >= size_split)):
            keep = ~bad | (bad & sel & (px > 0))
            per[f"{name} (<{size_split} px)" if name == "small" else f"{name} (>={size_split} px)"] = auroc(
                s[keep], bad[keep]
            )
    at = at_threshold(s, bad, threshold)
    probs = np.array(scored.probabilities)[~bad]
    verdicts = np.array(scored.verdicts)
    return {
        "image_auroc": per,
        "counts": {"good": int((~bad).sum()), "defective": int(bad.sum()), **_size_counts(px[bad], size_split)},
        "at_threshold": at,
        "verdicts": {
            truth: {v: int((verdicts[sel] == v).sum()) for v in ("ok", "cannot tell", "defect")}
            for truth, sel in (("good", ~bad), ("defective", bad))
        },
        "good_probability_at_least": {str(q): float((probs >= q).mean()) for q in (0.9, 0.95, 0.99)},
    }


def at_threshold(s: np.ndarray, bad: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall, F1, false alarms (count and rate over good images) and misses at ``threshold``
    (a score at or above it is flagged)."""
    pred = s >= threshold
    tp, fp, fn = int((pred & bad).sum()), int((pred & ~bad).sum()), int((~pred & bad).sum())
    prec, rec = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {
        "precision": prec,
        "recall": rec,
        "f1": 2 * prec * rec / max(1e-12, prec + rec),
        "false_alarms": fp,
        "false_alarm_rate": fp / max(1, int((~bad).sum())),
        "miss_rate": fn / max(1, int(bad.sum())),
    }


def threshold_rules(scored: Scored, calibration) -> dict[str, dict[str, float]]:
    """Every threshold rule applied to the same held-back good scores (the fitted inspector's), measured on the
    test split: the rule is chosen by its guarantee and on fit data, never here; this shows what each gives."""
    from multimodal.inspect.calibrate import METHODS, fit_calibration

    s, bad = np.array(scored.scores), np.array([t.defective for t in scored.items])
    held, a = np.array(calibration.good_scores), calibration.false_alarm
    if len(held) < 2:
        return {}
    out = {}
    for method in METHODS:
        cal = fit_calibration(held, a, method)
        rates = at_threshold(s, bad, cal.threshold)
        out[cal.method] = {"threshold": cal.threshold, "guaranteed": cal.guaranteed, **rates}
    plug_in = calibration.loc - calibration.scale * np.log(-np.log(1.0 - a))  # the rule before (gumbel-moments)
    out["gumbel-moments"] = {"threshold": float(plug_in), "guaranteed": a, **at_threshold(s, bad, plug_in)}
    return out


def _size_counts(px: np.ndarray, split: int) -> dict[str, int]:
    if not (px > 0).any():
        return {}
    return {
        f"small (<{split} px)": int(((px > 0) & (px < split)).sum()),
        f"large (>={split} px)": int((px >= split).sum()),
    }


def run_eval_anomaly(args: argparse.Namespace, config) -> int:
    from multimodal.inspect.backbone import create_backbone
    from multimodal.inspect.config import FitConfig, VerdictConfig

    data = load_anomaly_data(args.data, limit=args.limit)
    fit_config = FitConfig(
        image_size=args.size, bank=args.bank, coreset=args.coreset, dims=args.dims, false_alarm=args.false_alarm
    )
    spec = args.backbone or ("tiny" if config.tier == "tiny" else "lite")
    backbone = create_backbone(spec, offline=config.offline)
    if not args.quiet:
        print(f"sceneqa: {header_line()}", file=sys.stderr)
        print(f"sceneqa: inspect backbone {spec}: {backbone.info.description}", file=sys.stderr)
    options = EvalOptions(few_shot=args.few_shot, examples=args.examples, limits=config.image_limits)
    report = evaluate(data, backbone, fit_config, VerdictConfig(), options, args.out)
    print(format_summary(report))
    return 0


def evaluate(data, backbone, fit_config, verdict, options: EvalOptions, out: Path) -> dict:
    """Fit, score, and write the report into ``out``; returns the report dict."""
    t0 = time.perf_counter()
    inspector, few, fit_seconds = fit_split(data, backbone, fit_config, options)
    scored = score_test(data, inspector, few, verdict, options)
    threshold = inspector.state.calibration.threshold
    bad = np.array([t.defective for t in scored.items])
    report: dict = {
        "data": str(data.root),
        "machine": machine_info(),
        "fit_split": f"{data.root}/train/good ({len(data.train)} images)",
        "report_split": f"{data.root}/test ({len(data.test)} images)",
        "inspector": inspector.state.summary(),
        "fit_seconds": round(fit_seconds, 2),
        "inspect_time_per_image": summarize_times(scored.seconds_per_image, options.batch_size),
        **image_metrics(scored, threshold, options.size_split),
        "threshold_rules": threshold_rules(scored, inspector.state.calibration),
        "pixel_auroc": pixel_aurocs(scored.pixels) if data.has_masks else {},
        "roc": dict(zip(("fpr", "tpr"), (v.round(5).tolist() for v in roc_points(np.array(scored.scores), bad)))),
    }
    if few is not None:
        report["few_shot"] = {
            "good_images": few.state.report.images_used,
            "threshold_method": few.state.report.threshold_method,
            "image_auroc": auroc(np.array(scored.few_scores), bad),
            "pixel_auroc": pixel_aurocs(scored.few_pixels).get("all") if data.has_masks else None,
            "false_alarm_rate": float((np.array(scored.few_scores)[~bad] >= few.state.calibration.threshold).mean()),
        }
    out.mkdir(parents=True, exist_ok=True)
    report["examples"] = write_examples(out, inspector, scored, verdict, options.limits, options.examples)
    report["roc_plot"] = plot_roc(out, report)
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    write_json(out, report)
    write_markdown(out, f"Anomaly inspection: {data.root.name}", markdown_sections(report))
    return report


def plot_roc(out: Path, report: dict) -> str:
    matplotlib = require("matplotlib", purpose="the ROC plot")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(report["roc"]["fpr"], report["roc"]["tpr"], label=f"image AUROC {report['image_auroc']['all']:.3f}")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false-positive rate (good images)", ylabel="true-positive rate", title="image ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    plt.close(fig)
    return "roc.png"


def markdown_sections(r: dict) -> list[tuple[str, str]]:
    ins = r["inspector"]
    setup = (
        f"Fit split: {r['fit_split']}; report split: {r['report_split']}.\n\n"
        f"Backbone {ins['backbone']} ({ins['backbone_description']}), input {ins['input_size'][0]}x"
        f"{ins['input_size'][1]}, layers {ins['layers']}, bank {ins['bank']} of {ins['bank_size']:,} patches "
        f"({ins['bank_dims']} dims) from {ins['bank_images']} images. {ins['threshold_how']}; "
        f"{ins['threshold_method']}.\n\nFit {r['fit_seconds']} s (decoding excluded); inspect {_times(r)}."
    )
    aurocs = table(
        [(k, v, r["pixel_auroc"].get(k.split(" ")[0], float("nan"))) for k, v in r["image_auroc"].items()],
        ("group", "image AUROC", "pixel AUROC"),
    )
    at = r["at_threshold"]
    thr = (
        table([(k, v) for k, v in at.items()], ("at the threshold", "value"))
        + "\n\n"
        + table([(truth, *c.values()) for truth, c in r["verdicts"].items()], ("truth", "ok", "cannot tell", "defect"))
    )
    rules = table(
        [(k, v["threshold"], v["guaranteed"], v["false_alarms"], v["false_alarm_rate"], v["f1"])
         for k, v in r.get("threshold_rules", {}).items()],
        ("threshold rule (same held-back scores)", "threshold", "target", "false alarms", "rate", "F1"),
    )  # fmt: skip
    thr += "\n\n" + rules
    calib = table([(f">= {q}", v) for q, v in r["good_probability_at_least"].items()], ("good images with p", "share"))
    sections = [("Setup", setup), ("AUROC", aurocs), ("At the threshold", thr), ("Probability on good images", calib)]
    if "few_shot" in r:
        sections.append(("Few-shot", table([(k, v) for k, v in r["few_shot"].items()], ("few-shot", "value"))))
    sections.append(("Plots", "![ROC](roc.png)\n\n" + "\n".join(f"![{e}]({e})" for e in r["examples"])))
    return sections


def format_summary(r: dict) -> str:
    lines = [f"image AUROC {k}: {v:.4f}" for k, v in r["image_auroc"].items()]
    lines += [f"pixel AUROC {k}: {v:.4f}" for k, v in r["pixel_auroc"].items()]
    at = r["at_threshold"]
    lines.append(
        f"at threshold {r['inspector']['threshold']}: F1 {at['f1']:.3f}, false alarms {at['false_alarm_rate']:.3f} "
        f"({at['false_alarms']}/{r['counts']['good']} good)"
    )
    for k, v in r.get("threshold_rules", {}).items():
        lines.append(
            f"  rule {k}: threshold {v['threshold']:.4g} (target {v['guaranteed']:.3g}): false alarms "
            f"{v['false_alarms']}/{r['counts']['good']} = {v['false_alarm_rate']:.3f}, F1 {v['f1']:.3f}"
        )
    if "few_shot" in r:
        fs = r["few_shot"]
        lines.append(f"few-shot ({fs['good_images']} good images): image AUROC {fs['image_auroc']:.4f}")
    lines.append(f"bank {r['inspector']['bank_size']:,} patches; fit {r['fit_seconds']} s; inspect {_times(r)}")
    return "\n".join(lines)


def _times(r: dict) -> str:
    t = r["inspect_time_per_image"]
    return f"p50 {t['p50_ms']} ms / image, mean {t['mean_ms']} ms (batches of {t['batch']})" if t else "n/a"
