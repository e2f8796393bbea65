"""Reading folders and CSV / JSONL / Parquet catalogs, with malformed rows reported by line."""

from __future__ import annotations

import json
import os

import pytest

from retrieval.errors import SourceError
from retrieval.sources import SourceProblem, SourceRow, read_source
from tests.catalog_data import make_catalog, write_csv, write_jsonl, write_parquet


@pytest.mark.parametrize("writer", [write_csv, write_jsonl, write_parquet])
def test_catalog_files_give_typed_rows(tmp_path, writer):
    rows = make_catalog(tmp_path, 6)
    path = writer(
        tmp_path / f"cat.{ {write_csv: 'csv', write_jsonl: 'jsonl', write_parquet: 'parquet'}[writer] }", rows
    )
    got = list(read_source(path))
    assert all(isinstance(r, SourceRow) for r in got)
    assert [r.id for r in got] == [f"sku{i}" for i in range(6)]
    assert got[0].image == str((tmp_path / "images/000.jpg").absolute())
    assert got[0].metadata == {"color": "Red", "shape": "circle", "year": 2010, "title": "Red circle number 0"}


def test_column_detection_and_overrides(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("sku,picture,price\nA1,a.jpg,9.5\n")
    with pytest.raises(
        SourceError,
        match=r"no image column \(looked for image, path, file.*\); name it with "
        r"--image-column",
    ):
        list(read_source(path))
    row = next(read_source(path, image_column="picture", id_column="sku"))
    assert row.id == "A1" and row.metadata == {"price": 9.5}
    with pytest.raises(SourceError, match="no column 'nope' for --id-column"):
        list(read_source(path, image_column="picture", id_column="nope"))


def test_id_defaults_to_the_image_path(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("path,kind\nimgs/x.jpg,a\nhttps://example.com/y.jpg,b\n")
    got = list(read_source(path))
    assert [r.id for r in got] == ["imgs/x.jpg", "https://example.com/y.jpg"]
    assert got[1].image == "https://example.com/y.jpg"


def test_malformed_rows_are_reported_with_file_and_line(tmp_path):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("id,image,color\n1,a.jpg,Red\n2,,Blue\n3,c.jpg\n4,d.jpg,Red,extra\n")
    got = list(read_source(csv_path))
    problems = [(p.where, p.reason) for p in got if isinstance(p, SourceProblem)]
    assert problems == [
        (f"{csv_path}:3", "no image in column 'image'"),
        (f"{csv_path}:4", "wrong number of fields (expected 3)"),
        (f"{csv_path}:5", "wrong number of fields (expected 3)"),
    ]
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"id": 1, "image": "a.jpg"}\n{broken\n[1, 2]\n\n{"id": 2, "image": "b.jpg", "tags": ["x"]}\n')
    got = list(read_source(jl))
    assert [type(r).__name__ for r in got] == ["SourceRow", "SourceProblem", "SourceProblem", "SourceRow"]
    assert got[1].where == f"{jl}:2" and "invalid JSON" in got[1].reason
    assert got[3].metadata == {"tags": '["x"]'}


def test_folders_recurse_and_refuse_escaping_symlinks(tmp_path):
    make_catalog(tmp_path / "shop", 3)
    (tmp_path / "shop" / "images" / "notes.txt").write_text("skip")
    outside = tmp_path / "secret.jpg"
    outside.write_bytes((tmp_path / "shop" / "images" / "000.jpg").read_bytes())
    os.symlink(outside, tmp_path / "shop" / "images" / "link.jpg")
    got = list(read_source(tmp_path / "shop"))
    rows = [r for r in got if isinstance(r, SourceRow)]
    assert [r.id for r in rows] == ["images/000.jpg", "images/001.jpg", "images/002.jpg"]
    assert rows[0].metadata == {"folder": "images"}
    assert any(isinstance(p, SourceProblem) and "symlink pointing outside" in p.reason for p in got)


def test_unusable_sources(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        read_source(tmp_path / "missing.csv")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(SourceError, match="expected a folder of images or a .csv, .jsonl, .ndjson, .parquet"):
        read_source(tmp_path / "x.txt")
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(SourceError, match="not a readable Parquet file"):
        list(read_source(tmp_path / "x.parquet"))


def test_catalog_file_paths_stay_inside_allowed_roots(tmp_path):
    shop = tmp_path / "shop"
    make_catalog(shop, 2)
    secret = tmp_path / "private" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes((shop / "images" / "000.jpg").read_bytes())
    os.symlink(secret, shop / "images" / "link.jpg")
    rows = [
        {"id": "ok", "image": "images/000.jpg"},
        {"id": "dotdot", "image": "../private/secret.jpg"},
        {"id": "sneaky", "image": "images/../../private/secret.jpg"},
        {"id": "absolute", "image": str(secret)},
        {"id": "etc", "image": "/etc/passwd"},
        {"id": "symlink", "image": "images/link.jpg"},
    ]
    path = write_csv(shop / "c.csv", rows)
    got = {r.id if isinstance(r, SourceRow) else r.where: r for r in read_source(path)}
    assert [k for k, r in got.items() if isinstance(r, SourceRow)] == ["ok"]
    problems = [r for r in got.values() if isinstance(r, SourceProblem)]
    assert len(problems) == 5 and all("outside the allowed folders" in p.reason for p in problems)
    assert all("--allow-root DIR" in p.reason for p in problems)
    allowed = [r for r in read_source(path, roots=[tmp_path / "private"]) if isinstance(r, SourceRow)]
    assert sorted(r.id for r in allowed) == ["absolute", "dotdot", "ok", "sneaky", "symlink"]  # never /etc


def test_cli_index_add_reports_paths_outside_roots(tmp_path, cache_dir, capsys):
    from sceneqa.cli import main
    from tests.cli_util import tiny_argv

    shop = tmp_path / "shop"
    make_catalog(shop, 2)
    path = write_csv(shop / "c.csv", [{"id": "ok", "image": "images/000.jpg"}, {"id": "x", "image": "/etc/hostname"}])
    code = main([*tiny_argv(cache_dir), "index", "add", str(path), "--index", str(tmp_path / "idx"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and out["added"] == 1
    assert any("/etc/hostname: outside the allowed folders" in str(f) for f in out["failed"])
