"""The deadline scenario of ``sceneqa bench serve``: a server with a short ``--request-timeout`` is saturated
with classify and search requests, then asked again at once.

Measured, from the outside only:

- idle: a few classify and search requests one after the other, each between two ``/metrics`` scrapes, give
  the idle latency and the model items (images, texts) one answered request of each route costs;
- the burst: ``clients`` clients for ``seconds``; answers counted by status (504: the deadline passed);
- ``sceneqa_expired_total``: jobs dropped at their worker because their deadline had passed while they waited
  (no model time, by the engine's own count);
- model items beyond the answered requests' share (``sceneqa_batch_size_sum`` minus answered x per-request
  items): 0 means no request that was not answered 200 reached a model, so none ran after its deadline.
  Items beyond are told apart where the server lets us: requests answered 504 whose log line (``-v``: queue
  and model ms per request) shows their model work done within their deadline (they timed out in a later
  stage), and, if the server counts them, items whose deadline passed in a forward pass started in time
  (``sceneqa_deadline_overran_total``). "0 requests ran on the model after their deadline" is printed only
  when these explain every item beyond;
- right after the burst's last answer: the same probes again, against the idle ones (queued work of requests
  already answered 504 must not delay them).
"""

from __future__ import annotations

import math
import re
import time

from eval.bench_serve_load import load, payloads, probe, scrape
from eval.bench_serve_report import metric, percentiles
from eval.server_process import log_path, running_server

KINDS = ("classify", "search")
WORKERS = ("image", "text")
#: a fresh request after the burst counts as "not delayed" within this of the idle p50: 2x + 50 ms
SLACK_FACTOR, SLACK_MS = 2.0, 50.0
#: a counter the server may keep of items whose deadline passed while their batch (started in time) ran
OVERRAN_METRIC = "sceneqa_deadline_overran_total"
_REQUEST_LINE = re.compile(r"request \S+ \w+ (\S+) (\d+) queue=([\d.]+)ms model=([\d.]+)ms total=([\d.]+)ms", re.M)


