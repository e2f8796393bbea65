"""``sceneqa bench serve``: a bounded load test of a real ``sceneqa serve`` on loopback, before and after
batching, at several client counts, with the bars of issue 18 and a deadline scenario, in one run.

1. The sweep: one server with ``--max-batch 1`` (no batching: one image or text per forward pass, the old
   behaviour), then one with the default ``--max-batch``; each is started once, warmed up at the largest client
   count for ``--warmup`` s, then loaded at each of ``--clients`` (1 4 16 64) in turn for ``--seconds`` s (the
   batched server's largest count for ``--soak-seconds``: the 64 clients x 60 s bar). Per cell: throughput,
   p50/p95/p99 per route, errors (503s, the deliberate refusals of a full queue, apart), mean image and text
   batch (from ``/metrics``, over the cell), ``/healthz`` p99 (a separate process polls it every 100 ms), and
   the server's RSS through the cell. The mix (``--mix``) is classify and search by default: the routes of the
   batching workers, on which the bars are defined.
2. The bar lines (16 clients: >= 3x unbatched throughput, p99 <= unbatched; the most clients: 0 errors but
   503s, ``/healthz`` p99 <= 50 ms, RSS growth < 10%).
3. The deadline scenario (:mod:`eval.bench_serve_deadline`, ``--deadline-seconds 0`` skips it).
4. The batching ceiling (:mod:`eval.bench_serve_ceiling`): model time per classify and search request alone and
   in a full pass, measured in this process once the servers have stopped (when the mix has both routes).

Traffic goes only to 127.0.0.1; every loop stops by itself. Exits 1 on any error other than a 503 (a 504 in
the deadline scenario is the point of it, not an error).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from eval.bench_serve_ceiling import measure_ceiling
from eval.bench_serve_deadline import deadline_lines, run_deadline
from eval.bench_serve_load import load, load_cell, payloads, scrape
from eval.bench_serve_report import (
    bar_lines,
    bars,
    ceiling_lines,
    mean_batches,
    speedup_lines,
    summarize_cell,
    sweep_table,
)
from eval.machine import header_line, machine_info
from eval.rss import rss_mb
from eval.server_process import running_server
from multimodal.errors import ConfigError

ROUTES = ("search", "classify", "ask")


@dataclass(frozen=True)
class ServePlan:
    """What one ``bench serve`` run does (see the module docstring); ``--quick`` is a seconds-long version."""

    clients: tuple[int, ...] = (1, 4, 16, 64)
    seconds: float = 20.0
    soak_seconds: float = 60.0
    warmup: float = 10.0
    mix: tuple[str, ...] = ("classify", "search")
    deadline_timeout: float = 1.0
    deadline_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.clients or min(self.clients) < 1:
            raise ConfigError(f"--clients needs counts >= 1, got {list(self.clients)}")
        unknown = [k for k in self.mix if k not in ROUTES]
        if unknown or not self.mix:
            raise ConfigError(f"--mix {','.join(self.mix)}: unknown or no route; use some of {','.join(ROUTES)}")
        if self.seconds <= 0 or self.warmup < 0 or self.soak_seconds < 0 or self.deadline_seconds < 0:
            raise ConfigError("--seconds must be > 0; --warmup, --soak-seconds, --deadline-seconds >= 0")
        if self.deadline_timeout <= 0:
            raise ConfigError(f"--deadline-timeout must be > 0 s, got {self.deadline_timeout:g}")

    def cell_seconds(self, batched: bool, clients: int) -> float:
        """The batched server's largest client count runs the soak; every other cell ``seconds``."""
        soak = batched and clients == max(self.clients) and self.soak_seconds > 0
        return max(self.seconds, self.soak_seconds) if soak else self.seconds

    def estimate_s(self, start_s: float = 30.0) -> float:
        """A rough upper bound of the run's length (servers starting, warm-ups, cells, the deadline part)."""
        cells = sum(self.cell_seconds(b, n) for b in (False, True) for n in self.clients)
        deadline = start_s + self.deadline_seconds + 15 if self.deadline_seconds else 0
        return 2 * (start_s + self.warmup) + cells + deadline


def plan_from_args(args: argparse.Namespace) -> ServePlan:
    """The plan of the CLI's options; ``--quick`` replaces the durations and client counts (not the mix)."""
    mix = tuple(k.strip() for k in str(getattr(args, "mix", "classify,search")).split(",") if k.strip())
    if getattr(args, "quick", False):
        return ServePlan(clients=(1, 4), seconds=2.0, soak_seconds=0.0, warmup=1.0, mix=mix, deadline_seconds=2.0)
    clients = getattr(args, "clients", None) or ServePlan.clients
    return ServePlan(
        clients=tuple(sorted(set(int(c) for c in clients))),
        seconds=args.seconds,
        soak_seconds=getattr(args, "soak_seconds", 60.0),
        warmup=args.warmup,
        mix=mix,
        deadline_timeout=getattr(args, "deadline_timeout", 1.0),
        deadline_seconds=getattr(args, "deadline_seconds", 10.0),
    )


