"""Distributed ingestion: embedding shards (format, sampling), building an index from shards (flat and
IVF-PQ, bounded by shard), the shard worker against the local ingest, and the Ray engine on a local Ray
cluster it starts (equality with the local path, resume after a killed run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from multimodal.encoders.base import EncoderOptions
from multimodal.encoders.factory import create_encoder
from multimodal.ingest.local import IngestOptions, IngestSummary, ingest
from multimodal.ingest.shard_build import build_from_shards
from multimodal.ingest.shard_embed import ShardTask, embed_shard, plan_shards
from multimodal.runtime import Runtime
from retrieval.catalog import Catalog
from retrieval.shards import Shard, list_shards, planned_ids, read_shard, sample_vectors, shard_bytes, shard_name
from retrieval.shards import write_shard as put
from retrieval.sources import SourceRow, read_source
from tests.catalog_data import make_catalog, write_csv, write_parquet
from tests.cli_util import tiny_argv


def synthetic_shard(rng, start: int, n: int, dim: int, failed=()) -> Shard:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = [f"i{start + k}" for k in range(n)]
    return Shard(
        ids=ids,
        images=[f"/x/{i}.jpg" for i in ids],
        hashes=[f"h{i}" for i in ids],
        metadata=[json.dumps({"n": start + k, "colour": "red" if k % 2 else "blue"}) for k in range(n)],
        vectors=v,
        failed=list(failed),
        planned=tuple(ids) + tuple(w for w, _ in failed),
    )


def test_shard_round_trip_and_footer(tmp_path):
    rng = np.random.default_rng(0)
    shard = synthetic_shard(rng, 0, 50, 16, failed=[("cat.csv:9", "not an image")])
    shard.vectors[3] = np.nan  # unchanged content: no vector, metadata refresh only
    put(tmp_path / shard_name(0), shard_bytes(shard, 16))
    back = read_shard(tmp_path / shard_name(0))
    assert back.ids == shard.ids and back.failed == [("cat.csv:9", "not an image")]
    assert np.array_equal(np.isnan(back.vectors), np.isnan(shard.vectors))
    assert np.allclose(np.nan_to_num(back.vectors), np.nan_to_num(shard.vectors))
    assert planned_ids(tmp_path / shard_name(0)) == shard.planned
    records = back.records()
    assert records[3].vector is None and records[4].metadata == {"n": 4, "colour": "blue"}
    (tmp_path / shard_name(1)).write_bytes(b"PAR1 damaged")
    assert planned_ids(tmp_path / shard_name(1)) is None
    assert list_shards(tmp_path) == [tmp_path / shard_name(0), tmp_path / shard_name(1)]


def test_sample_draws_across_shards(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for k in range(4):
        paths.append(tmp_path / shard_name(k))
        put(paths[-1], shard_bytes(synthetic_shard(rng, k * 100, 100, 8), 8))
    sample = sample_vectors(paths, 120, seed=0)
    assert sample.shape == (120, 8)
    everything = np.concatenate([read_shard(p).vectors for p in paths])
    rows = {tuple(np.round(r, 5)) for r in everything}
    assert all(tuple(np.round(r, 5)) in rows for r in sample)


@pytest.mark.parametrize("kind", ["flat", "ivfpq"])
def test_build_from_shards_equals_the_vectors(tmp_path, kind):
    rng = np.random.default_rng(2)
    dim, per, count = 32, 1500, 6
    paths = []
    for k in range(count):
        paths.append(tmp_path / "shards" / shard_name(k))
        put(paths[-1], shard_bytes(synthetic_shard(rng, k * per, per, dim, failed=[(f"row{k}", "bad")]), dim))
    summary = build_from_shards(tmp_path / "idx", paths, encoder="bench:shards", dim=dim, index_type=kind)
    assert summary.added == per * count and summary.count == per * count and summary.index_type == kind
    assert [w for w, _ in summary.failed] == [f"row{k}" for k in range(count)]
    with Catalog.open(tmp_path / "idx", encoder=None, dim=None) as cat:
        assert set(cat.index.live_ids().tolist()) == set(cat.store.all_vids().tolist())
        assert cat.manifest.encoder == "bench:shards" and cat.manifest.index.kind == kind
        shard = read_shard(paths[4])
        assert np.allclose(cat.vector_of(shard.ids[7]), shard.vectors[7], atol=1e-3)  # stored as float16
        hits = [h.id for h in cat.search(shard.vectors[7], 5)]
        assert shard.ids[7] in hits
        vid = cat.store.vids_for([shard.ids[8]])[shard.ids[8]]
        assert cat.store.items([vid])[0].metadata == {"n": 4 * per + 8, "colour": "blue"}
    again = build_from_shards(tmp_path / "idx", paths, encoder="bench:shards", dim=dim, index_type=kind)
    assert again.unchanged == per * count and again.added == 0  # idempotent: a rerun adds nothing


@pytest.fixture(scope="module")
def catalog_csv(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog")
    rows = make_catalog(root, 300)
    rows[17]["image"] = "images/missing.jpg"  # a failed row, reported by both engines
    (root / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    rows[40]["image"] = "images/broken.jpg"
    return write_csv(root / "catalog.csv", rows)


def snapshot(folder) -> tuple[dict, dict]:
    with Catalog.open(folder, encoder=None, dim=None) as cat:
        items = {it.id: it for it in cat.store.items(cat.store.all_vids().tolist())}
        vectors = {i: cat.vector_of(i) for i in items}
        assert set(cat.index.live_ids().tolist()) == set(cat.store.all_vids().tolist())
        return {i: (it.image, dict(it.metadata)) for i, it in items.items()}, vectors


def test_shard_worker_matches_the_local_ingest(tmp_path, cache_dir, catalog_csv):
    encoder = create_encoder("tiny:open_clip", Runtime("cpu", "fp32"), EncoderOptions(cache_dir=cache_dir))
    with Catalog.open(tmp_path / "local", encoder=encoder.spec, dim=encoder.dim, writable=True, create=True) as cat:
        local = ingest(cat, encoder, read_source(catalog_csv), IngestOptions(chunk=16))
    summary = IngestSummary()
    tasks = list(plan_shards(read_source(catalog_csv), 64, summary, lambda ids: {}))
    assert [len(t.rows) for t in tasks] == [64, 64, 64, 64, 44] and summary.failed == []
    assert ShardTask.from_json(tasks[1].to_json()) == tasks[1]
    paths = []
    for task in tasks:
        paths.append(tmp_path / "shards" / shard_name(task.number))
        put(paths[-1], shard_bytes(embed_shard(task, encoder, IngestOptions(), batch=8), encoder.dim))
    built = build_from_shards(tmp_path / "sharded", paths, encoder=encoder.spec, dim=encoder.dim)
    assert (built.added, len(built.failed)) == (local.added, len(local.failed)) == (298, 2)
    assert sorted(w for w, _ in built.failed) == sorted(w for w, _ in local.failed)
    items_a, vec_a = snapshot(tmp_path / "local")
    items_b, vec_b = snapshot(tmp_path / "sharded")
    assert items_a == items_b
    assert max(float(np.abs(vec_a[i] - vec_b[i]).max()) for i in vec_a) < 1e-3


def test_parquet_dataset_in_parts(tmp_path):
    rows = make_catalog(tmp_path, 9)
    (tmp_path / "ds").mkdir()
    for k in range(3):
        for r in rows[k * 3 : k * 3 + 3]:
            r["image"] = "../" + r["image"]
        write_parquet(tmp_path / "ds" / f"part-{k}.parquet", rows[k * 3 : k * 3 + 3])
    got = list(read_source(tmp_path / "ds", roots=[tmp_path]))
    assert [r.id for r in got if isinstance(r, SourceRow)] == [f"sku{i}" for i in range(9)]
    assert len([r for r in read_source(tmp_path / "ds") if not isinstance(r, SourceRow)]) == 9  # outside: refused


# ---- the Ray engine on a local Ray cluster -------------------------------------------------------------------


def ray_cmd(cache_dir, csv, index, *extra) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sceneqa.cli",
        *tiny_argv(cache_dir),
        "index",
        "add",
        str(csv),
        "--index",
        str(index),
        "--engine",
        "ray",
        "--num-workers",
        "2",
        "--batch-size",
        "8",
        "--json",
        *extra,
    ]


@pytest.mark.slow
def test_ray_engine_equals_local_and_resumes_after_a_kill(tmp_path, cache_dir, catalog_csv):
    pytest.importorskip("ray")
    from sceneqa.cli import main

    assert main([*tiny_argv(cache_dir), "index", "add", str(catalog_csv), "--index", str(tmp_path / "local")]) == 0
    # a run killed (driver and its local Ray, the whole process group) after some shards were written
    index = tmp_path / "ray"
    proc = subprocess.Popen(
        ray_cmd(cache_dir, catalog_csv, index, "--shard-size", "10"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while len(list_shards(index / "shards")) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = len(list_shards(index / "shards"))
    assert 4 <= written < 30 and not (index / "manifest.json").exists()
    done = subprocess.run(
        ray_cmd(cache_dir, catalog_csv, index, "--shard-size", "10"), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed: {written} shard(s) already embedded" in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["added"] == 298 and len(summary["failed"]) == 2 and summary["count"] == 298
    assert not (index / "shards").exists()  # removed after a successful build
    items_a, vec_a = snapshot(tmp_path / "local")
    items_b, vec_b = snapshot(index)
    assert items_a == items_b
    assert max(float(np.abs(vec_a[i] - vec_b[i]).max()) for i in vec_a) < 1e-3
    # a rerun over the built index re-embeds nothing: unchanged content is skipped by its hash
    again = subprocess.run(ray_cmd(cache_dir, catalog_csv, index), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["unchanged"] == 298


@pytest.mark.slow
def test_ray_address_joins_a_running_cluster(tmp_path, cache_dir, catalog_csv):
    """`ray start --head` here, then `--ray-address auto`: the cluster path (joining, not starting, Ray).
    Ends with `ray stop --force`, which stops every Ray of this user on the machine: CI runs one suite at a time."""
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    import secrets

    # Ray >= 2.52 authenticates its clients: the same token for the cluster and for sceneqa, as on a real cluster
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    start = subprocess.run(
        [
            ray_bin,
            "start",
            "--head",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        run = subprocess.run(
            ray_cmd(
                cache_dir, catalog_csv, tmp_path / "idx", "--ray-address", f"127.0.0.1:{port}", "--shard-size", "100"
            ),
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        summary = json.loads(run.stdout.strip().splitlines()[-1])
        assert summary["added"] == 298 and len(summary["failed"]) == 2
        bad = subprocess.run(
            ray_cmd(cache_dir, catalog_csv, tmp_path / "idx2", "--ray-address", "127.0.0.1:1"),
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert bad.returncode != 0 and "cannot reach the Ray cluster at 127.0.0.1:1" in bad.stderr
    finally:
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=120, env=env)


def test_shard_cleanup_touches_only_shard_files(tmp_path):
    from multimodal.ingest.ray_ingest import SPEC_FILE, _check_shard_spec, _remove_shards

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's own file")
    _check_shard_spec(folder, {"encoder": "a"})
    put(folder / shard_name(0), shard_bytes(synthetic_shard(np.random.default_rng(0), 0, 3, 4), 4))
    (folder / ".shard-000001.parquet.x1y2.tmp").write_bytes(b"half")  # left by a kill mid-write
    _check_shard_spec(folder, {"encoder": "b"})  # another encoder: the stale shards go
    assert sorted(p.name for p in folder.iterdir()) == sorted([SPEC_FILE, "notes.txt"])
    _remove_shards(folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    empty = tmp_path / "shards"
    _check_shard_spec(empty, {"encoder": "a"})
    _remove_shards(empty)
    assert not empty.exists()


def test_an_interrupted_ivfpq_build_resumes(tmp_path, monkeypatch):
    """The trained, empty IVF-PQ index is committed before any item: a build that dies midway is rerun with
    the same quantizer and completes."""
    import multimodal.ingest.shard_build as sb

    rng = np.random.default_rng(3)
    dim, per = 16, 1200
    paths = [tmp_path / "s" / shard_name(k) for k in range(4)]
    for k, p in enumerate(paths):
        put(p, shard_bytes(synthetic_shard(rng, k * per, per, dim), dim))
    real = sb.iter_shard_parts

    def dies_at_the_first(path, rows):
        if path == paths[0]:
            raise RuntimeError("killed")
        return real(path, rows)

    monkeypatch.setattr(sb, "iter_shard_parts", dies_at_the_first)
    with pytest.raises(RuntimeError, match="killed"):
        build_from_shards(
            tmp_path / "idx", paths, encoder="bench:shards", dim=dim, index_type="ivfpq", commit_every_shards=1
        )
    monkeypatch.setattr(sb, "iter_shard_parts", real)
    done = build_from_shards(tmp_path / "idx", paths, encoder="bench:shards", dim=dim, index_type="ivfpq")
    assert done.count == 4 * per and done.index_type == "ivfpq" and done.added == 4 * per


def test_reused_shards_must_match_their_task_exactly(tmp_path):
    from multimodal.ingest.ray_ingest import _done, _options_fingerprint, task_fingerprint

    row = SourceRow(id="a", image="/x/a.jpg", metadata={"colour": "red"}, where="c.csv:2")
    task = ShardTask(0, (row,), ("",))
    opts = _options_fingerprint(IngestOptions(), 8)
    shard = synthetic_shard(np.random.default_rng(0), 0, 1, 4)
    from dataclasses import replace

    put(tmp_path / shard_name(0), shard_bytes(replace(shard, fingerprint=task_fingerprint(task, opts)), 4))
    assert _done(tmp_path, task, opts)
    changed_meta = ShardTask(0, (SourceRow(id="a", image="/x/a.jpg", metadata={"colour": "blue"}, where="c"),), ("",))
    assert not _done(tmp_path, changed_meta, opts)
    assert not _done(tmp_path, ShardTask(0, (row,), ("f00d",)), opts)  # the index changed since
    assert not _done(tmp_path, task, _options_fingerprint(IngestOptions(allow_urls=True), 8))