def items(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Model items (images, texts) run between two scrapes, per worker."""
    return {
        w: metric(after, "sceneqa_batch_size_sum", w) - metric(before, "sceneqa_batch_size_sum", w) for w in WORKERS
    }


def pass_ms(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean milliseconds of one forward pass per worker between two scrapes (NaN: no pass)."""
    out = {}
    for w in WORKERS:
        n = metric(after, "sceneqa_model_seconds_count", w) - metric(before, "sceneqa_model_seconds_count", w)
        total = metric(after, "sceneqa_model_seconds_sum", w) - metric(before, "sceneqa_model_seconds_sum", w)
        out[w] = total / n * 1000 if n > 0 else math.nan
    return out


def parse_request_log(text: str) -> list[dict]:
    """The server's per-request log lines (``sceneqa.serve.requests``, logged with ``-v``) in ``text``:
    ``{"route", "status", "queue_ms", "model_ms", "total_ms"}`` each; other lines skipped."""
    out = []
    for m in _REQUEST_LINE.finditer(text):
        route, status, queue, model, total = m.groups()
        out.append(
            {"route": route, "status": int(status), "queue_ms": float(queue), "model_ms": float(model)}
            | {"total_ms": float(total)}
        )
    return out


def in_time_504s(lines: list[dict], timeout_s: float) -> dict[str, int]:
    """Per route, the requests answered 504 whose model work was done by the time they were logged and took,
    queue and model together, less than their deadline: they reached the model in time and ran out of time
    in a later stage."""
    out = dict.fromkeys(KINDS, 0)
    for x in lines:
        kind = x["route"].removeprefix("/v1/")
        if (
            kind in out
            and x["status"] == 504
            and x["model_ms"] > 0
            and x["queue_ms"] + x["model_ms"] < timeout_s * 1000
        ):
            out[kind] += 1
    return out


def deadline_summary(
    timeout_s: float, idle: dict, burst: dict, after: dict, scrapes: dict, log: list[dict] | None = None
) -> dict:
    """``idle``/``after``: per route ``{"ms": [200s' ms], "bad": n, "answers": [(ms, status)], "items":
    {worker: per request}}`` (``items`` only in ``idle``; without ``answers``, the 200s); ``burst``:
    :func:`eval.bench_serve_load.load`'s output; ``scrapes``: ``/metrics`` samples at ``start`` (burst
    start), ``end`` (burst's last answer) and ``done`` (after the probes);
    ``log``: :func:`parse_request_log` of the server's lines between ``start`` and ``done`` (None: not logged)."""
    answered = {k: len(burst["latencies"][k]) + len(after[k]["ms"]) for k in KINDS}
    ran = items(scrapes["start"], scrapes["done"])
    share = {w: sum(answered[k] * idle[k]["items"].get(w, 0.0) for k in KINDS) for w in WORKERS}
    beyond = round(sum(ran[w] - share[w] for w in WORKERS))
    in_time = in_time_504s(log, timeout_s) if log is not None else dict.fromkeys(KINDS, 0)
    in_time_items = round(sum(in_time[k] * sum(idle[k]["items"].values()) for k in KINDS))
    expired = metric(scrapes["done"], "sceneqa_expired_total") - metric(scrapes["start"], "sceneqa_expired_total")
    overran = None  # items whose deadline passed during their (timely) forward pass, when the server counts them
    if any(key.partition("{")[0] == OVERRAN_METRIC for key in scrapes["done"]):
        overran = round(metric(scrapes["done"], OVERRAN_METRIC) - metric(scrapes["start"], OVERRAN_METRIC))
    routes = {}
    for k in KINDS:
        answers = after[k].get("answers") or [(ms, 200) for ms in after[k]["ms"]]
        idle_p50, after_p50 = percentiles(idle[k]["ms"])[0], percentiles([ms for ms, _ in answers])[0]
        first_ms, first_status = answers[0] if answers else (math.nan, 0)
        late = sum(1 for _, status in answers if status in (503, 504))
        limit = SLACK_FACTOR * idle_p50 + SLACK_MS
        routes[k] = {
            "idle_p50_ms": idle_p50,
            "after_p50_ms": after_p50,
            "after_first_ms": first_ms,
            "after_first_status": first_status,
            "after_504": late,  # refused (503) or timed out (504), counted together
            "not_delayed": bool(first_ms <= limit and after_p50 <= limit and not late),
        }
    return {
        "timeout_s": timeout_s,
        "ok": sum(len(burst["latencies"][k]) for k in KINDS),
        "timeouts_504": sum(burst["timeouts"].values()),
        "busy_503": sum(burst["busy"].values()),
        "errors": sum(burst["errors"].values()) + sum(after[k]["bad"] for k in KINDS),
        "other_statuses": burst.get("other_statuses", {}),
        "expired_unrun": int(expired),
        "queue_depth_at_end": int(metric(scrapes["end"], "sceneqa_queue_depth")),
        "busy_at_end": {w: int(metric(scrapes["end"], "sceneqa_worker_busy", w)) for w in WORKERS},
        "pass_ms": pass_ms(scrapes["start"], scrapes["end"]),
        "model_items": ran,
        "items_beyond_answered": beyond,
        "in_time_504": in_time,
        "items_in_time_504": in_time_items,
        "items_overran": overran,
        "items_unexplained": max(0, beyond - in_time_items - (overran or 0)),
        "request_log": log is not None,
        "routes": routes,
        "none_after_deadline": beyond - in_time_items - (overran or 0) <= 0,
        "not_delayed": all(r["not_delayed"] for r in routes.values()),
    }


def deadline_lines(d: dict, clients: int, seconds: float) -> list[str]:
    lines = [
        f"deadline scenario: --request-timeout {d['timeout_s']:g}, {clients} clients for {seconds:.0f} s "
        f"(classify+search): {d['ok']} answered, {d['timeouts_504']} answered 504, {d['busy_503']} 503s, "
        f"{d['errors']} other errors; {d['expired_unrun']} expired in a queue and were dropped without model time "
        f"(sceneqa_expired_total); {d['queue_depth_at_end']} jobs still queued at the burst's last answer",
    ]
    if not d["timeouts_504"] and not d["expired_unrun"]:
        lines.append("no request reached its deadline (the burst did not saturate the server): nothing shown")
    elif d["items_beyond_answered"] <= 0:
        lines.append(
            "0 requests ran on the model after their deadline (model items run = items of the requests answered "
            f"200: {d['model_items']['image']:.0f} images, {d['model_items']['text']:.0f} texts)"
        )
    else:
        told = f"{d['items_in_time_504']} reached the model within their deadline and timed out in a later stage"
        told += "" if d["request_log"] else " (no request log read)"
        if d["items_overran"] is not None:
            told += (
                f", {d['items_overran']} were in a forward pass started in time that outlasted it ({OVERRAN_METRIC})"
            )
        if d["none_after_deadline"]:
            # a pass that started in time and outlasted a deadline did run after it: then only "started" is true
            verb = "started" if d["items_overran"] else "ran"
            lines.append(
                f"0 requests {verb} on the model after their deadline: of the {d['items_beyond_answered']} model "
                f"items of requests not answered 200, {told}"
            )
        else:
            lines.append(
                f"{d['items_beyond_answered']} model items went to requests not answered 200: {told}; "
                f"{d['items_unexplained']} left, admitted before their deadline into a forward pass that outlasted "
                "it, or after it (the server's metrics and log do not tell these apart): '0 after the deadline' "
                "is not shown"
            )
    if d["errors"]:
        lines.append(f"  errors: {d['other_statuses']}")
    busy = ", ".join(f"{w} {n}" for w, n in d["busy_at_end"].items() if n)
    passes = ", ".join(f"{w} {ms:.0f} ms" for w, ms in d["pass_ms"].items() if not math.isnan(ms))
    lines.append(
        f"  at the burst's last answer: forward passes running (all for requests already answered): {busy or 'none'};"
        f" mean forward pass during the burst: {passes or '-'}"
    )
    for k, r in d["routes"].items():
        timed_out = f" ({r['after_504']} refused 503 or timed out 504)" if r["after_504"] else ""
        lines.append(
            f"  {k} right after the burst: first {r['after_first_ms']:.0f} ms ({r['after_first_status']}), p50 "
            f"{r['after_p50_ms']:.0f} ms{timed_out} vs "
            f"idle p50 {r['idle_p50_ms']:.0f} ms: {'not delayed' if r['not_delayed'] else 'DELAYED'} "
            f"(bar: first and p50 within {SLACK_FACTOR:g}x + {SLACK_MS:g} ms of idle)"
        )
    return lines


def _probes(url: str, mix: dict[str, list[dict]], n: int, calibrate: bool) -> dict:
    """``n`` requests per route, one at a time, each on a new connection. ``calibrate`` (idle): route after
    route, scraping ``/metrics`` around each to count its model items; else routes alternate, so that each
    route's first request comes right after the burst."""
    out: dict[str, dict] = {k: {"ms": [], "bad": 0, "answers": []} for k in KINDS}

    def one(k: str, i: int) -> None:
        for ms, status in probe(url, k, [mix[k][i % len(mix[k])]], 1):
            out[k]["answers"].append((ms, status))
            if status == 200:
                out[k]["ms"].append(ms)
            elif status not in (503, 504):  # refused or timed out right after the burst: a delay, reported so
                out[k]["bad"] += 1

    if not calibrate:
        for i in range(n):
            for k in KINDS:
                one(k, i)
        return out
    for k in KINDS:
        before = scrape(url)
        for i in range(n):
            one(k, i)
        ran = items(before, scrape(url))
        out[k]["items"] = {w: ran[w] / max(1, len(out[k]["ms"])) for w in WORKERS}
    return out


def run_deadline(global_args: list[str], index, *, timeout_s: float, clients: int, seconds: float, warmup: float):
    """Start a server with ``--request-timeout timeout_s``, run the scenario; :func:`deadline_summary`."""
    import asyncio

    mix = payloads(KINDS)
    n = 5
    # -v: the server logs one line per request, with its queue and model milliseconds
    with running_server([*global_args, "-v"], index, "--request-timeout", str(timeout_s)) as (url, _):
        log = log_path(index, url)
        asyncio.run(load(url, 2, max(1.0, warmup), mix))  # caches the label embeddings, warms the models
        idle = _probes(url, mix, n, calibrate=True)
        start, log_from = scrape(url), log.stat().st_size
        burst = asyncio.run(load(url, clients, seconds, mix))
        end = scrape(url)
        t0 = time.perf_counter()
        after = _probes(url, mix, n, calibrate=False)
        after_s = time.perf_counter() - t0
        done = scrape(url)
        with log.open("rb") as fh:
            fh.seek(log_from)
            lines = parse_request_log(fh.read().decode("utf-8", "replace"))
    scrapes = {"start": start, "end": end, "done": done}
    summary = deadline_summary(timeout_s, idle, burst, after, scrapes, lines if lines else None)
    return summary | {"clients": clients, "seconds": seconds, "after_probes_s": after_s}
