"""``sceneqa eval vqa``: answer accuracy, abstention, and latency of the ask pipeline on VQA data."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.machine import machine_info
from eval.metrics import vqa_accuracy
from eval.report import plot_latency, table, write_json, write_markdown
from eval.requires import require
from eval.vqa_data import VqaItem, load_vqa


@dataclass(frozen=True)
class VqaData:
    """The questions of one data set (``data``: ``easy-vqa`` or a JSONL path) and the rows skipped reading it."""

    data: str
    split: str
    items: list[VqaItem]
    problems: list[str]


@dataclass
class _Answers:
    """What the ask pipeline did with each question, in order."""

    scores: list[float]
    answered: list[bool]
    latencies: list[float]
    failures: list[str]
    by_kind: dict[str, list[tuple[float, bool]]]


def load_data(data: str = "easy-vqa", limit: int | None = None, split: str = "test") -> VqaData:
    """The questions of ``data``; each skipped row is reported on stderr. Called before any model loads, so
    bad data or a missing package fails fast."""
    require("matplotlib", purpose="the report's plots")
    items, problems = load_vqa(data, limit, split)
    for p in problems:
        print(f"sceneqa: skipped {p}", file=sys.stderr)
    return VqaData(data, split, items, problems)


def run_vqa_eval(services, questions: VqaData, *, out: Path = Path("reports/vqa")) -> int:
    """Answer every question of ``questions`` (from :func:`load_data`) with ``services``; writes report.json,
    report.md and a latency plot into ``out`` and prints the summary."""
    answers = _answer_all(services, questions.items)
    m = _metrics(answers)
    report = {
        "task": "vqa",
        "data": questions.data,
        "split": questions.split,
        "tier": services.tier.tier,
        "models": services.models(),
        "machine": machine_info(),
        "skipped_rows": questions.problems,
        **m,
    }
    write_json(out, report)
    _write_markdown(out, questions.data, m, answers.latencies, services.models())
    print(
        f"vqa {questions.data}: {m['n']} questions, accuracy {m['accuracy']:.3f}, abstained "
        f"{m['abstention_rate']:.3f}, accuracy when answering {m['accuracy_answered']:.3f}, p50 "
        f"{m['latency_ms_p50']:.1f} ms; report in {out}/"
    )
    for k, v in m["by_question_kind"].items():
        print(f"  {k:9s} n={v['n']:5d} accuracy {v['accuracy']:.3f} answered {v['answered']:.3f}")
    return 0


def _answer_all(services, items: list[VqaItem]) -> _Answers:
    from tqdm import tqdm

    from multimodal.ask import AskRequest, ask
    from multimodal.errors import SceneQAError
    from multimodal.questions import parse_question

    done = _Answers([], [], [], [], defaultdict(list))
    for item in tqdm(items, unit="q", file=sys.stderr, disable=None):
        t0 = time.perf_counter()
        try:
            a = ask(services, AskRequest(item.question, (item.path,), (str(item.path),))).answer
        except SceneQAError as exc:
            done.failures.append(f"{item.path}: {exc}")
            continue
        done.latencies.append((time.perf_counter() - t0) * 1000)
        s = 0.0 if a.abstained else vqa_accuracy(a.text, item.answers)
        done.scores.append(s)
        done.answered.append(not a.abstained)
        done.by_kind[parse_question(item.question).kind].append((s, not a.abstained))
    return done


def _metrics(done: _Answers) -> dict:
    scores, latencies = done.scores, done.latencies
    n = len(scores)
    ans = np.array(done.answered, bool)
    return {
        "n": n,
        "accuracy": float(np.mean(scores)) if n else float("nan"),
        "abstention_rate": float(1 - ans.mean()) if n else float("nan"),
        "accuracy_answered": float(np.mean(np.array(scores)[ans])) if ans.any() else float("nan"),
        "latency_ms_p50": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "latency_ms_p99": float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "by_question_kind": {
            k: {
                "n": len(v),
                "accuracy": float(np.mean([s for s, _ in v])),
                "answered": float(np.mean([a for _, a in v])),
            }
            for k, v in sorted(done.by_kind.items())
        },
        "failures": done.failures[:100],
    }


def _write_markdown(out: Path, data: str, m: dict, latencies: list[float], models: dict[str, str]) -> None:
    plot = plot_latency(out, latencies, "ask latency")
    kinds = table(
        [(k, v["n"], v["accuracy"], v["answered"]) for k, v in m["by_question_kind"].items()],
        ("question kind", "n", "accuracy", "answered"),
    )
    summary = table(
        [(m["n"], m["accuracy"], m["abstention_rate"], m["accuracy_answered"], m["latency_ms_p50"])],
        ("questions", "accuracy", "abstained", "accuracy when answering", "p50 ms"),
    )
    write_markdown(
        out,
        f"VQA: {data}",
        [
            ("Summary", summary),
            ("By question kind", kinds),
            ("Models", ", ".join(f"{k}: {v}" for k, v in models.items())),
            ("Plots", f"![latency]({plot.name})"),
        ],
    )
