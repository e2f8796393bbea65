"""Attached context: chunking with locators, refusals, BM25 by hand, selection within a budget, merging."""

from __future__ import annotations

import pytest

from multimodal.ask.context_files import ContextError, load_context_bytes, load_context_file, load_context_text
from multimodal.ask.context_select import Selection, bm25_scores, select_chunks, to_evidence
from multimodal.ask.text_embed import HashingEmbedder


def test_chunks_and_locators(tmp_path):
    log = tmp_path / "inspection.log"
    log.write_text("shift start\n\nvalve 3: seal intact\n")
    assert [(c.locator, c.text) for c in load_context_file(log)] == [
        ("inspection.log:L1", "shift start"),
        ("inspection.log:L3", "valve 3: seal intact"),
    ]
    md = load_context_bytes(b"# Notes\n\nfirst para\ncontinues\n\nsecond\n", "notes.md")
    assert [c.locator for c in md] == ["notes.md:L1", "notes.md:L3-L4", "notes.md:L6"]
    rows = load_context_bytes(b"sku,status\nA1,ok\n\nB2,damaged\n", "records.csv")
    assert [(c.locator, c.text) for c in rows] == [
        ("records.csv:row 1", "sku: A1; status: ok"),
        ("records.csv:row 2", "sku: B2; status: damaged"),
    ]
    jl = load_context_bytes(b'{"valve": 3, "seal": "intact"}\nnot json\n', "log.jsonl")
    assert [(c.locator, c.text) for c in jl] == [
        ("log.jsonl:L1", "valve: 3; seal: intact"),
        ("log.jsonl:L2", "not json"),
    ]
    assert load_context_text("a\nb")[1].locator == "pasted:L2"


def test_refusals(tmp_path):
    with pytest.raises(ContextError, match=r"photo.jpg: is a binary file, not text"):
        load_context_bytes(b"\xff\xd8\xff\x00\x10JFIF", "photo.jpg")
    with pytest.raises(ContextError, match=r"latin.txt: is not UTF-8 text \(byte 3\)"):
        load_context_bytes("abc\xe9".encode("latin-1"), "latin.txt")
    big = tmp_path / "big.log"
    big.write_text("x" * 2000)
    with pytest.raises(ContextError, match="over the 0.0 MB limit"):
        load_context_file(big, max_bytes=1000)
    with pytest.raises(ContextError, match="not found"):
        load_context_file(tmp_path / "none.log")


def test_bm25_by_hand():
    docs = ["valve seal intact", "pump pressure nominal", "valve torque"]
    s = bm25_scores("valve seal", docs)
    assert s[0] > s[2] > 0 and s[1] == 0
    assert bm25_scores("anything", []).shape == (0,)


def test_selection_budget_and_merging():
    lines = [f"2026-03-01 pump {i} pressure nominal" for i in range(200)]
    lines += ["valve 3 inspected: seal intact, no leak", "valve 3 seal torque 45 Nm"]
    chunks = load_context_text("\n".join(lines), "inspection.log")
    sel = select_chunks("is the seal on valve 3 intact?", chunks, HashingEmbedder(), budget_tokens=60)
    assert sel.total == 202 and "context truncated" in sel.notice and "most relevant were kept" in sel.notice
    ev = to_evidence(sel)
    assert ev[0].locator == "inspection.log:L201"  # the line that answers it ranks first
    assert "inspection.log:L202" in [e.locator for e in ev]
    assert all(e.kind == "context" for e in ev) and ev == sorted(ev, key=lambda e: -e.score)
    strong = Selection((chunks[0], chunks[1]), (1.0, 0.9), 2)
    assert [e.locator for e in to_evidence(strong)] == ["inspection.log:L1-L2"]  # adjacent and both strong: merged
    weak = Selection((chunks[0], chunks[1]), (1.0, 0.1), 2)
    assert [e.locator for e in to_evidence(weak)] == ["inspection.log:L1", "inspection.log:L2"]  # not merged