def sweep_server(plan: ServePlan, global_args: list[str], index: Path, max_batch: int, batched: bool) -> dict:
    """Start one server, warm it up at the most clients, load it at each client count; its cells."""
    mix = payloads(plan.mix)
    cells = []
    with running_server(global_args, index, "--max-batch", str(max_batch)) as (url, proc):
        idle = rss_mb(proc.pid)
        warm = asyncio.run(load(url, max(plan.clients), plan.warmup, mix)) if plan.warmup else None
        warmed = rss_mb(proc.pid)
        for n in plan.clients:
            before, rss_start = scrape(url), rss_mb(proc.pid)
            out, wall, samples, poller = asyncio.run(load_cell(url, proc.pid, n, plan.cell_seconds(batched, n), mix))
            extra = {
                "batches": mean_batches(before, scrape(url)),
                "health_ms": poller.latencies_ms,
                "health_failed": poller.failed,
                "rss_start_mb": rss_start,
                "rss_end_mb": rss_mb(proc.pid),
                "rss_samples": samples,
            }
            cells.append(summarize_cell(max_batch, n, wall, out, extra))
        end = rss_mb(proc.pid)
    warm_errors = 0 if warm is None else sum(sum(warm[k].values()) for k in ("errors", "timeouts"))
    return {
        "max_batch": max_batch,
        "cells": cells,
        "warmup_errors": warm_errors,
        "rss_idle_mb": idle,
        "rss_before_mb": warmed,
        "rss_after_mb": end,
    }


def run_bench_serve(args: argparse.Namespace, config) -> int:
    from multimodal.engine.config import DEFAULT_MAX_BATCH
    from multimodal.tiers import TIERS

    plan = plan_from_args(args)
    global_args = ["--tier", args.tier if args.tier in TIERS else "lite", "-q"]
    if config.cache_dir:
        global_args += ["--cache-dir", str(config.cache_dir)]
    if getattr(config, "offline", False):
        global_args.append("--offline")
    print(header_line())
    batches = tuple(getattr(args, "compare_batches", None) or (1, DEFAULT_MAX_BATCH))
    print(
        f"plan: --max-batch {' and '.join(map(str, batches))}, one server each, at {' '.join(map(str, plan.clients))}"
        f" clients, {plan.seconds:g} s per cell (the last batched cell {plan.cell_seconds(True, max(plan.clients)):g}"
        f" s) after a {plan.warmup:g} s warm-up; mix {'+'.join(plan.mix)}; tier {args.tier}, loopback; "
        f"about {plan.estimate_s() / 60:.0f} min",
        flush=True,
    )
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "idx"
        runs = [sweep_server(plan, global_args, index, b, b != batches[0]) for b in batches]
        deadline = None
        if plan.deadline_seconds:
            deadline = run_deadline(
                global_args,
                index,
                timeout_s=plan.deadline_timeout,
                clients=max(plan.clients),
                seconds=plan.deadline_seconds,
                warmup=plan.warmup,
            )
    ceiling = None
    if {"classify", "search"} <= set(plan.mix):
        tier = args.tier if args.tier in TIERS else "lite"
        ceiling = measure_ceiling(dataclasses.replace(config, tier=tier), batches[-1])
    cells = [c for r in runs for c in r["cells"]]
    bar = bars(cells, batches[0], batches[-1], plan.mix)
    print_report(runs, cells, bar, deadline, plan)
    if ceiling is not None:
        print("\n".join(ceiling_lines(ceiling)))
    print(f"bench serve took {time.monotonic() - t0:.0f} s")
    if args.json:
        print(json.dumps(_nan_as_none(json_report(plan, runs, cells, bar, deadline) | {"ceiling": ceiling})))
    failed = any(c["errors"] for c in cells) or any(r["warmup_errors"] for r in runs)
    return 1 if failed or (deadline is not None and deadline["errors"]) else 0


def print_report(runs: list[dict], cells: list[dict], bar: dict, deadline: dict | None, plan: ServePlan) -> None:
    print("\n".join(sweep_table(cells, plan.mix)))
    print("\n".join(speedup_lines(cells, runs[0]["max_batch"], runs[-1]["max_batch"])))
    for r in runs:
        print(
            f"max-batch {r['max_batch']}: server RSS {r['rss_idle_mb']:.0f} MB idle, {r['rss_before_mb']:.0f} MB after "
            f"the warm-up, {r['rss_after_mb']:.0f} MB after the last cell; {r['warmup_errors']} warm-up errors"
        )
    for c in cells:
        if c["errors"]:
            print(f"errors at max-batch {c['max_batch']}, {c['clients']} clients: {c['other_statuses']}")
    print("\n".join(bar_lines(bar)))
    if deadline is not None:
        print("\n".join(deadline_lines(deadline, deadline["clients"], deadline["seconds"])))


def json_report(plan: ServePlan, runs: list[dict], cells: list[dict], bar: dict, deadline: dict | None) -> dict:
    """The whole run; at the top level too, the batched server's largest cell (the report's keys before the
    sweep: ``requests_per_s``, ``errors``, ``endpoints``, ``rss_*_mb``)."""
    last_run = runs[-1]
    last = last_run["cells"][-1]
    report = {
        "machine": machine_info(),
        "clients": list(plan.clients),
        "seconds": plan.seconds,
        "mix": list(plan.mix),
        "runs": [{k: v for k, v in r.items() if k != "cells"} for r in runs],
        "cells": cells,
        "bars": bar,
        "deadline": deadline,
    }
    report |= {"requests_per_s": last["requests_per_s"], "errors": last["errors"], "endpoints": last["routes"]}
    return report | {k: last_run[k] for k in ("rss_idle_mb", "rss_before_mb", "rss_after_mb")}


def _nan_as_none(x):
    """``x`` with every NaN float as None (strict JSON has no NaN)."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _nan_as_none(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_nan_as_none(v) for v in x]
    return x
