"""The figures of ``sceneqa bench serve`` on hand-made numbers: metrics parsing, cells, the sweep table, the
bar lines, the deadline scenario's accounting and the run plan (no server)."""

from __future__ import annotations

import argparse
import math

import pytest

from eval.bench_serve import ServePlan, json_report, plan_from_args
from eval.bench_serve_deadline import deadline_lines, deadline_summary, in_time_504s, parse_request_log
from eval.bench_serve_report import (
    bar_lines,
    bars,
    mean_batches,
    metric,
    parse_metrics,
    percentiles,
    summarize_cell,
    sweep_table,
)
from multimodal.errors import ConfigError

METRICS = """# HELP sceneqa_batch_size items per model batch
# TYPE sceneqa_batch_size histogram
sceneqa_batch_size_bucket{le="1.0",worker="image"} 2.0
sceneqa_batch_size_count{worker="image"} 4.0
sceneqa_batch_size_sum{worker="image"} 10.0
sceneqa_batch_size_count{worker="text"} 5.0
sceneqa_batch_size_sum{worker="text"} 5.0
sceneqa_expired_total{worker="image"} 3.0
sceneqa_expired_total{worker="text"} 1.0
sceneqa_queue_depth{worker="image"} 7.0
process_open_fds 12.0
"""


def samples(**counts: float) -> dict[str, float]:
    """A scrape: ``image=(count, sum)`` style keyword pairs for the batch histogram, ``expired=`` total."""
    out = {}
    for w in ("image", "text"):
        n, total = counts.get(w, (0.0, 0.0))
        out |= {f'sceneqa_batch_size_count{{worker="{w}"}}': n, f'sceneqa_batch_size_sum{{worker="{w}"}}': total}
    return out | {'sceneqa_expired_total{worker="image"}': counts.get("expired", 0.0)}


def test_parse_metrics_and_sums_by_worker():
    m = parse_metrics(METRICS)
    assert m['sceneqa_batch_size_sum{worker="image"}'] == 10.0 and m["process_open_fds"] == 12.0
    assert metric(m, "sceneqa_expired_total") == 4.0
    assert metric(m, "sceneqa_expired_total", "text") == 1.0
    assert metric(m, "sceneqa_missing") == 0.0
    assert metric(m, "sceneqa_batch_size") == 0.0  # a histogram's base name alone matches none of its series


def test_mean_batches_are_deltas_between_scrapes():
    before = samples(image=(4, 10), text=(5, 5))
    after = samples(image=(6, 30), text=(5, 5))
    assert mean_batches(before, after) == {"image": 10.0}  # no text batch in between: left out


def test_percentiles_and_empty():
    assert percentiles(list(range(1, 101)))[0] == pytest.approx(50.5)
    assert all(math.isnan(x) for x in percentiles([]))


def cell(max_batch, clients, rps, p99, *, errors=0, health=(5.0,) * 100, rss=(1000.0, 1010.0), seconds=20.0):
    """A summarized cell whose pooled p99 is ``p99`` and throughput ``rps`` requests/s."""
    n = int(rps * seconds)
    lat = [10.0] * (n - 1) + [p99 * 100]  # one outlier: p99 interpolates between 10 and it
    out = {
        "latencies": {"classify": lat, "search": []},
        "errors": {"classify": errors, "search": 0},
        "busy": {"classify": 2, "search": 0},
        "timeouts": {"classify": 0, "search": 0},
    }
    extra = {"health_ms": list(health), "rss_start_mb": rss[0], "rss_end_mb": rss[1], "batches": {"image": 3.0}}
    c = summarize_cell(max_batch, clients, seconds, out, extra)
    c["p99_ms"] = p99  # the figure the bars read, set exactly
    return c


def test_summarize_cell_counts_and_rates():
    c = cell(16, 4, 10.0, 30.0, errors=1)
    assert c["ok"] == 200 and c["requests_per_s"] == pytest.approx(10.0)
    assert c["errors"] == 1 and c["busy_503"] == 2
    assert c["routes"]["classify"]["p50_ms"] == 10.0 and math.isnan(c["routes"]["search"]["p50_ms"])
    assert c["rss_growth_pct"] == pytest.approx(1.0) and c["health_p99_ms"] == 5.0


