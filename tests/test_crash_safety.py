"""SIGKILL the ingesting process at random points: the index reopens, index ids == store ids, every item
seen committed before the kill is still there, and re-running completes without duplicates."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from eval.bench_crash import committed_ids
from retrieval.catalog import Catalog
from tests.catalog_data import make_catalog, write_csv
from tests.cli_util import tiny_argv

N_ITEMS = 240


def check_consistent(idx) -> set[str]:
    with Catalog.open(idx, encoder=None, dim=None) as cat:
        live = set(cat.store.all_vids().tolist())
        assert set(cat.index.stored_ids().tolist()) == live  # flat: reconciled exactly
        assert cat.manifest.encoder == "tiny:open_clip" and cat.manifest.dim == 32
        ids = {it.id for it in cat.store.items(sorted(live))}
        if ids:
            probe = sorted(ids)[0]
            assert probe in [h.id for h in cat.search(cat.vector_of(probe), 5)]  # near-identical drawings tie
        return ids


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path, cache_dir):
    csv_path = write_csv(tmp_path / "cat.csv", make_catalog(tmp_path, N_ITEMS))
    idx = tmp_path / "idx"
    cmd = [
        sys.executable,
        "-m",
        "sceneqa.cli",
        *tiny_argv(cache_dir),
        "--batch-size",
        "4",
        "index",
        "add",
        str(csv_path),
        "--index",
        str(idx),
        "--commit-every",
        "12",
    ]
    rng = random.Random(7)
    kills = 0
    for _ in range(4):
        before = committed_ids(idx)
        if len(before) >= N_ITEMS - 8:
            break
        target = len(before) + rng.randint(4, max(5, (N_ITEMS - len(before)) // 2))
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        seen: set[str] = set()
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            seen = committed_ids(idx)
            if len(seen) >= target:
                break
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=30)
        after = check_consistent(idx)
        assert seen <= after, "an item committed before the kill is missing after it"
    assert kills >= 2
    done = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = check_consistent(idx)
    assert final == {f"sku{i}" for i in range(N_ITEMS)}
    with Catalog.open(idx, encoder=None, dim=None) as cat:
        assert cat.store.count() == N_ITEMS == cat.index.live_count()
        vids = cat.store.all_vids()
        assert len(np.unique(vids)) == len(vids)


def ingest_cmd(cache_dir, csv_path, idx, batch: int, commit_every: int) -> list[str]:
    opts = ["--batch-size", str(batch), "index", "add", str(csv_path), "--index", str(idx)]
    return [sys.executable, "-m", "sceneqa.cli", *tiny_argv(cache_dir), *opts, "--commit-every", str(commit_every)]


@pytest.mark.slow
def test_readers_answer_and_a_second_writer_is_refused_while_ingesting(tmp_path, cache_dir):
    from retrieval.errors import IndexLockedError

    csv_path = write_csv(tmp_path / "cat.csv", make_catalog(tmp_path, 300))
    idx = tmp_path / "idx"
    proc = subprocess.Popen(
        ingest_cmd(cache_dir, csv_path, idx, 2, 4), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while len(committed_ids(idx)) < 8 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        searches, refused = 0, False
        while proc.poll() is None and time.monotonic() < deadline:
            with Catalog.open(idx, encoder=None, dim=None) as reader:
                ids = {it.id: it.vid for it in reader.store.items(reader.store.all_vids().tolist())}
                probe = sorted(ids)[0]
                assert probe in [h.id for h in reader.search(reader.vector_of(probe), 5)]  # ties possible
                searches += 1
            if not refused:
                with pytest.raises(IndexLockedError, match=r"another process \(pid \d+\) is writing"):
                    Catalog.open(idx, encoder=None, dim=None, writable=True)
                refused = True
        assert proc.wait(timeout=120) == 0
        assert searches >= 1 and refused
    finally:
        if proc.poll() is None:
            proc.kill()
