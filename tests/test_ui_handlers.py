"""The UI's module-level handlers called with plain inputs, without building any Blocks (tiny encoder,
scene-facts answerer): classify, search (typed and widget filters), ask, add/remove, the filter widgets
following the catalog's schema, and the binding that Gradio wires."""

from __future__ import annotations

import hashlib
import inspect
import io
import json

import gradio as gr
import pytest
from PIL import Image, ImageDraw

from demos.ui.ask_tab import do_ask
from demos.ui.catalog_tab import add_files, catalog_info, remove_ids
from demos.ui.classify_tab import do_classify, verdict
from demos.ui.context import UiContext, bind
from demos.ui.search_tab import do_search, more_like, refresh_filters
from demos.ui.widgets import CHOICE_SLOTS, RANGE_SLOTS, FilterLayout, read_layout
from retrieval.catalog import Catalog
from retrieval.records import ItemRecord

WIDGETS = CHOICE_SLOTS + 2 * RANGE_SLOTS
COLOURS = {"red": (220, 30, 30), "blue": (30, 60, 220), "green": (40, 170, 60)}


def drawing(colour: str, seed: int = 0) -> bytes:
    img = Image.new("RGB", (64, 64), (245, 245, 240))
    ImageDraw.Draw(img).ellipse((10 + seed % 7, 10, 54, 54), fill=COLOURS[colour])
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def no_progress(*args, **kwargs) -> None:
    return None


def upload(ctx: UiContext, name: str, data: bytes) -> str:
    """A file as Gradio leaves an upload: inside the app's upload folder."""
    path = ctx.upload_root / "abc123" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def trusted_add(ctx: UiContext, rows: list[tuple[str, str, dict]]) -> None:
    """Add ``(id, colour, metadata)`` drawings as ``sceneqa index add`` does: metadata keys become columns."""
    enc = ctx.services.encoder
    src = ctx.catalog.folder.parent / "src"
    src.mkdir(exist_ok=True)
    records = []
    for i, (item_id, colour, meta) in enumerate(rows):
        data = drawing(colour, seed=i + len(item_id))
        path = src / f"{item_id}.png"
        path.write_bytes(data)
        vec = enc.embed_images([Image.open(io.BytesIO(data)).convert("RGB")])[0]
        records.append(ItemRecord(item_id, str(path), hashlib.sha256(data).hexdigest(), vec, meta))
    with Catalog.open(ctx.catalog.folder, encoder=enc.spec, dim=enc.dim, writable=True, create=True) as cat:
        cat.upsert(records)
        cat.commit()


def test_classify_returns_the_verdict_of_the_uploaded_image(ctx):
    from multimodal.classify import classify_sources
    from multimodal.zeroshot import ZeroShotOptions

    path = upload(ctx, "red.png", drawing("red"))
    plot, shown = do_classify(ctx, path, "a red circle, a blue square", False)
    expected = classify_sources(
        ctx.services, [path], "a red circle, a blue square", ZeroShotOptions(multi_label=False, top_k=20)
    )[0]
    assert shown == verdict(expected.result)
    assert isinstance(plot, gr.BarPlot)
    with pytest.raises(gr.Error, match="upload an image first"):
        do_classify(ctx, None, "a, b", False)


def test_verdict_wording():
    class Result:
        abstained, supported = False, ["cat", "dog"]

    assert verdict(Result()) == "supported: **cat, dog**"
    Result.abstained = True
    assert verdict(Result()).startswith("**none of these**")


def test_search_returns_gallery_and_records_without_server_paths(ctx, tmp_path):
    trusted_add(ctx, [(f"{c}{i}", c, {"colour": c, "price": 10 * i}) for i, c in enumerate(COLOURS)])
    gallery, ids, records = do_search(ctx, "a red circle", None, 0.5, "", "", 2, False)
    assert len(gallery) == len(ids) == len(records) == 2
    assert all(isinstance(img, Image.Image) and caption.startswith(i) for (img, caption), i in zip(gallery, ids))
    assert [r["id"] for r in records] == ids and set(records[0]) == {"id", "score", "metadata"}
    assert str(tmp_path) not in json.dumps(records)
    _, ids, _ = do_search(ctx, "a circle", None, 0.5, "", "colour=blue\n\n", 5, False)
    assert ids == ["blue1"]
    _, ids, _ = more_like(ctx, ["red0", "blue1"], 5, gr.EventData(None, {"index": 0}))
    assert sorted(ids) == ["blue1", "green2"]  # every other item, never the one clicked


def test_search_widgets_map_values_to_their_columns(ctx):
    trusted_add(ctx, [(f"{c}{i}", c, {"colour": c, "price": 10 * i}) for i, c in enumerate(COLOURS)])
    layout = read_layout(ctx.catalog)
    assert [s.column for s in layout.choices] == ["colour"] and [s.column for s in layout.ranges] == ["price"]
    values = [["green", "red"], *[[]] * (CHOICE_SLOTS - 1), "", "15"]  # colour in (green, red), price <= 15
    _, ids, records = do_search(ctx, "a circle", None, 0.5, "", "", 5, False, layout, *values)
    assert ids == ["red0"] and records[0]["metadata"]["colour"] == "red"
    _, ids, _ = do_search(ctx, "a circle", None, 0.5, "", "", 5, False, None, *values)  # no layout: no widgets
    assert len(ids) == 3


