"""Evaluation data loaders on good and malformed files."""

from __future__ import annotations

import pytest

from eval.data import load_labelled
from multimodal.errors import ConfigError


def test_labelled_folder(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "a.png").write_bytes(b"x")
    (tmp_path / "dog" / "notes.txt").write_text("skip me")
    got = load_labelled(tmp_path)
    assert [(p.path.name, p.label) for p in got.items] == [("a.png", "cat"), ("a.png", "dog")]


def test_csv_with_malformed_rows_reported_by_line(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("path,label\nimages/a.jpg,cat\n,dog\nimages/b.jpg\nimages/c.jpg,dog,extra\n/abs/d.jpg,cow\n")
    got = load_labelled(csv)
    assert [(str(i.path), i.label) for i in got.items] == [
        (str(tmp_path / "images/a.jpg"), "cat"),
        ("/abs/d.jpg", "cow"),
    ]
    assert got.problems == (
        f"{csv}:3: empty path",
        f"{csv}:4: wrong number of fields",
        f"{csv}:5: wrong number of fields",
    )


def test_csv_column_errors_and_limit(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("file,kind\na.jpg,x\nb.jpg,y\n")
    with pytest.raises(ConfigError, match=r"no column 'path' \(columns: file, kind\); set --path-column"):
        load_labelled(csv)
    got = load_labelled(csv, path_column="file", label_column="kind", limit=1)
    assert len(got.items) == 1
    with pytest.raises(ConfigError, match="expected a folder of class subfolders or a .csv file"):
        load_labelled(tmp_path / "missing.json")
