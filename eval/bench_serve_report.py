"""Pure figures of ``sceneqa bench serve``: what one load cell measured, the sweep table, the issue-18 bar
lines and the deadline scenario's lines. Plain data in, dicts and lines of text out; no server, no clock
(``tests/test_bench_serve_report.py`` checks them on hand-made numbers)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

#: the bars of issue 18 (README "sceneqa serve")
BAR_SPEEDUP = 3.0
BAR_HEALTH_P99_MS = 50.0
BAR_RSS_GROWTH_PCT = 10.0
BAR_MIX = ("classify", "search")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def percentiles(values: Sequence[float]) -> tuple[float, float, float]:
    """``(p50, p95, p99)`` of ``values`` (ms); NaN each when empty."""
    if not len(values):
        return (math.nan, math.nan, math.nan)
    return tuple(float(np.percentile(values, q)) for q in (50, 95, 99))  # type: ignore[return-value]


def parse_metrics(text: str) -> dict[str, float]:
    """Samples of a Prometheus text exposition, keyed ``name{labels}`` as written (``name`` alone without
    labels); comments and unparsable lines are skipped."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = _SAMPLE.match(line.strip())
        if m:
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                continue
    return out


def metric(samples: dict[str, float], name: str, worker: str | None = None) -> float:
    """Sum of the samples of ``name`` (all label sets, or those with ``worker="..."``); 0 when none."""
    total = 0.0
    for key, value in samples.items():
        base, _, labels = key.partition("{")
        if base != name:
            continue
        if worker is None or f'worker="{worker}"' in labels:
            total += value
    return total


def mean_batches(before: dict[str, float], after: dict[str, float], workers=("image", "text")) -> dict[str, float]:
    """Mean items per forward pass of each worker between two scrapes (workers with no batch left out)."""
    out = {}
    for w in workers:
        n = metric(after, "sceneqa_batch_size_count", w) - metric(before, "sceneqa_batch_size_count", w)
        if n > 0:
            out[w] = (metric(after, "sceneqa_batch_size_sum", w) - metric(before, "sceneqa_batch_size_sum", w)) / n
    return out


def growth_pct(before: float, after: float) -> float:
    return (after - before) / before * 100 if before and not math.isnan(before) else math.nan


def summarize_cell(max_batch: int, clients: int, wall_s: float, out: dict, extra: dict) -> dict:
    """One cell of the sweep from the load's ``out`` (``latencies``/``errors``/``busy``/``timeouts`` per route)
    and ``extra`` (``health_ms``, ``health_failed``, ``batches``, ``rss_start_mb``, ``rss_end_mb``,
    ``rss_samples``). A 504 counts as an error here (the sweep's server has the default, long timeout)."""
    routes = {}
    for kind, lat in out["latencies"].items():
        p50, p95, p99 = percentiles(lat)
        errors = out["errors"][kind] + out.get("timeouts", {}).get(kind, 0)
        routes[kind] = {"ok": len(lat), "errors": errors, "busy_503": out["busy"][kind]}
        routes[kind] |= {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99}
    pooled = [x for lat in out["latencies"].values() for x in lat]
    health = extra.get("health_ms", [])
    rss = [mb for _, mb in extra.get("rss_samples", [])]
    ok = len(pooled)
    return {
        "max_batch": max_batch,
        "clients": clients,
        "seconds": wall_s,
        "requests_per_s": ok / wall_s if wall_s > 0 else math.nan,
        "ok": ok,
        "errors": sum(r["errors"] for r in routes.values()),
        "busy_503": sum(r["busy_503"] for r in routes.values()),
        "p99_ms": percentiles(pooled)[2],
        "routes": routes,
        "other_statuses": out.get("other_statuses", {}),
        "mean_batch": extra.get("batches", {}),
        "health_polls": len(health) + extra.get("health_failed", 0),
        "health_failed": extra.get("health_failed", 0),
        "health_p99_ms": percentiles(health)[2],
        "health_max_ms": max(health) if health else math.nan,
        "rss_start_mb": extra.get("rss_start_mb", math.nan),
        "rss_end_mb": extra.get("rss_end_mb", math.nan),
        "rss_peak_mb": max(rss) if rss else math.nan,
        "rss_growth_pct": growth_pct(extra.get("rss_start_mb", math.nan), extra.get("rss_end_mb", math.nan)),
    }


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.0f}"


def sweep_table(cells: list[dict], kinds: Sequence[str]) -> list[str]:
    """One row per (max-batch, clients) cell: req/s, p50/p95/p99 ms per route, errors, 503s, mean image/text
    batch, /healthz p99 ms, server RSS at the cell's end (and its growth through the cell)."""
    head = f"{'max-batch':>9s} {'clients':>7s} {'req/s':>7s}" + "".join(f" {k + ' p50/95/99 ms':>22s}" for k in kinds)
    head += f" {'errors':>6s} {'503s':>5s} {'batch img/txt':>13s} {'healthz p99':>11s} {'RSS MB':>15s}"
    lines = [head]
    for c in cells:
        row = f"{c['max_batch']:>9d} {c['clients']:>7d} {c['requests_per_s']:>7.2f}"
        for k in kinds:
            r = c["routes"].get(k)
            cell = "-" if r is None else f"{_ms(r['p50_ms'])}/{_ms(r['p95_ms'])}/{_ms(r['p99_ms'])}"
            row += f" {cell:>22s}"
        mb = c["mean_batch"]
        batch = f"{mb.get('image', math.nan):.2f}/{mb.get('text', math.nan):.2f}"
        rss = f"{c['rss_end_mb']:.0f} ({c['rss_growth_pct']:+.1f}%)"
        row += f" {c['errors']:>6d} {c['busy_503']:>5d} {batch:>13s} {_ms(c['health_p99_ms']) + ' ms':>11s} {rss:>15s}"
        lines.append(row)
    return lines