def test_filter_widgets_follow_schema_changes(ctx):
    assert refresh_filters(ctx, None)[0] == FilterLayout()  # no catalog yet: every slot hidden
    trusted_add(ctx, [("r", "red", {"colour": "red"}), ("b", "blue", {"colour": "blue"})])
    first = refresh_filters(ctx, FilterLayout(), *[None] * WIDGETS)
    layout, hint, *updates = first
    assert [s.column for s in layout.choices] == ["colour"] and "`colour`: " in hint
    assert updates[0]["visible"] is True and updates[0]["choices"] == ["blue", "red"]
    assert all(u["visible"] is False for u in updates[1:CHOICE_SLOTS])
    same = refresh_filters(ctx, layout, ["red"], *[None] * (WIDGETS - 1))
    assert all(u == gr.skip() for u in same)  # nothing changed: the session keeps its widgets and values
    # a trusted writer declares new columns (the CLI, on the same folder): the next refresh shows them
    trusted_add(
        ctx, [("g", "green", {"colour": "green", "shape": "round", "year": 2012}), ("s", "red", {"shape": "flat"})]
    )
    layout2, hint2, *updates = refresh_filters(ctx, layout, ["red"], *[None] * (WIDGETS - 1))
    assert [s.column for s in layout2.choices] == ["colour", "shape"] and [s.column for s in layout2.ranges] == ["year"]
    assert updates[0]["value"] == ["red"] and updates[0]["choices"] == ["blue", "green", "red"]  # kept
    assert updates[1]["visible"] is True and updates[1]["label"] == "shape"
    rows = updates[CHOICE_SLOTS : CHOICE_SLOTS + RANGE_SLOTS]
    assert [r["visible"] for r in rows] == [True, False, False, False]
    assert updates[CHOICE_SLOTS + RANGE_SLOTS]["label"] == "year from" and "`year` (integer)" in hint2


def test_ask_yields_the_final_answer_with_its_evidence(ctx):
    image = upload(ctx, "red.png", drawing("red"))
    log = upload(
        ctx, "inspection.log", b"09:30 valve 3 inspected: seal intact\n10:05 valve 7 inspected: seal cracked\n"
    )
    outs = list(do_ask(ctx, [image], "what color is the circle?", [], "", False))
    answer, evidence, items, ocr, shown = outs[-1]
    assert "red" in answer and "image:1#object1" in evidence and items == []
    (_, boxes), *more = shown.overlays  # the annotated preview: the circle's outline drawn over image 1
    assert not more and [label for _, label in boxes] == ["object 1"] and "outlined" in shown.note
    answer, evidence, _, _, _ = list(do_ask(ctx, [], "what was found when valve 7 was inspected?", [log], "", False))[
        -1
    ]
    assert "cracked" in answer and "inspection.log" in evidence
    assert ctx.gate.stats()["busy"] == 0


def test_add_and_remove_items(ctx):
    red, blue = upload(ctx, "red.png", drawing("red")), upload(ctx, "blue.png", drawing("blue"))
    status, info = add_files(ctx, [red], '{"id": "valve-1", "kind": "valve"}', None, no_progress)
    assert status.startswith("added 1, updated 0") and "**1 items**" in info
    status, info = add_files(ctx, [blue], "", None, no_progress)
    assert status.startswith("added 1,") and "**2 items**" in info and info == catalog_info(ctx)
    assert read_layout(ctx.catalog) == FilterLayout()  # a client's keys are no columns (S4): no widgets
    with pytest.raises(gr.Error, match="metadata is not JSON"):
        add_files(ctx, [red], "{kind: valve}", None, no_progress)
    with pytest.raises(gr.Error, match="choose image files"):
        add_files(ctx, [], "", None, no_progress)
    status, info = remove_ids(ctx, "valve-1, nothing-here")
    assert status == "removed 1; not found: nothing-here" and "**1 items**" in info
    with pytest.raises(gr.Error, match="enter item ids"):
        remove_ids(ctx, " \n")


def test_bind_keeps_what_gradio_reads(ctx, tmp_path):
    from gradio.helpers import special_args
    from gradio.utils import get_type_hints

    bound = bind(more_like, ctx)
    assert bound.__name__ == "more_like" and list(inspect.signature(bound).parameters) == ["ids", "k", "evt"]
    assert get_type_hints(bound)["evt"] is gr.EventData and special_args(bound)[2] == 2  # event data passed
    add = bind(add_files, ctx)
    assert special_args(add)[1] == 3  # gr.Progress passed as the fourth argument
    ask = bind(do_ask, ctx)
    assert inspect.isgeneratorfunction(ask) and ask.__name__ == "do_ask"
    search = bind(do_search, ctx)
    with pytest.raises(gr.Error, match="catalog is empty") as info:  # our error, server folders scrubbed
        search("red", None, 0.5, "", "", 4, False)
    assert str(tmp_path) not in str(info.value)
