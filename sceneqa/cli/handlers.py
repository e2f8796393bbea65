"""One table from ``eval`` / ``bench`` subcommand to the function that runs it, imported on first call.

Each target is ``"module:function"`` taking ``(args, config)``; resolving it only when the command runs keeps
``sceneqa --help`` and every other command from importing evaluation code (numpy-heavy, plotting, datasets).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from multimodal.services import ServiceConfig

Handler = Callable[[argparse.Namespace, ServiceConfig], int]

HANDLERS: dict[str, str] = {
    "eval zeroshot": "sceneqa.cli.eval_run:run_zeroshot",
    "eval retrieval": "sceneqa.cli.eval_run:run_retrieval",
    "eval vqa": "sceneqa.cli.eval_run:run_vqa",
    "eval ask-suite": "sceneqa.cli.eval_run:run_ask_suite",
    "eval fewshot": "sceneqa.cli.eval_run:run_fewshot",
    "eval anomaly": "eval.anomaly_report:run_eval_anomaly",
    "bench inspect": "eval.bench_inspect:run_bench_inspect",
    "bench teach": "eval.bench_teach:run_bench_teach",
    "bench embed": "eval.bench_embed:run_bench_embed",
    "bench ingest": "eval.bench_ingest:run_bench_ingest",
    "bench fuzz": "eval.fuzz_images:run_bench_fuzz",
    "bench crash": "eval.bench_crash:run_bench_crash",
    "bench shards": "eval.bench_shards:run_bench_shards",
    "bench serve": "eval.bench_serve:run_bench_serve",
    "bench ask": "eval.bench_ask:run_bench_ask",
    "bench search": "eval.bench_search:run_bench_search",
}


def lazy_handler(command: str) -> Handler:
    """The handler of ``command`` (a key of :data:`HANDLERS`); its module is imported when it first runs."""
    module, _, function = HANDLERS[command].partition(":")

    def run(args: argparse.Namespace, config: ServiceConfig) -> int:
        return getattr(importlib.import_module(module), function)(args, config)

    run.__qualname__ = run.__name__ = f"{module}.{function}"
    return run
