"""The server's inspector shelf and the store under concurrency (tiny backbone): a second fit of a running
name is refused, concurrent saves of one name leave one whole inspector and no temporary folders, a refit on
disk is picked up, a damaged one is forgotten."""

from __future__ import annotations

import threading

import pytest

from multimodal.inspect import FitConfig, create_backbone, fit_inspector
from multimodal.inspect.errors import CorruptInspectorError, InspectorExistsError, InspectorNotFoundError
from multimodal.inspect.shelf import FitRunningError, InspectorShelf
from multimodal.inspect.store import BANK, load_state, save_inspector
from tests.inspect_data import texture

CONFIG = FitConfig(image_size=64)
GOOD = [texture(i, 64) for i in range(6)]


@pytest.fixture(scope="module")
def tiny():
    return create_backbone("tiny")


@pytest.fixture()
def shelf(tmp_path, tiny):
    made: list[str] = []

    def backbones(spec: str):
        made.append(spec)
        return tiny

    s = InspectorShelf(tmp_path / "inspectors", default_backbone="tiny", backbones=backbones)
    s.made = made  # type: ignore[attr-defined]
    return s


def test_a_second_fit_of_a_running_name_is_refused(shelf):
    started, release, errors = threading.Event(), threading.Event(), []

    def slow(stage, done, total):
        started.set()
        release.wait(30)

    first = threading.Thread(target=lambda: shelf.fit("race", GOOD, CONFIG, progress=slow))
    first.start()
    assert started.wait(30)
    try:
        shelf.fit("race", GOOD, CONFIG, replace=True)
    except FitRunningError as exc:
        errors.append(str(exc))
    release.set()
    first.join()
    assert errors and "being fitted by another request" in errors[0]
    assert shelf.names() == ["race"] and shelf.open("race").name == "race"
    with pytest.raises(InspectorExistsError, match="already exists"):
        shelf.fit("race", GOOD, CONFIG)
    assert shelf.made == ["tiny"]  # the backbone is loaded once


def test_concurrent_saves_of_one_name(tmp_path, tiny):
    states = [fit_inspector("same", tiny, GOOD[: 2 + i], CONFIG) for i in range(4)]
    root = tmp_path / "inspectors"
    outcomes: list[str] = []

    def save(state, replace):
        try:
            save_inspector(root, state, replace=replace)
            outcomes.append("saved")
        except InspectorExistsError:
            outcomes.append("exists")

    threads = [threading.Thread(target=save, args=(s, False)) for s in states]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["exists"] * 3 + ["saved"]
    outcomes.clear()
    threads = [threading.Thread(target=save, args=(s, True)) for s in states]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["saved"] * 4
    assert sorted(p.name for p in root.iterdir()) == ["same"]  # no temporary folders left
    assert load_state(root, "same").report.images_used in {2, 3, 4, 5}  # one whole inspector


def test_the_shelf_follows_the_disk(shelf, tiny):
    shelf.fit("tex", GOOD[:3], CONFIG)
    first = shelf.open("tex")
    assert shelf.open("tex") is first  # kept while unchanged
    save_inspector(shelf.root, fit_inspector("tex", tiny, GOOD, CONFIG), replace=True)  # a refit elsewhere
    again = shelf.open("tex")
    assert again is not first and again.state.report.images_used == len(GOOD)
    (shelf.root / "tex" / BANK).write_bytes(b"broken")
    with pytest.raises(CorruptInspectorError, match="refit it"):
        shelf.open("tex")
    assert [r["name"] for r in shelf.summaries()] == ["tex"] and "error" in shelf.summaries()[0]
    with pytest.raises(InspectorNotFoundError, match="no inspector 'gone'"):
        shelf.open("gone")
