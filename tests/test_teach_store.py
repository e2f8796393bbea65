"""Label-set names, example sources, and the label-set folder: roundtrip, provenance, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from multimodal.teach import store
from multimodal.teach.errors import LabelSetEncoderMismatchError, LabelSetError, LabelSetNotFoundError
from multimodal.teach.examples import Example, ExampleOptions, check_label_count, hash_and_dedupe, read_examples
from multimodal.teach.features import FeatureSpec
from multimodal.teach.head import HeadConfig, fit_head
from multimodal.teach.names import labelsets_dir, validate_name
from multimodal.teach.store import ExampleMemory, LabelSet, list_names, load_labelset, remove_labelset, save_labelset
from tests.test_teach_head import clusters


@pytest.mark.parametrize(
    "name, rule",
    [
        ("a/b", "'/'"),
        ("..", "'/'"),
        ("x..y", "'/'"),
        ("my labels", "outside letters"),
        ("x" * 1000, "1000 characters"),
        ("", "empty"),
        (".hidden", "outside letters"),
        ("tab\tname", "outside letters"),
    ],
)
def test_bad_names_are_refused_with_the_rule(name, rule):
    with pytest.raises(LabelSetError, match=rule):
        validate_name(name)


def test_good_names_pass_and_the_folder_is_under_the_cache(tmp_path):
    assert validate_name("shoe-types_v2.1") == "shoe-types_v2.1"
    assert labelsets_dir(tmp_path) == tmp_path / "labelsets"
    assert labelsets_dir(tmp_path, tmp_path / "mine") == tmp_path / "mine"


def draw(path, colour, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (40, 30), colour)
    img.putpixel((seed % 40, 0), (seed % 256, 0, 0))  # distinct bytes per seed
    img.save(path)
    return path


def test_folder_source_labels_from_subfolders(tmp_path):
    for i in range(2):
        draw(tmp_path / "src" / "red" / f"{i}.png", (255, 0, 0), i)
        draw(tmp_path / "src" / "blue box" / f"{i}.png", (0, 0, 255), i)
    draw(tmp_path / "src" / "loose.png", (0, 0, 0))
    got = read_examples(tmp_path / "src")
    assert got.counts() == {"blue box": 2, "red": 2}
    assert any("loose.png" in p and "label sub-folder" in p for p in got.problems)


def test_catalog_source_label_column_and_confinement(tmp_path):
    draw(tmp_path / "cat" / "a.png", (255, 0, 0))
    draw(tmp_path / "outside.png", (0, 0, 0))
    csv = tmp_path / "cat" / "catalog.csv"
    csv.write_text("path,kind\na.png,red\na.png,\n../outside.png,red\nhttps://x.test/a.jpg,red\n")
    got = read_examples(csv, ExampleOptions(label_column="kind"))
    assert [(e.label, e.id) for e in got.examples] == [("red", "a.png")]
    text = "\n".join(got.problems)
    assert "no label" in text and "outside the allowed folders" in text and "URL" in text
    with pytest.raises(LabelSetError, match="no usable example"):
        read_examples(csv, ExampleOptions(label_column="colour"))  # no such column: no row has a label


def test_source_without_examples_and_too_many_labels(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelSetError, match="no usable example"):
        read_examples(tmp_path / "empty")
    with pytest.raises(LabelSetError, match="10000 labels; a label set holds at most 1000"):
        check_label_count(10_000, "x")


def test_duplicates_within_and_across_labels_and_unreadable_files(tmp_path):
    a = draw(tmp_path / "a.png", (255, 0, 0))
    b = draw(tmp_path / "b.png", (0, 255, 0))
    ex = [
        Example("1", str(a), "red", "red/1"),
        Example("2", str(a), "red", "red/2"),  # same bytes, same label: used once
        Example("3", str(a), "green", "green/3"),  # same bytes, other label: kept, reported
        Example("4", str(b), "green", "green/4"),
        Example("5", str(tmp_path / "gone.png"), "green", "green/5"),
    ]
    got = hash_and_dedupe(ex)
    assert [e.id for e in got.examples] == ["1", "3", "4"]
    assert all(len(e.sha256) == 64 for e in got.examples)
    text = "\n".join(got.problems)
    assert "red/2: same image as red/1" in text and "used once" in text
    assert "green/3: same image as red/1" in text and "kept under both" in text
    assert "green/5: cannot be read" in text


def make_labelset(name="shoes", spec="tiny:open_clip", dim=8) -> LabelSet:
    x, y, _ = clusters(n_labels=3, per_label=4, dim=6)
    labels = ("boots", "heels", "sneakers")
    head = fit_head(x, y, labels, config=HeadConfig(c_grid=(1.0,), proto_grid=(0.0, 5.0), folds=2))
    examples = tuple(Example(f"id{i}", "", labels[k], f"w{i}", f"{i:064x}") for i, k in enumerate(y))
    emb = np.random.default_rng(0).normal(size=(len(y), dim)).astype(np.float32)
    memory = ExampleMemory(x.astype(np.float32), None, emb, y)
    return LabelSet(name, spec, dim, "open_clip", FeatureSpec("embedding", False), head, None, examples, memory)


def test_save_load_roundtrip_keeps_head_and_provenance(tmp_path):
    ls = make_labelset()
    path = save_labelset(tmp_path, ls)
    assert path == tmp_path / "shoes" and list_names(tmp_path) == ["shoes"]
    back = load_labelset(tmp_path, "shoes", encoder_spec="tiny:open_clip", encoder_dim=8)
    x = ls.memory.x
    assert np.allclose(back.head.probabilities(x), ls.head.probabilities(x), atol=1e-6)
    assert back.counts() == {"boots": 4, "heels": 4, "sneakers": 4}
    meta = json.loads((path / "labelset.json").read_text())
    assert meta["encoder"] == {"spec": "tiny:open_clip", "dim": 8, "family": "open_clip"}
    assert meta["cv"]["accuracy"] == ls.head.cv.accuracy
    assert back.head.cv.confusion == ls.head.cv.confusion and len(back.head.cv.confusion) == 3
    assert [e["sha256"] for e in meta["examples"]] == [e.sha256 for e in ls.examples]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_confusion_of_the_wrong_shape_is_damage(tmp_path):
    path = save_labelset(tmp_path, make_labelset())
    meta = json.loads((path / "labelset.json").read_text())
    meta["cv"]["confusion"] = [[1, 0], [0, 1]]
    (path / "labelset.json").write_text(json.dumps(meta))
    with pytest.raises(LabelSetError, match="damaged.*confusion counts are not 3 x 3"):
        load_labelset(tmp_path, "shoes")


def test_another_encoder_is_refused_naming_both(tmp_path):
    save_labelset(tmp_path, make_labelset())
    with pytest.raises(LabelSetEncoderMismatchError, match=r"'tiny:open_clip' \(dim 8\).*'lite' \(dim 2280\)"):
        load_labelset(tmp_path, "shoes", encoder_spec="lite", encoder_dim=2280)


def test_a_failed_save_leaves_nothing_and_keeps_the_old_version(tmp_path, monkeypatch):
    calls = []

    def broken(path, **arrays):
        calls.append(path.name)
        if len(calls) == 2:
            raise OSError("disk full")
        np.savez(path, **arrays)

    monkeypatch.setattr(store, "_write_npz", broken)
    with pytest.raises(OSError, match="disk full"):
        save_labelset(tmp_path, make_labelset())
    assert list(tmp_path.iterdir()) == []  # no partial folder, no temp folder
    monkeypatch.setattr(store, "_write_npz", lambda path, **a: np.savez(path, **a))
    save_labelset(tmp_path, make_labelset())
    calls.clear()
    monkeypatch.setattr(store, "_write_npz", broken)
    with pytest.raises(OSError):
        save_labelset(tmp_path, make_labelset(dim=16))
    assert [p.name for p in tmp_path.iterdir()] == ["shoes"]
    assert load_labelset(tmp_path, "shoes").encoder_dim == 8  # the old version, whole


def test_missing_damaged_and_removed(tmp_path):
    save_labelset(tmp_path, make_labelset())
    with pytest.raises(LabelSetNotFoundError, match="no label set 'boots'.*known: shoes"):
        load_labelset(tmp_path, "boots")
    (tmp_path / "shoes" / "head.npz").write_bytes(b"garbage")
    with pytest.raises(LabelSetError, match="damaged.*labelsets remove shoes"):
        load_labelset(tmp_path, "shoes")
    remove_labelset(tmp_path, "shoes")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(LabelSetNotFoundError):
        remove_labelset(tmp_path, "shoes")
