"""``sceneqa eval vqa``: answer accuracy, abstention, and latency of the ask pipeline on VQA data."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict

import numpy as np

from eval.machine import machine_info
from eval.metrics import vqa_accuracy
from eval.report import plot_latency, table, write_json, write_markdown
from eval.vqa_data import load_vqa


def run_vqa_eval(args: argparse.Namespace, config) -> int:
    from tqdm import tqdm

    from multimodal.ask import AskRequest, ask
    from multimodal.cli import announce
    from multimodal.errors import SceneQAError
    from multimodal.questions import parse_question
    from multimodal.services import build_services

    items, problems = load_vqa(args.data, args.limit, args.split)
    for p in problems:
        print(f"sceneqa: skipped {p}", file=sys.stderr)
    services = build_services(config)
    announce(services, args.quiet)
    scores, answered, latencies, failures = [], [], [], []
    by_kind: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for item in tqdm(items, unit="q", file=sys.stderr, disable=None):
        t0 = time.perf_counter()
        try:
            a = ask(services, AskRequest(item.question, (item.path,), (str(item.path),))).answer
        except SceneQAError as exc:
            failures.append(f"{item.path}: {exc}")
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
        s = 0.0 if a.abstained else vqa_accuracy(a.text, item.answers)
        scores.append(s)
        answered.append(not a.abstained)
        by_kind[parse_question(item.question).kind].append((s, not a.abstained))
    n = len(scores)
    acc = float(np.mean(scores)) if n else float("nan")
    ans = np.array(answered, bool)
    m = {
        "n": n,
        "accuracy": acc,
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
            for k, v in sorted(by_kind.items())
        },
        "failures": failures[:100],
    }
    report = {
        "task": "vqa",
        "data": args.data,
        "split": args.split,
        "tier": services.tier.tier,
        "models": services.models(),
        "machine": machine_info(),
        "skipped_rows": problems,
        **m,
    }
    write_json(args.out, report)
    plot = plot_latency(args.out, latencies, "ask latency")
    kinds = table(
        [(k, v["n"], v["accuracy"], v["answered"]) for k, v in m["by_question_kind"].items()],
        ("question kind", "n", "accuracy", "answered"),
    )
    write_markdown(
        args.out,
        f"VQA: {args.data}",
        [
            (
                "Summary",
                table(
                    [(n, acc, m["abstention_rate"], m["accuracy_answered"], m["latency_ms_p50"])],
                    ("questions", "accuracy", "abstained", "accuracy when answering", "p50 ms"),
                ),
            ),
            ("By question kind", kinds),
            ("Models", ", ".join(f"{k}: {v}" for k, v in services.models().items())),
            ("Plots", f"![latency]({plot.name})"),
        ],
    )
    print(
        f"vqa {args.data}: {n} questions, accuracy {acc:.3f}, abstained {m['abstention_rate']:.3f}, accuracy when "
        f"answering {m['accuracy_answered']:.3f}, p50 {m['latency_ms_p50']:.1f} ms; report in {args.out}/"
    )
    for k, v in m["by_question_kind"].items():
        print(f"  {k:9s} n={v['n']:5d} accuracy {v['accuracy']:.3f} answered {v['answered']:.3f}")
    return 0