def test_sweep_table_has_a_row_per_cell():
    lines = sweep_table([cell(1, 1, 5.0, 40.0), cell(16, 1, 6.0, 30.0)], ("classify", "search"))
    assert len(lines) == 3 and "classify p50/95/99 ms" in lines[0] and "healthz p99" in lines[0]
    assert lines[2].split()[:3] == ["16", "1", "6.00"]
    assert "-/-/-" in lines[1]  # search had no answer: dashes, not nan


def test_bars_met_and_not_met():
    good = [cell(1, 16, 10.0, 900.0), cell(16, 16, 31.0, 800.0), cell(1, 64, 9.0, 1.0), cell(16, 64, 30.0, 1.0)]
    b = bars(good, 1, 16, ("classify", "search"))
    assert b["speedup"]["ratio"] == pytest.approx(3.1) and b["speedup"]["passed"]
    assert b["soak"]["clients"] == 64 and b["soak"]["passed"]
    lines = bar_lines(b)
    assert lines[0].startswith("16 clients classify+search: throughput 3.10x of unbatched (bar >= 3x), p99 800 ms")
    assert "unbatched 900 ms (bar <=): MET" in lines[0]
    assert lines[1].startswith("64 clients x 20 s: errors other than 503 = 0 (2 503s), /healthz p99 = 5 ms")
    assert "RSS growth after warm-up = 1.0% (bar < 10%): MET" in lines[1]

    slow = [cell(1, 16, 10.0, 900.0), cell(16, 16, 20.0, 950.0), cell(16, 64, 30.0, 1.0, health=(80.0,) * 10)]
    b = bars(slow, 1, 16, ("classify", "search", "ask"))
    assert not b["speedup"]["passed"] and not b["soak"]["passed"]
    lines = bar_lines(b)
    assert "2.00x" in lines[0] and "NOT MET (measured on classify+search+ask" in lines[0]
    assert "/healthz p99 = 80 ms" in lines[1] and "NOT MET" in lines[1]


def test_bars_without_16_clients_say_so():
    b = bars([cell(1, 4, 1.0, 1.0), cell(16, 4, 2.0, 1.0)], 1, 16, ("classify", "search"))
    assert b["speedup"] is None and b["soak"]["clients"] == 4
    assert bar_lines(b)[0] == "bar, 16 clients: not measured (16 is not among --clients)"


def burst(ok: dict, timeouts: int = 0) -> dict:
    return {
        "latencies": {k: [50.0] * n for k, n in ok.items()},
        "timeouts": {"classify": timeouts, "search": 0},
        "busy": {"classify": 4, "search": 1},
        "errors": {"classify": 0, "search": 0},
    }


IDLE = {
    "classify": {"ms": [100.0] * 5, "bad": 0, "items": {"image": 1.0, "text": 0.0}},
    "search": {"ms": [30.0] * 5, "bad": 0, "items": {"image": 0.0, "text": 1.0}},
}
AFTER = {"classify": {"ms": [110.0] * 5, "bad": 0}, "search": {"ms": [400.0] * 5, "bad": 0}}