def speedup_lines(cells: list[dict], unbatched: int, batched: int) -> list[str]:
    """Per client count: the batched run's throughput as a multiple of the unbatched run's."""
    by = {(c["max_batch"], c["clients"]): c for c in cells}
    out = []
    for n in sorted({c["clients"] for c in cells}):
        a, b = by.get((unbatched, n)), by.get((batched, n))
        if a and b and a["requests_per_s"] > 0:
            out.append(
                f"{n} clients: max-batch {batched} ran {b['requests_per_s'] / a['requests_per_s']:.2f}x the requests/s"
                f" of max-batch {unbatched}; p99 {_ms(b['p99_ms'])} ms vs {_ms(a['p99_ms'])} ms"
            )
    return out


def bars(cells: list[dict], unbatched: int, batched: int, mix: Sequence[str]) -> dict:
    """The bars of issue 18 on this run: ``speedup`` (16 clients) and ``soak`` (64 clients, or the most
    clients run); a part is None when its cells are missing."""
    by = {(c["max_batch"], c["clients"]): c for c in cells}
    out: dict[str, object] = {"mix": "+".join(mix), "bar_mix": "+".join(BAR_MIX)}
    a, b = by.get((unbatched, 16)), by.get((batched, 16))
    out["speedup"] = None
    if a and b:
        ratio = b["requests_per_s"] / a["requests_per_s"] if a["requests_per_s"] > 0 else math.nan
        out["speedup"] = {
            "ratio": ratio,
            "p99_ms": b["p99_ms"],
            "unbatched_p99_ms": a["p99_ms"],
            "passed": ratio >= BAR_SPEEDUP and b["p99_ms"] <= a["p99_ms"],
        }
    most = max((c["clients"] for c in cells if c["max_batch"] == batched), default=None)
    soak = by.get((batched, most)) if most is not None else None
    out["soak"] = None
    if soak:
        out["soak"] = {
            "clients": soak["clients"],
            "seconds": soak["seconds"],
            "errors": soak["errors"],
            "busy_503": soak["busy_503"],
            "health_p99_ms": soak["health_p99_ms"],
            "health_polls": soak["health_polls"],
            "health_failed": soak["health_failed"],
            "rss_growth_pct": soak["rss_growth_pct"],
        }
        out["soak"]["passed"] = (
            soak["errors"] == 0
            and soak["health_failed"] == 0
            and soak["health_p99_ms"] <= BAR_HEALTH_P99_MS
            and soak["rss_growth_pct"] < BAR_RSS_GROWTH_PCT
        )
    return out


def _verdict(passed: bool) -> str:
    return "MET" if passed else "NOT MET"


def bar_lines(b: dict) -> list[str]:
    """The bar lines, spelled as issue 18 states its bars, with MET / NOT MET."""
    note = "" if b["mix"] == b["bar_mix"] else f" (measured on {b['mix']}; the bar is defined on {b['bar_mix']})"
    s, k = b["speedup"], b["soak"]
    if s is None:
        lines = ["bar, 16 clients: not measured (16 is not among --clients)"]
    else:
        lines = [
            f"16 clients {b['mix']}: throughput {s['ratio']:.2f}x of unbatched (bar >= {BAR_SPEEDUP:g}x), "
            f"p99 {_ms(s['p99_ms'])} ms vs unbatched {_ms(s['unbatched_p99_ms'])} ms (bar <=): "
            f"{_verdict(s['passed'])}{note}"
        ]
    if k is None:
        lines.append("bar, 64 clients: not measured")
    else:
        failed = f", {k['health_failed']} failed" if k["health_failed"] else ""
        lines.append(
            f"{k['clients']} clients x {k['seconds']:.0f} s: errors other than 503 = {k['errors']} "
            f"({k['busy_503']} 503s), /healthz p99 = {_ms(k['health_p99_ms'])} ms (bar <= {BAR_HEALTH_P99_MS:g} ms) "
            f"sampled throughout ({k['health_polls']} polls{failed}), RSS growth after warm-up = "
            f"{k['rss_growth_pct']:.1f}% (bar < {BAR_RSS_GROWTH_PCT:g}%): {_verdict(k['passed'])}{note}"
        )
    return lines


def ceiling_ratio(c: dict) -> float:
    """The most batching can speed up the classify + search mix here (see :mod:`eval.bench_serve_ceiling`)."""
    alone = c["image_alone_ms"] + c["text_alone_ms"]
    batched = c["image_in_pass_ms"] + c["text_in_pass_ms"]
    return alone / batched if batched > 0 else math.nan


def ceiling_lines(c: dict) -> list[str]:
    """The model-time ceiling of the throughput ratio, as measured in the bench's own process."""
    return [
        f"batching ceiling (model time only, this process): image {c['image_alone_ms']:.1f} ms alone vs "
        f"{c['image_in_pass_ms']:.1f} ms each in a pass of {c['image_pass']}; text {c['text_alone_ms']:.1f} ms vs "
        f"{c['text_in_pass_ms']:.1f} ms each in a pass of {c['text_pass']}: batching can make classify+search at most "
        f"{ceiling_ratio(c):.2f}x faster on this machine (bar {BAR_SPEEDUP:g}x); decoding, HTTP and JSON, which no "
        "batching shares, keep the measured ratio below that"
    ]
