"""The figures of ``sceneqa eval vqa`` from its per-question predictions, per question kind and overall, and the
files they are written to (``report.md``, ``predictions.jsonl``, plots); pure functions of plain data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from eval.metrics import coverage_curve, expected_calibration_error, reliability, risk_coverage
from eval.report import plot_coverage_curves, plot_latency, plot_reliability, table, write_markdown

ECE_BINS = 10  # equal-width confidence bins over [0, 1]
TABLE_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # the printed rows of the risk-coverage curve
OVERALL = "overall"
NEGATIVE = ("no", "0")  # answers that claim an absence
NEGATIVE_AT = 0.5


@dataclass(frozen=True)
class Prediction:
    """What the pipeline did with one question. ``score`` is its VQA accuracy in [0, 1] (0 when abstained);
    ``error`` the message of a pipeline error (then ``abstained`` is True: the question was not answered)."""

    path: str
    question: str
    kind: str
    category: str
    reference: tuple[str, ...]
    answer: str
    confidence: float
    abstained: bool
    score: float
    citations: tuple[dict[str, object], ...] = ()
    error: str = ""
    route: str = ""  # lite: the calibration key of the route that drafted the answer ("" for other answerers)
    signals: dict[str, float] = field(default_factory=dict)  # lite: what the route measured (presence models)


def summarise(preds: list[Prediction]) -> dict[str, object]:
    """Figures of ``preds``: ``n``; ``accuracy`` (abstentions count as wrong); ``coverage`` (share answered);
    ``accuracy_answered``; ``ece_answered`` (expected calibration error of the answered items' confidence,
    :data:`ECE_BINS` equal-width bins); ``risk_coverage`` (:func:`eval.metrics.risk_coverage`) and
    ``at_thresholds`` (the same curve read at :data:`TABLE_THRESHOLDS`); ``negative_n`` and
    ``negative_precision``: the answers "no" or "0" given at confidence >= :data:`NEGATIVE_AT` and the share of
    them that were right (issue 14's bar: >= 0.9). NaN where undefined."""
    conf = np.array([p.confidence for p in preds], np.float64)
    score = np.array([p.score for p in preds], np.float64)
    answered = np.array([not p.abstained for p in preds], bool)
    n = len(preds)
    return {
        "n": n,
        "answered": int(answered.sum()),
        "accuracy": float(score.mean()) if n else float("nan"),
        "coverage": float(answered.mean()) if n else float("nan"),
        "accuracy_answered": float(score[answered].mean()) if answered.any() else float("nan"),
        "ece_answered": expected_calibration_error(conf[answered], score[answered], ECE_BINS),
        "risk_coverage": risk_coverage(conf, score, answered),
        "at_thresholds": coverage_curve(np.where(answered, conf, -np.inf), score, np.array(TABLE_THRESHOLDS)),
        **_negatives(preds),
    }


def _negatives(preds: list[Prediction]) -> dict[str, object]:
    neg = [p.score for p in preds if not p.abstained and p.confidence >= NEGATIVE_AT and p.answer in NEGATIVE]
    return {"negative_n": len(neg), "negative_precision": float(np.mean(neg)) if neg else float("nan")}


def by_kind(preds: list[Prediction]) -> dict[str, dict[str, object]]:
    """:func:`summarise` of each question kind, in name order."""
    kinds = sorted({p.kind for p in preds})
    return {k: summarise([p for p in preds if p.kind == k]) for k in kinds}


def write_predictions(out: Path, preds: list[Prediction]) -> Path:
    """``predictions.jsonl``: one JSON object per question, in the order asked."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "predictions.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for p in preds:
            row = asdict(p)
            row["reference"] = list(p.reference)
            row["citations"] = list(p.citations)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def summary_rows(overall: dict, kinds: dict[str, dict]) -> list[tuple]:
    """One row per kind and one overall: kind, n, accuracy, coverage, accuracy when answering, ECE."""
    named = [*kinds.items(), (OVERALL, overall)]
    return [
        (k, v["n"], v["accuracy"], v["coverage"], v["accuracy_answered"], v["ece_answered"], _neg_cell(v))
        for k, v in named
    ]


def _neg_cell(v: dict) -> str:
    n, p = v["negative_n"], v["negative_precision"]
    return f"{p:.3f} of {n}" if n else "none"


SUMMARY_HEADER = (
    "kind",
    "n",
    "accuracy",
    "coverage",
    "accuracy when answering",
    "ECE (answered)",
    'precision of "no"/"0" at >= 0.5',
)


def threshold_table(overall: dict, kinds: dict[str, dict]) -> str:
    """The risk-coverage curve at :data:`TABLE_THRESHOLDS`: per kind, ``coverage / accuracy when answering``."""
    named = [*kinds.items(), (OVERALL, overall)]
    rows = []
    for i, t in enumerate(TABLE_THRESHOLDS):
        cells = []
        for _, v in named:
            cov, acc = v["at_thresholds"]["coverage"][i], v["at_thresholds"]["accuracy"][i]
            cells.append(f"{cov:.2f} / " + ("n/a" if np.isnan(acc) else f"{acc:.3f}"))
        rows.append((f"confidence >= {t:g}", *cells))
    return table(rows, ("answer when", *(k for k, _ in named)))


def write_vqa_markdown(
    out: Path, title: str, preds: list[Prediction], latencies: list[float], models: dict[str, str]
) -> Path:
    """``report.md`` with the summary, the risk-coverage table, and its plots (``risk_coverage.png``,
    ``reliability.png`` of the answered items overall, ``latency.png``)."""
    overall, kinds = summarise(preds), by_kind(preds)
    curves = {k: v["risk_coverage"] for k, v in kinds.items()}
    curves[OVERALL] = overall["risk_coverage"]
    rc = plot_coverage_curves(out, curves, "risk-coverage (confidence sweep)", "risk_coverage.png")
    answered = [p for p in preds if not p.abstained]
    rel = reliability(
        np.array([p.confidence for p in answered], np.float64), np.array([p.score for p in answered], np.float64)
    )
    rl = plot_reliability(out, rel, "answered items")
    lat = plot_latency(out, latencies, "ask latency")
    return write_markdown(
        out,
        f"VQA: {title}",
        [
            ("Summary", table(summary_rows(overall, kinds), SUMMARY_HEADER)),
            ("Risk-coverage (coverage / accuracy when answering)", threshold_table(overall, kinds)),
            ("Models", ", ".join(f"{k}: {v}" for k, v in models.items())),
            ("Plots", f"![risk-coverage]({rc.name}) ![reliability]({rl.name}) ![latency]({lat.name})"),
        ],
    )
