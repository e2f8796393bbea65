"""``sceneqa eval vqa``: accuracy, coverage, calibration and latency of the ask pipeline on VQA data (the
figures themselves: :mod:`eval.vqa_report`)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.machine import machine_info
from eval.metrics import vqa_accuracy
from eval.report import table, write_json
from eval.requires import require
from eval.vqa_data import VqaItem, load_vqa
from eval.vqa_report import (
    ECE_BINS,
    SUMMARY_HEADER,
    Prediction,
    by_kind,
    summarise,
    summary_rows,
    threshold_table,
    write_predictions,
    write_vqa_markdown,
)


@dataclass(frozen=True)
class VqaData:
    """The questions of one data set (``data``: ``easy-vqa``, a JSONL path or a folder), the split read (``all``:
    every line) and the rows skipped reading it."""

    data: str
    split: str
    items: list[VqaItem]
    problems: list[str]


def load_data(data: str = "easy-vqa", limit: int | None = None, split: str | None = None) -> VqaData:
    """The questions of ``data``; each skipped row is reported on stderr. Called before any model loads, so
    bad data or a missing package fails fast."""
    require("matplotlib", purpose="the report's plots")
    items, problems = load_vqa(data, limit, split)
    for p in problems:
        print(f"sceneqa: skipped {p}", file=sys.stderr)
    return VqaData(data, split or ("test" if data == "easy-vqa" else "all"), items, problems)


def run_vqa_eval(
    services, questions: VqaData, *, out: Path = Path("reports/vqa"), fit_calibration: Path | None = None
) -> int:
    """Answer every question of ``questions`` (from :func:`load_data`) with ``services``; writes report.json,
    report.md, predictions.jsonl and plots into ``out`` and prints the summary. Per question kind and overall:
    accuracy, coverage, accuracy when answering, ECE of the answered confidences, the risk-coverage curve. A
    question the pipeline fails on counts as not answered (its error is in predictions.jsonl).

    ``fit_calibration``: also fit the lite confidence calibration on these predictions (the services should
    answer without abstention and without calibration) and write it there (:mod:`eval.vqa_calibrate`)."""
    preds, latencies = _answer_all(services, questions.items)
    overall, kinds = summarise(preds), by_kind(preds)
    report = {
        "task": "vqa",
        "data": questions.data,
        "split": questions.split,
        "tier": services.tier.tier,
        "models": services.models(),
        "machine": machine_info(),
        "skipped_rows": questions.problems,
        **overall,
        "ece_bins": ECE_BINS,
        "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "latency_ms_p99": float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "by_kind": kinds,
        "failures": [f"{p.path}: {p.error}" for p in preds if p.error][:100],
    }
    write_json(out, report)
    write_predictions(out, preds)
    write_vqa_markdown(out, f"{questions.data} ({questions.split})", preds, latencies, services.models())
    _print_summary(questions, report, out)
    if fit_calibration is not None:
        _write_calibration(fit_calibration, preds, questions, services.models())
    return 0


def _write_calibration(path: Path, preds: list[Prediction], questions: VqaData, models: dict[str, str]) -> None:
    from eval.vqa_calibrate import fit_from_predictions

    cal = fit_from_predictions(preds, questions.data, questions.split, models)
    cal.save(path)
    counts = cal.provenance["counts"]
    fitted = ", ".join(f"{k} ({counts[k]})" for k in cal.maps) or "none"
    fitted += "; presence models: " + (", ".join(f"{k} ({m.n})" for k, m in cal.models.items()) or "none")
    unfitted = ", ".join(f"{k} ({counts[k]})" for k in cal.provenance["unfitted"]) or "none"
    print(
        f"calibration fitted on {questions.data} ({questions.split}) -> {path}: maps for {fitted}; no map: {unfitted}"
    )


def _print_summary(questions: VqaData, report: dict, out: Path) -> None:
    print(
        f"vqa {questions.data} ({questions.split}): {report['n']} questions, accuracy {report['accuracy']:.3f}, "
        f"coverage {report['coverage']:.3f}, accuracy when answering {report['accuracy_answered']:.3f}, "
        f"ECE (answered) {report['ece_answered']:.3f}, p50 {report['latency_ms_p50']:.1f} ms; report in {out}/"
    )
    print(table(summary_rows(report, report["by_kind"]), SUMMARY_HEADER))
    print("risk-coverage (coverage / accuracy when answering):")
    print(threshold_table(report, report["by_kind"]))


def _answer_all(services, items: list[VqaItem]) -> tuple[list[Prediction], list[float]]:
    from tqdm import tqdm

    from multimodal.ask.pipeline import AskRequest, ask
    from multimodal.ask.questions import parse_question
    from multimodal.errors import SceneQAError

    preds, latencies = [], []
    for item in tqdm(items, unit="q", file=sys.stderr, disable=None):
        t0 = time.perf_counter()
        try:
            a = ask(services, AskRequest(item.question, (item.path,), (str(item.path),))).answer
        except SceneQAError as exc:
            preds.append(_failed(item, str(exc)))
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        preds.append(_prediction(item, item.kind or parse_question(item.question).kind, a))
    return preds, latencies


def _prediction(item: VqaItem, kind: str, a) -> Prediction:
    """``a``: the pipeline's Answer to ``item``."""
    score = 0.0 if a.abstained else vqa_accuracy(a.text, item.answers)
    citations = tuple(c.as_dict() for c in a.citations)
    return Prediction(
        str(item.path),
        item.question,
        kind,
        item.category,
        item.answers,
        a.text,
        float(a.confidence),
        a.abstained,
        score,
        citations,
        route=a.route,
        signals={k: round(float(v), 6) for k, v in a.signals.items()},
    )


def _failed(item: VqaItem, error: str) -> Prediction:
    """A question the pipeline raised on: not answered, its error kept (kind "error" where the data gives none)."""
    return Prediction(
        str(item.path),
        item.question,
        item.kind or "error",
        item.category,
        item.answers,
        "",
        0.0,
        True,
        0.0,
        error=error,
    )