def test_deadline_accounting_no_item_beyond_the_answered():
    # 20 + 5 classify and 30 + 5 search answered: 25 images and 35 texts on the model, 12 dropped unrun
    scrapes = {"start": samples(), "end": samples(), "done": samples(image=(9, 25), text=(20, 35), expired=12)}
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}, timeouts=12), AFTER, scrapes)
    assert d["items_beyond_answered"] == 0 and d["expired_unrun"] == 12 and d["none_after_deadline"]
    assert d["routes"]["classify"]["not_delayed"] and not d["routes"]["search"]["not_delayed"]
    lines = deadline_lines(d, 64, 10)
    assert "12 answered 504" in lines[0] and "12 expired in a queue" in lines[0]
    assert lines[1].startswith("0 requests ran on the model after their deadline")
    assert "running (all for requests already answered): none" in lines[2]
    assert "search right after the burst" in lines[4] and "DELAYED" in lines[4]
    # one slow first request is a delay too (e.g. it waited for a forward pass of requests answered 504)
    slow_first = {"classify": {"ms": [600.0] + [100.0] * 4, "bad": 0}, "search": AFTER["search"]}
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}, timeouts=12), slow_first, scrapes)
    assert not d["routes"]["classify"]["not_delayed"] and d["routes"]["classify"]["after_p50_ms"] == 100.0
    # a fresh request answered 504 was delayed, not a failed one: it is not counted as an error
    timed_out = {"ms": [100.0] * 4, "bad": 0, "answers": [(1050.0, 504)] + [(100.0, 200)] * 4}
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}), AFTER | {"classify": timed_out}, scrapes)
    r = d["routes"]["classify"]
    assert r["after_504"] == 1 and r["after_first_status"] == 504 and not r["not_delayed"] and d["errors"] == 0
    assert "first 1050 ms (504), p50 100 ms (1 refused 503 or timed out 504)" in deadline_lines(d, 64, 10)[3]
    # so is one refused at once because the queue is still full of jobs of requests answered 504
    refused = {"ms": [100.0] * 4, "bad": 0, "answers": [(20.0, 503)] + [(100.0, 200)] * 4}
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}), AFTER | {"classify": refused}, scrapes)
    assert not d["routes"]["classify"]["not_delayed"] and d["errors"] == 0
    assert "first 20 ms (503)" in deadline_lines(d, 64, 10)[3] and "DELAYED" in deadline_lines(d, 64, 10)[3]


def test_deadline_accounting_items_beyond_are_not_called_zero():
    scrapes = {"start": samples(), "end": samples(), "done": samples(image=(9, 28), text=(20, 35), expired=9)}
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}, timeouts=12), AFTER, scrapes)
    assert d["items_beyond_answered"] == 3 and not d["none_after_deadline"]
    assert not any(line.startswith("0 requests ran") for line in deadline_lines(d, 64, 10))
    # a server that counts the items overrunning their deadline in a pass started in time explains them
    scrapes["done"]['sceneqa_deadline_overran_total{worker="image"}'] = 3.0
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}, timeouts=12), AFTER, scrapes)
    # ...but those passes ran on after the deadline: only "started" may be claimed
    assert d["none_after_deadline"] and deadline_lines(d, 64, 10)[1].startswith("0 requests started on the model")


def test_deadline_without_saturation_shows_nothing():
    scrapes = {"start": samples(), "end": samples(), "done": samples(image=(9, 25), text=(20, 35))}
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}), AFTER, scrapes)
    assert "did not saturate" in deadline_lines(d, 4, 2)[1]


def test_plan_defaults_quick_and_checks():
    args = argparse.Namespace(clients=[64, 1, 16, 4], seconds=20.0, warmup=10.0, mix="classify, search")
    plan = plan_from_args(args)
    assert plan.clients == (1, 4, 16, 64) and plan.mix == ("classify", "search")
    assert plan.cell_seconds(True, 64) == 60.0 and plan.cell_seconds(False, 64) == 20.0
    assert plan.cell_seconds(True, 16) == 20.0
    assert plan.estimate_s() <= 12 * 60  # the default run stays bounded
    quick = plan_from_args(argparse.Namespace(quick=True))
    assert quick.estimate_s() < 3 * 60 and quick.soak_seconds == 0
    with pytest.raises(ConfigError, match="--mix classify,upload"):
        ServePlan(mix=("classify", "upload"))
    with pytest.raises(ConfigError, match="--clients"):
        ServePlan(clients=(0, 4))


def test_json_report_keeps_the_old_top_level_keys_and_has_no_nan():
    import json

    from eval.bench_serve import _nan_as_none

    cells = [cell(1, 4, 1.0, 1.0), cell(16, 4, 2.0, 1.0)]
    runs = [
        {
            "max_batch": b,
            "cells": [c],
            "warmup_errors": 0,
            "rss_idle_mb": 1.0,
            "rss_before_mb": 2.0,
            "rss_after_mb": 3.0,
        }
        for b, c in zip((1, 16), cells, strict=True)
    ]
    report = json_report(ServePlan(), runs, cells, bars(cells, 1, 16, ("classify", "search")), None)
    for key in ("requests_per_s", "errors", "endpoints", "rss_idle_mb", "rss_before_mb", "rss_after_mb", "cells"):
        assert key in report
    assert report["requests_per_s"] == cells[1]["requests_per_s"] and "cells" not in report["runs"][0]
    text = json.dumps(_nan_as_none(report), allow_nan=False)  # strict JSON: NaN became null
    assert '"p50_ms": null' in text


