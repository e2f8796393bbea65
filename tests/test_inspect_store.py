"""Inspect: the saved folder (roundtrip, atomic replace, provenance, corruption) with the tiny backbone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multimodal.inspect import FitConfig, create_backbone, fit_inspector, load_state, open_inspector, save_inspector
from multimodal.inspect.errors import (
    BackboneMismatchError,
    CorruptInspectorError,
    InspectorError,
    InspectorNotFoundError,
)
from multimodal.inspect.store import BANK, META, list_names, validate_name
from tests.inspect_data import texture


@pytest.fixture(scope="module")
def tiny():
    return create_backbone("tiny")


@pytest.fixture(scope="module")
def state(tiny):
    return fit_inspector("parts", tiny, [texture(i) for i in range(10)], FitConfig(image_size=128))


def test_save_load_roundtrip_scores_the_same(tmp_path, tiny, state):
    save_inspector(tmp_path, state)
    loaded = load_state(tmp_path, "parts")
    assert loaded.config == state.config and loaded.calibration == state.calibration
    assert loaded.backbone == state.backbone and loaded.shape == state.shape and loaded.report == state.report
    for key, arr in state.bank.arrays().items():
        np.testing.assert_array_equal(loaded.bank.arrays()[key], arr)
    probe = [texture(50), texture(51, blob=(40, 40, 14))]
    a = open_inspector(tmp_path, "parts", tiny).inspect(probe)
    from multimodal.inspect import Inspector

    b = Inspector(state, tiny).inspect(probe)
    assert [r.score for r in a] == pytest.approx([r.score for r in b], rel=1e-6)
    meta = json.loads((tmp_path / "parts" / META).read_text())
    assert meta["backbone"]["spec"] == "tiny" and meta["config"]["layers"] == [3, 4]
    assert meta["input_shape"] == [128, 128] and "Gumbel" in meta["calibration"]["how"]
    assert list_names(tmp_path) == ["parts"]


def test_existing_inspector_is_kept_unless_replace(tmp_path, state):
    save_inspector(tmp_path, state)
    with pytest.raises(InspectorError, match="already exists.*--replace"):
        save_inspector(tmp_path, state)
    save_inspector(tmp_path, state, replace=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts"]  # no temp folders left


def test_a_failed_save_leaves_the_old_inspector_whole(tmp_path, state, monkeypatch):
    save_inspector(tmp_path, state)
    before = (tmp_path / "parts" / BANK).read_bytes()
    import multimodal.inspect.store as store

    def broken(folder, st):
        (folder / BANK).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(store, "_write", broken)
    with pytest.raises(OSError, match="disk full"):
        save_inspector(tmp_path, state, replace=True)
    assert (tmp_path / "parts" / BANK).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parts"]
    load_state(tmp_path, "parts")


def test_another_backbone_is_refused_naming_both(tmp_path, state):
    save_inspector(tmp_path, state)
    with pytest.raises(BackboneMismatchError, match=r"built with backbone 'tiny'.*running backbone is 'tiny:1'"):
        open_inspector(tmp_path, "parts", create_backbone("tiny:1"))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / BANK).unlink(), "damaged"),
        (lambda d: (d / BANK).write_bytes((d / BANK).read_bytes()[:-10]), "checksum"),
        (lambda d: (d / META).write_text("{not json"), "damaged"),
        (lambda d: (d / META).write_text(json.dumps({"format": "other/9"})), "format 'other/9'"),
        (lambda d: _edit_meta(d, lambda m: m["config"].update(layers=[2, 4])), "do not fit layers"),
        (lambda d: _edit_meta(d, lambda m: m["bank"].pop("sha256")), "damaged"),
    ],
)
def test_a_corrupted_folder_is_a_clear_error(tmp_path, state, damage, message):
    save_inspector(tmp_path, state)
    damage(tmp_path / "parts")
    with pytest.raises(CorruptInspectorError, match=message):
        load_state(tmp_path, "parts")


def _edit_meta(folder, edit) -> None:
    meta = json.loads((folder / META).read_text())
    edit(meta)
    (folder / META).write_text(json.dumps(meta))


def test_unknown_and_bad_names(tmp_path, state):
    save_inspector(tmp_path, state)
    with pytest.raises(InspectorNotFoundError, match="no inspector 'nope'.*known: parts"):
        load_state(tmp_path, "nope")
    for bad in ("../x", "a/b", "", ".hidden", "fit", "x" * 65):
        with pytest.raises(InspectorError, match="not allowed"):
            validate_name(bad)
