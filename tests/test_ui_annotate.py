"""What an answer rests on, drawn over its images (:mod:`demos.ui.annotate`), and the Ask tab's image slots:
previews of the uploads, the overlays the Ask handler returns, the evidence list naming what is outlined."""

from __future__ import annotations

import gradio as gr
import pytest
from PIL import Image

from demos.render import evidence_html
from demos.ui.annotate import MAX_BOXES, annotate, box_label
from demos.ui.ask_tab import (
    MAX_SHOWN,
    SHOWN_BOXES,
    SHOWN_SIDE,
    Shown,
    do_ask,
    preview_images,
    show_images,
    slot_updates,
)
from demos.ui.context import UiContext
from demos.upload_guard import ForbiddenPathError
from multimodal.ask.answers import Answer, Evidence


def image(w: int, h: int) -> Image.Image:
    return Image.new("RGB", (w, h), (240, 240, 235))


def answer(*citations: Evidence, derived: tuple[Evidence, ...] = (), abstained: bool = False) -> Answer:
    return Answer("two", 0.9, abstained, citations, derived=derived)


FACES = Evidence("image", "image:1#faces", "2 face(s) detected", 0.8, ((10, 10, 30, 40), (50, 5, 70, 35)))
LINE = Evidence("ocr", "image:2#ocr:L3", "  ABC   123 ", 0.7, ((0, 0, 60, 12),))
DOG = Evidence("image", "image:2#region:dog", "a dog", 0.6, ((5, 20, 45, 50),))


# ---- annotate: oracle tests ----------------------------------------------------------------------------------


def test_boxes_go_to_the_image_their_locator_names_with_short_labels():
    imgs = [image(100, 80), image(80, 60)]
    stray = (
        Evidence("image", "image:3#faces", "1 face(s) detected", 0.8, ((1, 1, 5, 5),)),  # no third image
        Evidence("image", "image:0#faces", "1 face(s) detected", 0.8, ((1, 1, 5, 5),)),  # numbers start at 1
        Evidence("context", "log.txt:L2", "valve 7", 0.5, ((1, 1, 5, 5),)),  # not an image fact
        Evidence("image", "image:1#colours", "colours: red 60%", 0.9),  # the whole image: nothing to draw
    )
    out = annotate(answer(FACES, LINE, *stray, derived=(FACES, DOG)), imgs)
    assert [img for img, _ in out] == imgs  # shown as given (full size: no sizes passed)
    assert out[0][1] == [((10, 10, 30, 40), "face 1"), ((50, 5, 70, 35), "face 2")]  # derived repeat: once
    assert out[1][1] == [((0, 0, 60, 12), "text: ABC 123"), ((5, 20, 45, 50), "dog region")]


def test_images_without_boxes_are_previews():
    imgs = [image(30, 20), image(20, 30)]
    assert annotate(None, imgs) == [(imgs[0], []), (imgs[1], [])]
    assert annotate(answer(), imgs) == [(imgs[0], []), (imgs[1], [])]
    assert annotate(answer(FACES), []) == []


def test_boxes_are_clipped_to_the_image_and_empty_ones_dropped():
    boxes = (
        (-10, -5, 20, 15),  # over the top-left corner: clipped
        (90, 70, 130, 120),  # over the bottom-right corner: clipped
        (120, 10, 150, 20),  # right of the image: nothing left
        (40, 40, 40, 60),  # no width
        (60, 50, 20, 10),  # right of its left edge: not a box
    )
    out = annotate(answer(Evidence("image", "image:1#people", "2 people", 0.8, boxes)), [image(100, 80)])
    assert out[0][1] == [((0, 0, 20, 15), "person 1"), ((90, 70, 100, 80), "person 2")]


def test_boxes_scale_from_the_original_to_the_image_shown():
    ev = Evidence("image", "image:1#faces", "1 face(s) detected", 0.8, ((10, 10, 101, 51), (399, 199, 400, 200)))
    out = annotate(answer(ev), [image(200, 100)], sizes=[(400, 200)])
    assert out[0][1] == [((5, 5, 51, 26), "face 1"), ((199, 99, 200, 100), "face 2")]  # outwards: never empty
    with pytest.raises(ValueError, match="1 original sizes for 2 images"):
        annotate(answer(ev), [image(20, 10), image(20, 10)], sizes=[(40, 20)])


def test_boxes_are_capped_per_image_in_evidence_order():
    many = tuple((i, i, i + 5, i + 5) for i in range(120))
    crowd = Evidence("image", "image:1#faces", "120 face(s) detected", 0.8, many)
    line = Evidence("ocr", "image:2#ocr:L1", "EXIT", 0.9, ((1, 1, 9, 9),))
    out = annotate(answer(crowd, line), [image(200, 200), image(20, 20)])
    assert [box for box, _ in out[0][1]] == list(many[:MAX_BOXES])  # the first 50, in order
    assert out[1][1] == [((1, 1, 9, 9), "text: EXIT")]  # the cap is per image
    assert len(annotate(answer(crowd), [image(200, 200)], max_boxes=3)[0][1]) == 3


def test_labels_are_short_and_human():
    assert box_label("faces", "3 face(s) detected") == "face"
    assert box_label("region:fire hydrant", "a fire hydrant") == "fire hydrant region"
    assert box_label("object2", "a red circle (12% of the image)") == "object 2"
    assert box_label("people", "2 people") == "person" and box_label("concepts", "dog (0.8)") == "concepts"
    long = box_label("ocr:L1", "THIS SIDE UP — HANDLE WITH CARE — FRAGILE GOODS")
    assert long.startswith("text: THIS SIDE UP") and long.endswith("…") and len(long) <= 32