REQUEST_LOG = """\
INFO sceneqa.serve.requests: request a1 POST /v1/classify 504 queue=120.0ms model=310.5ms total=1050.2ms
INFO sceneqa.serve.requests: request a2 POST /v1/classify 504 queue=0.0ms model=0.0ms total=1050.0ms
INFO sceneqa.serve: something else
INFO sceneqa.serve.requests: request a3 POST /v1/classify 504 queue=800.0ms model=300.0ms total=1150.0ms
INFO sceneqa.serve.requests: request a4 GET /healthz 200 queue=0.0ms model=0.0ms total=0.4ms
INFO sceneqa.serve.requests: request a5 POST /v1/search 200 queue=10.0ms model=5.0ms total=30.0ms
"""


def test_request_log_lines_and_504s_that_ran_in_time():
    lines = parse_request_log(REQUEST_LOG)
    assert [x["route"] for x in lines] == ["/v1/classify"] * 3 + ["/healthz", "/v1/search"]
    assert lines[0] == {
        "route": "/v1/classify",
        "status": 504,
        "queue_ms": 120.0,
        "model_ms": 310.5,
        "total_ms": 1050.2,
    }
    # a2 never reached a model; a3's queue and model time together passed its 1 s deadline: not "in time"
    assert in_time_504s(lines, 1.0) == {"classify": 1, "search": 0}


def test_deadline_items_beyond_explained_by_the_request_log():
    scrapes = {"start": samples(), "end": samples(), "done": samples(image=(9, 26), text=(20, 35), expired=11)}
    log = parse_request_log(REQUEST_LOG)
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}, timeouts=12), AFTER, scrapes, log)
    assert d["items_beyond_answered"] == 1 and d["items_in_time_504"] == 1 and d["none_after_deadline"]
    line = deadline_lines(d, 64, 10)[1]
    assert line.startswith("0 requests ran on the model after their deadline: of the 1 model items")
    assert "1 reached the model within their deadline" in line


def test_deadline_line_says_started_not_ran_when_passes_outlasted_deadlines():
    scrapes = {"start": samples(), "end": samples(), "done": samples(image=(9, 26), text=(20, 35), expired=11)}
    d = deadline_summary(1.0, IDLE, burst({"classify": 20, "search": 30}, timeouts=12), AFTER, scrapes, None)
    d = {**d, "items_overran": d["items_beyond_answered"], "none_after_deadline": True}
    line = deadline_lines(d, 64, 10)[1]
    assert line.startswith("0 requests started on the model after their deadline")


def test_the_batching_ceiling_is_the_ratio_of_model_time_alone_to_model_time_in_passes():
    from eval.bench_serve_report import ceiling_lines, ceiling_ratio

    c = {"image_pass": 4, "text_pass": 16, "image_alone_ms": 24.0, "image_in_pass_ms": 16.0}
    c |= {"text_alone_ms": 6.0, "text_in_pass_ms": 4.0}
    assert ceiling_ratio(c) == pytest.approx(30.0 / 20.0)
    (line,) = ceiling_lines(c)
    assert "image 24.0 ms alone vs 16.0 ms each in a pass of 4" in line and "at most 1.50x" in line
    assert "(bar 3x)" in line
    assert math.isnan(ceiling_ratio(c | {"image_in_pass_ms": 0.0, "text_in_pass_ms": 0.0}))


def test_the_ceiling_is_measured_on_the_tiers_encoder(cache_dir):
    from eval.bench_serve_ceiling import measure_ceiling
    from multimodal.services import ServiceConfig

    config = ServiceConfig(tier="tiny", device="cpu", precision="fp32", cache_dir=cache_dir, offline=True)
    c = measure_ceiling(config, max_batch=4, reps=1)
    assert c["image_pass"] == 4 and c["text_pass"] == 4  # tiny says no pass size: --max-batch
    assert all(c[k] > 0 for k in ("image_alone_ms", "image_in_pass_ms", "text_alone_ms", "text_in_pass_ms"))
