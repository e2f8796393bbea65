"""Ingestion into an index folder with the tiny encoder: upsert, resume, bad rows, duplicates, types."""

from __future__ import annotations

import numpy as np
import pytest

from multimodal.ingest.local import IngestOptions, ingest
from retrieval.catalog import Catalog
from retrieval.sources import read_source
from tests.catalog_data import draw, make_catalog, write_csv, write_parquet


def open_rw(folder, enc):
    return Catalog.open(folder, encoder=enc.spec, dim=enc.dim, writable=True, create=True)


def test_add_resume_update_and_metadata(tmp_path, tiny_services):
    enc = tiny_services.encoder
    rows = make_catalog(tmp_path, 20)
    csv_path = write_csv(tmp_path / "cat.csv", rows)
    with open_rw(tmp_path / "idx", enc) as cat:
        s = ingest(cat, enc, read_source(csv_path), IngestOptions(chunk=7, commit_every=5))
        assert (s.added, s.updated, s.unchanged, s.failed, s.duplicates) == (20, 0, 0, [], [])
        assert s.embedded == 20 and s.count == 20 and s.index_type == "flat"
        again = ingest(cat, enc, read_source(csv_path))
        assert (again.added, again.unchanged, again.embedded) == (0, 20, 0)  # resume: nothing re-embedded
        rows[3]["title"] = "renamed"
        draw("Green", "circle", 99).save(tmp_path / rows[5]["image"], quality=92)
        changed = ingest(cat, enc, read_source(write_csv(csv_path, rows)))
        assert (changed.metadata, changed.updated, changed.unchanged, changed.embedded) == (1, 1, 18, 1)
        assert cat.store.schema() == {"color": "text", "shape": "text", "year": "integer", "title": "text"}
        assert cat.store.count() == 20 and cat.index.live_count() == 20


def test_bad_rows_and_duplicates_are_reported_not_fatal(tmp_path, tiny_services):
    enc = tiny_services.encoder
    rows = make_catalog(tmp_path, 6)
    (tmp_path / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (tmp_path / "images" / "copy.jpg").write_bytes((tmp_path / rows[0]["image"]).read_bytes())
    rows += [
        {**rows[1], "id": "broken", "image": "images/broken.jpg"},
        {**rows[1], "id": "gone", "image": "images/missing.jpg"},
        {**rows[1], "id": "copy", "image": "images/copy.jpg"},
        {**rows[1], "id": "sku1"},
    ]
    with open_rw(tmp_path / "idx", enc) as cat:
        s = ingest(cat, enc, read_source(write_csv(tmp_path / "c.csv", rows)))
    assert s.added == 6 and s.duplicates == [("copy", "sku0")]
    reasons = [r for _, r in s.failed]
    assert any("broken.jpg: " in r and ("corrupt" in r or "not a recognised" in r) for r in reasons)
    assert any("missing.jpg: file not found" in r for r in reasons)
    assert any("id 'sku1' appears again in this source" in r for r in reasons)


def test_parquet_and_auto_index_type(tmp_path, tiny_services):
    enc = tiny_services.encoder
    rows = make_catalog(tmp_path, 8)
    with open_rw(tmp_path / "idx", enc) as cat:
        s = ingest(cat, enc, read_source(write_parquet(tmp_path / "c.parquet", rows)), IngestOptions(index_type="hnsw"))
        assert s.added == 8 and cat.index.params.kind == "hnsw"
        hits = cat.search(cat.vector_of("sku2"), 3)
        assert hits[0].id == "sku2" and hits[0].score == pytest.approx(1.0, abs=1e-2)


def test_lite_query_composition_is_pure():
    from multimodal.errors import ConfigError
    from multimodal.search import compose_query

    a, b = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)
    np.testing.assert_allclose(compose_query([(a, 0.5), (b, 0.5)]), [2**-0.5, 2**-0.5], rtol=1e-6)
    np.testing.assert_allclose(
        compose_query([(a, 1.0)], negative=b, negative_weight=1.0), [2**-0.5, -(2**-0.5)], rtol=1e-6
    )
    with pytest.raises(ConfigError, match="the query cancels out"):
        compose_query([(a, 1.0)], negative=a, negative_weight=1.0)


def test_ingest_decodes_at_most_two_batches_at_once(tmp_path, tiny_services, monkeypatch):
    from multimodal.ingest import local as ingest_mod
    from tests.test_batch_embed import LiveImages

    enc = tiny_services.encoder
    rows = make_catalog(tmp_path, 20)
    live = LiveImages(ingest_mod.load_image)
    monkeypatch.setattr(ingest_mod, "load_image", live)
    ticks = []
    with open_rw(tmp_path / "idx", enc) as cat:
        source = read_source(write_csv(tmp_path / "c.csv", rows))
        s = ingest(cat, enc, source, IngestOptions(chunk=10, batch=2), ticks.append)
        assert (s.added, s.embedded, s.failed, s.count) == (20, 20, [], 20) and ticks == [10, 10]
        assert live.decoded == 20 and 1 <= live.peak <= 2 * 2  # a batch embedded and one decoded ahead, not a chunk
        hits = cat.search(cat.vector_of("sku7"), 1)
        assert hits[0].id == "sku7"


def test_ingest_stops_between_batches_when_its_deadline_passes(tmp_path, tiny_services):
    from multimodal.deadline import Deadline, DeadlineExceeded, deadline_scope
    from multimodal.errors import ConfigError

    enc = tiny_services.encoder
    rows = make_catalog(tmp_path, 6)
    deadline = Deadline(60)
    with open_rw(tmp_path / "idx", enc) as cat:
        with deadline_scope(deadline), pytest.raises(DeadlineExceeded, match="cancelled .*at ingesting images"):
            source = read_source(write_csv(tmp_path / "c.csv", rows))
            ingest(cat, enc, source, IngestOptions(chunk=2, batch=2), progress=lambda n: deadline.cancel())
        assert cat.store.count() == 2  # the first chunk was stored, nothing after the deadline
        again = ingest(cat, enc, read_source(tmp_path / "c.csv"))  # outside a request: no deadline; resumes
        assert (again.added, again.unchanged) == (4, 2)
    with pytest.raises(ConfigError, match="chunk and batch must be >= 1"):
        IngestOptions(batch=0)
