"""The benchmark commands run end to end at toy sizes (figures are not asserted: speed is not a test)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.bench_search import clustered_vectors, exact_topk, recall_at
from sceneqa.cli import main
from tests.cli_util import tiny_argv


def test_synthetic_vectors_are_seeded_unit_rows():
    a, b = clustered_vectors(300, 64, seed=1), clustered_vectors(300, 64, seed=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert not np.array_equal(a, clustered_vectors(300, 64, seed=2))


def test_exact_topk_and_recall_by_hand():
    xb = np.eye(4, dtype=np.float32)
    xq = np.array([[0.9, 0.1, 0.0, 0.0]], np.float32)
    assert exact_topk(xb, xq, 2).tolist() == [[0, 1]]
    assert recall_at(np.array([[0, 3]]), np.array([[0, 1]]), k=2) == 0.5


def test_bench_search_runs(capsys, cache_dir):
    code = main(
        [
            *tiny_argv(cache_dir),
            "bench",
            "search",
            "--n",
            "3000",
            "--dim",
            "32",
            "--queries",
            "5",
            "--filter-n",
            "3000",
            "--filter-types",
            "flat",
            "hnsw",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and {r["type"] for r in report["types"]} == {"flat", "hnsw", "ivfpq"}
    assert all(r["all_k_returned"] == 1.0 and r["only_matching"] for r in report["filters"])


@pytest.mark.slow
def test_bench_ingest_and_embed_run(capsys, cache_dir):
    code = main(
        [
            *tiny_argv(cache_dir),
            "--batch-size",
            "4",
            "bench",
            "ingest",
            "--images",
            "4",
            "--size",
            "640x480",
            "--rss-images",
            "40",
            "--skip-lite",
            "--json",
        ]
    )
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and len(report["rss"]) >= 2 and "plain loop, ViT-B-32 fp32" in report["throughput"]
    code = main(
        [*tiny_argv(cache_dir), "--batch-size", "4", "bench", "embed", "--images", "4", "--repeats", "1", "--json"]
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and report["embed"]["cosine_min"] > 0.99


def test_bench_ask_runs(capsys, cache_dir):
    code = main(
        [
            *tiny_argv(cache_dir),
            "--answerer",
            "lite",
            "bench",
            "ask",
            "--lines",
            "30",
            "--rounds",
            "2",
            "--vlm-arch",
            "tiny",
            "--new-tokens",
            "4",
            "--repeats",
            "1",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and report["p50_ms"] > 0 and set(report["by_kind"]) >= {"records", "presence"}
    assert [r["pipeline"].split(",")[0] for r in report["vlm"]] == [
        "sceneqa (fp32",
        "plain generate fp32",
        "plain generate fp32",
    ]


def test_eval_ask_suite_runs(capsys, cache_dir):
    code = main([*tiny_argv(cache_dir), "--answerer", "lite", "eval", "ask-suite", "--logs", "2", "--json"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and len(report["logs"]) == 6 and len(report["photos"]) == 12
    assert report["line_accuracy"] >= 0.5  # keyword + hashing relevance finds most log lines even in tiny


def test_generated_logs_hold_their_answers():
    from eval.ask_suite import make_log

    text, questions = make_log(3)
    lines = text.splitlines()
    for _, line, phrase in questions:
        assert phrase in lines[line - 1]


@pytest.mark.slow
def test_bench_serve_runs(capsys, cache_dir):
    code = main(
        [
            "--cache-dir",
            str(cache_dir),
            "bench",
            "serve",
            "--tier",
            "tiny",
            "--quick",
            "--mix",
            "classify,search,ask",
            "--json",
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    report = json.loads(out[-1])
    assert code == 0 and report["errors"] == 0 and set(report["endpoints"]) == {"search", "classify", "ask"}
    assert report["rss_after_mb"] > 0
    # the sweep: both servers at each client count, /healthz polled throughout each cell
    from multimodal.engine.config import DEFAULT_MAX_BATCH as B

    assert [(c["max_batch"], c["clients"]) for c in report["cells"]] == [(1, 1), (1, 4), (B, 1), (B, 4)]
    assert all(c["health_polls"] > 0 and c["health_failed"] == 0 for c in report["cells"])
    assert report["bars"]["soak"]["clients"] == 4 and report["bars"]["speedup"] is None
    assert any("errors other than 503 = 0" in line for line in out)
    # the deadline scenario ran on its own server, with the request log read
    deadline = report["deadline"]
    assert deadline["errors"] == 0 and deadline["request_log"] and deadline["timeout_s"] == 1.0


def test_bench_shards_memory_part_runs(capsys, cache_dir):
    code = main(
        [
            "--cache-dir",
            str(cache_dir),
            "bench",
            "shards",
            "--n",
            "6000",
            "--dim",
            "32",
            "--shard-rows",
            "2000",
            "--queries",
            "20",
            "--images",
            "0",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    mem = report["memory"]
    assert code == 0 and mem["count"] == 6000 and mem["index_type"] == "ivfpq"
    assert 0 < mem["peak_rss_mb"] < 2048 and mem["recall_at_10"] > 0.5