# ---- the evidence list -----------------------------------------------------------------------------------------


def test_evidence_list_names_what_is_outlined_and_what_was_established():
    a = answer(FACES, derived=(FACES, DOG), abstained=True)
    html = evidence_html(a, {})
    assert "image:1#faces" in html and "(2 outlined)" in html
    assert html.index("also established from the images") < html.index("image:2#region:dog")
    assert html.count("image:1#faces") == 1  # cited already: not listed twice
    assert "(1 outlined)" in evidence_html(answer(derived=(DOG,)), {})  # nothing cited, yet facts established
    assert evidence_html(answer(), {}) == "<i>no citations</i>"


# ---- the Ask tab (tiny tier) -------------------------------------------------------------------------------------


def upload(ctx: UiContext, name: str, img: Image.Image) -> str:
    """A file as Gradio leaves an upload: inside the app's upload folder."""
    path = ctx.upload_root / "abc123" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return str(path)


def test_ask_handler_returns_the_images_with_what_the_answer_rests_on(ctx, monkeypatch):
    from multimodal.ask import pipeline

    wide = upload(ctx, "wide.png", image(1600, 800))  # shown at 768 x 384: boxes scale by 0.48
    small = upload(ctx, "small.png", image(64, 48))
    person = Evidence("image", "image:1#faces", "1 face(s) detected", 0.8, ((800, 400, 1600, 800),))
    given = answer(person, LINE, derived=(person,))

    def fake_stream(services, req, reader):
        assert [p.name for p in req.images] == ["wide.png", "small.png"]
        yield "two"
        yield pipeline.AskResult(given, (person, LINE))

    monkeypatch.setattr(pipeline, "ask_stream", fake_stream)
    outs = list(do_ask(ctx, [wide, small], "how many people?", [], "", False))
    assert outs[0][4] is None  # while the answer streams, the images shown stay as they are
    md, evidence, items, ocr, shown = outs[-1]
    assert "two" in md and "(1 outlined)" in evidence and ocr == "  ABC   123 "
    assert shown.note == "outlined: what the answer rests on"
    (first, boxes1), (second, boxes2) = shown.overlays
    assert first.size == (SHOWN_SIDE, SHOWN_SIDE // 2) and boxes1 == [((384, 192, 768, 384), "face")]
    assert second.size == (64, 48) and boxes2 == [((0, 0, 60, 12), "text: ABC 123")]
    updates = show_images(ctx, shown)
    assert updates[0] == shown.note and updates[-1] is None  # the session's copy is dropped once shown
    frames, values = updates[1 : 1 + MAX_SHOWN], updates[1 + MAX_SHOWN : -1]
    assert [f["visible"] for f in frames] == [True, True] + [False] * (MAX_SHOWN - 2)
    assert values[:2] == shown.overlays and values[2:] == [None] * (MAX_SHOWN - 2)
    assert show_images(ctx, None) == [gr.skip()] * (2 * MAX_SHOWN + 2)


def test_ask_handler_outlines_nothing_for_whole_image_facts(ctx):
    red = upload(ctx, "red.png", image(64, 64))
    *_, shown = list(do_ask(ctx, [red], "what color is the image?", [], "", False))[-1]
    assert len(shown.overlays) == 1 and shown.overlays[0][0].size == (64, 64)
    assert shown.overlays[0][1] == [] and shown.note.startswith("nothing to outline")  # colours: the whole image
    *_, shown = list(do_ask(ctx, [], "what color is the valve?", [], "valve 3 is blue", False))[-1]
    assert shown == Shown("", [])


def test_boxes_drawn_over_many_images_share_one_budget(ctx, monkeypatch):
    from multimodal.ask import pipeline

    paths = [upload(ctx, f"{n}.png", image(40, 40)) for n in range(8)]
    boxes = tuple((i % 30, i % 30, i % 30 + 9, i % 30 + 9) for i in range(40))
    crowds = tuple(Evidence("image", f"image:{n + 1}#faces", "40 face(s)", 0.8, boxes) for n in range(8))

    def fake_stream(services, req, reader):
        yield pipeline.AskResult(answer(*crowds), crowds)

    monkeypatch.setattr(pipeline, "ask_stream", fake_stream)
    *_, shown = list(do_ask(ctx, paths, "how many people?", [], "", False))[-1]
    assert [len(drawn) for _, drawn in shown.overlays] == [SHOWN_BOXES // 8] * 8  # 25 each, not 40


def test_uploads_are_previewed_and_only_uploads(ctx, tmp_path):
    paths = [upload(ctx, "a.png", image(2000, 1000)), upload(ctx, "b.png", image(40, 30))]
    note, *rest = preview_images(ctx, paths)
    frames, values = rest[:MAX_SHOWN], rest[MAX_SHOWN:]
    assert note == "" and [f["visible"] for f in frames[:3]] == [True, True, False]
    assert values[0][0].size == (SHOWN_SIDE, SHOWN_SIDE // 2) and values[0][1] == []
    assert values[1][0].size == (40, 30) and values[2:] == [None] * (MAX_SHOWN - 2)
    assert preview_images(ctx, None)[1:] == slot_updates(ctx, Shown("", []))[1:]  # cleared: every slot hidden
    outside = tmp_path / "secret.png"
    image(10, 10).save(outside)
    with pytest.raises(ForbiddenPathError, match="was not uploaded to this app"):
        preview_images(ctx, [str(outside)])
