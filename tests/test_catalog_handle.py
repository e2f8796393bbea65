"""The server's catalog handle: id rules, no silent replacement, no orphaned uploads, detected file types,
and readers that never wait for a writer (tiny encoder, small generated images)."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest
from PIL import Image

import demos.catalog_handle as catalog_handle
from demos.catalog_handle import CatalogHandle
from retrieval.errors import CatalogEmptyError, InvalidItemIdError, ItemExistsError, ItemNotFoundError


def image(colour, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(buf, fmt)
    return buf.getvalue()


RED, BLUE, GREEN = image((220, 0, 0)), image((0, 0, 220)), image((0, 200, 0))


@pytest.fixture
def handle(tiny_services, tmp_path):
    h = CatalogHandle(tmp_path / "idx", tiny_services)
    yield h
    h.close()


def stored_files(h: CatalogHandle) -> list[str]:
    root = h.folder / "uploads"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


# ---- D1: ids ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, rule",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a/b", "contains '/'"),
        ("a\\b", "contains '\\\\\\\\'"),
        ("a\x00b", "contains NUL"),
        ("line\nbreak", "control character U\\+000A"),
        ("rtl\u202eoverride", "control character U\\+202E"),
        (".", "is not allowed"),
        ("..", "is not allowed"),
        ("x" * 201, "201 characters; at most 200"),
        (1.5, "must be text"),
    ],
)
def test_item_id_rules_name_the_rule_broken(bad, rule):
    from retrieval.item_ids import validate_item_id

    with pytest.raises(InvalidItemIdError, match=rule):
        validate_item_id(bad)


def test_valid_item_ids_are_stripped_and_long_ones_shown_cut():
    from retrieval.item_ids import validate_item_id

    assert validate_item_id("  SKU-1 ") == "SKU-1"
    assert validate_item_id(42) == "42"
    assert validate_item_id("x" * 200) == "x" * 200
    with pytest.raises(InvalidItemIdError) as err:
        validate_item_id("y" * 5000)
    assert len(str(err.value)) < 200


def test_uploads_without_an_id_get_content_ids_not_their_file_name(handle):
    first = handle.add_uploads([("photo.png", RED)])  # two clients, same file name, different images
    second = handle.add_uploads([("photo.png", BLUE)])
    assert (first.added, second.added, second.updated) == (1, 1, 0)
    ids = [it.id for it in handle.reader().store.items(handle.reader().store.all_vids())]
    assert len(ids) == 2 and all(i.startswith("img-") and len(i) == 20 for i in ids)
    assert handle.add_uploads([("photo.png", RED)]).unchanged == 1  # the same image again: nothing changes


def test_an_existing_id_is_replaced_only_when_asked(handle):
    handle.add_uploads([("a.png", RED)], {"colour": "red"}, item_id="sku1")
    with pytest.raises(ItemExistsError, match="'sku1' is already in the catalog.*replace=true"):
        handle.add_uploads([("b.png", BLUE)], item_id="sku1")
    with pytest.raises(ItemExistsError, match="'sku1'"):  # same image, other metadata: also a replacement
        handle.add_uploads([("a.png", RED)], {"colour": "blue", "id": "sku1"})
    assert handle.image_path("sku1").read_bytes() == RED
    assert len(stored_files(handle)) == 1  # the refused images were never written
    summary = handle.add_uploads([("b.png", BLUE)], item_id="sku1", replace=True)
    assert summary.updated == 1 and handle.image_path("sku1").read_bytes() == BLUE
    assert len(stored_files(handle)) == 1  # the replaced image's file is gone


def test_ids_are_validated_and_name_one_image(handle):
    with pytest.raises(InvalidItemIdError, match="contains '/'"):
        handle.add_uploads([("a.png", RED)], {"id": "a/b"})
    with pytest.raises(InvalidItemIdError, match="empty"):
        handle.add_uploads([("a.png", RED)], item_id="")
    with pytest.raises(InvalidItemIdError, match="one image per id"):
        handle.add_uploads([("a.png", RED), ("b.png", BLUE)], item_id="x")
    with pytest.raises(InvalidItemIdError, match="two different ids"):
        handle.add_uploads([("a.png", RED)], {"id": "x"}, item_id="y")
    assert stored_files(handle) == [] and not handle.exists()


def test_racing_adds_of_one_id_cannot_both_succeed(handle):
    handle.add_uploads([("g.png", GREEN)], {"id": "seed"})  # the catalog exists before the race
    barrier, outcomes = threading.Barrier(2), []

    def add(data):
        barrier.wait()
        try:
            outcomes.append(handle.add_uploads([("x.png", data)], {"id": "same"}).added)
        except ItemExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=add, args=(d,)) for d in (RED, BLUE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes, key=str) == [1, "refused"]


def test_catalog_file_rows_follow_the_id_and_replace_rules(handle):
    handle.add_uploads([("r.png", RED)], item_id="r1")
    rows = b"id,image,colour\nr1,blue.png,blue\nok,blue.png,blue\nbad/id,blue.png,blue\n..,blue.png,blue\n"
    summary = handle.add_catalog_file("items.csv", rows, [("blue.png", BLUE)])
    reasons = dict(summary.failed)
    assert summary.added == 1 and handle.image_path("ok").read_bytes() == BLUE
    assert "'r1' is already in the catalog" in reasons["items.csv:2"] and "replace=true" in reasons["items.csv:2"]
    assert "contains '/'" in reasons["items.csv:4"] and "is not allowed" in reasons["items.csv:5"]
    assert all("/tmp" not in w + r for w, r in summary.failed)  # no server paths in the report
    assert handle.image_path("r1").read_bytes() == RED
    again = handle.add_catalog_file("items.csv", b"id,image\nr1,green.png\n", [("green.png", GREEN)], replace=True)
    assert again.failed == [] and again.updated == 1 and handle.image_path("r1").read_bytes() == GREEN
    assert not [f for f in stored_files(handle) if f.startswith("batch-")]  # no staging folder is left


# ---- D3: written after validation, no orphans -----------------------------------------------------------------


def test_a_failed_ingest_leaves_no_files(handle, monkeypatch):
    handle.add_uploads([("g.png", GREEN)], item_id="keep")
    before = stored_files(handle)

    def broken_ingest(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(catalog_handle, "ingest", broken_ingest)
    with pytest.raises(RuntimeError, match="disk full"):
        handle.add_uploads([("a.png", RED), ("b.png", BLUE)])
    assert stored_files(handle) == before


def test_refused_uploads_write_nothing(handle):
    summary = handle.add_uploads([("notes.png", b"plain text, not an image")])
    assert "notes.png: not an image" in summary.failed[0][1]
    assert stored_files(handle) == [] and not handle.exists()  # not even an empty catalog


def test_remove_deletes_files_no_item_references(handle):
    handle.add_uploads([("a.png", RED)], item_id="a")
    handle.add_uploads([("b.png", BLUE)], item_id="b")
    kept = handle.image_path("b")
    assert len(stored_files(handle)) == 2
    assert list(handle.remove(["a"])) == ["a"]
    assert stored_files(handle) == [kept.name] and kept.read_bytes() == BLUE


def test_orphans_are_collected_when_the_catalog_opens(tiny_services, tmp_path):
    first = CatalogHandle(tmp_path / "idx", tiny_services)
    first.add_uploads([("a.png", RED)], item_id="a")
    kept = first.image_path("a")
    first.close()
    uploads = tmp_path / "idx" / "uploads"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (uploads / "stray.png").write_bytes(BLUE)
    (uploads / ".half-written.part").write_bytes(b"x")
    (uploads / "batch-0123").mkdir()
    (uploads / "batch-0123" / "items.csv").write_text("id,image\nz,z.png\n")
    (uploads / "batch-0123" / "z.png").write_bytes(GREEN)
    (uploads / "link-to-file").symlink_to(outside / "precious.txt")
    (uploads / "link-to-dir").symlink_to(outside, target_is_directory=True)

    second = CatalogHandle(tmp_path / "idx", tiny_services)
    assert stored_files(second) == [kept.name]
    assert (outside / "precious.txt").read_text() == "keep me"  # links were removed, never followed
    assert second.image_path("a").read_bytes() == RED
    assert second.collect_orphans() == 0
    second.close()


# ---- stored suffix and media type ------------------------------------------------------------------------------


def test_stored_files_take_the_detected_format_not_the_client_name(handle):
    handle.add_uploads([("evil.png", image((9, 9, 9), "JPEG"))], item_id="j")
    handle.add_uploads([("page.html", image((1, 2, 3), "PNG"))], item_id="p")
    handle.add_uploads([("noext", image((5, 5, 5), "GIF"))], item_id="g")
    for item_id, suffix, media in [("j", ".jpg", "image/jpeg"), ("p", ".png", "image/png"), ("g", ".gif", "image/gif")]:
        path, media_type = handle.image_file(item_id)
        assert path.suffix == suffix and media_type == media
        assert handle.image_path(item_id) == path
    with pytest.raises(ItemNotFoundError, match="no item 'missing'"):
        handle.image_file("missing")


def test_readers_of_a_missing_catalog_get_catalog_empty(tiny_services, tmp_path):
    h = CatalogHandle(tmp_path / "nothing", tiny_services)
    with pytest.raises(CatalogEmptyError, match="empty"):
        h.reader()
    with pytest.raises(CatalogEmptyError):
        h.image_file("x")


# ---- H3: readers never wait for a writer -----------------------------------------------------------------------


def test_readers_answer_while_a_writer_holds_the_lock(handle):
    handle.add_uploads([("a.png", RED)], {"id": "a"})
    started, release = threading.Event(), threading.Event()

    def blocking_progress(n):
        started.set()
        release.wait(10)

    writer = threading.Thread(target=handle.add_uploads, args=([("b.png", BLUE)], {"id": "b"}, blocking_progress))
    writer.start()
    try:
        assert started.wait(10)
        answers = {}

        def read():
            answers["image"] = handle.image_path("a")
            answers["count"] = handle.reader().store.count()

        reader = threading.Thread(target=read)
        t0 = time.perf_counter()
        reader.start()
        reader.join(0.5)
        waited = time.perf_counter() - t0
        assert not reader.is_alive(), f"a reader waited {waited:.2f}s for the writer"
        assert answers["image"].read_bytes() == RED
    finally:
        release.set()
        writer.join(30)
    assert handle.image_path("b").read_bytes() == BLUE


def test_replaced_readers_stay_usable_by_threads_holding_them(handle):
    handle.add_uploads([("a.png", RED)], item_id="a")
    old = handle.reader()
    handle.add_uploads([("b.png", BLUE)], item_id="b")
    assert handle.reader() is not old
    assert old.store.count() >= 1  # not closed under a thread that may still be searching with it


def test_symlinked_uploads_folder_is_never_cleaned(tiny_services, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "unrelated.png").write_bytes(GREEN)
    first = CatalogHandle(tmp_path / "idx", tiny_services)
    first.add_uploads([("a.png", RED)], item_id="a")
    first.close()
    (tmp_path / "idx" / "uploads").rename(tmp_path / "moved")
    os.symlink(elsewhere, tmp_path / "idx" / "uploads")
    second = CatalogHandle(tmp_path / "idx", tiny_services)
    assert second.collect_orphans() == 0 and (elsewhere / "unrelated.png").exists()
    second.close()
