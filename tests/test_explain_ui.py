"""The UI's "Show why" toggles (issue 17): heatmap overlays of the top labels (Classify) and the top results
(Search), capped and said so; off by default, with no model work while unticked; /classify and /search keep
their API inputs and outputs (the overlays are a second, internal event)."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr
import pytest
from PIL import Image

from demos.ui import classify_tab, search_tab
from demos.ui.classify_tab import WHY_MAX, show_why
from demos.ui.context import bind
from demos.ui.search_tab import WHY_HITS, do_search, search_why
from tests.test_ui_handlers import drawing, trusted_add, upload


def no_model_work(*_a, **_k):
    raise AssertionError("explain work ran although 'Show why' is not ticked")


def test_classify_why_is_off_by_default_and_does_no_work(ctx, monkeypatch):
    monkeypatch.setattr(classify_tab, "why_overlays", no_model_work)
    monkeypatch.setattr(type(ctx), "gated", no_model_work)
    monkeypatch.setattr(type(ctx), "direct", no_model_work)
    path = upload(ctx, "red.png", drawing("red"))
    gallery, note = show_why(ctx, path, "a, b", False, "")  # the toggle's default: unticked
    assert gallery["visible"] is False and gallery["value"] is None and note["visible"] is False
    assert show_why(ctx, path, "a, b", False, "", False)[0]["visible"] is False


def test_classify_why_shows_the_top_labels_capped(ctx):
    path = upload(ctx, "red.png", drawing("red"))
    labels = "a red circle, a blue square, a cat, a dog, a cup, a car"
    gallery, note = show_why(ctx, path, labels, False, "", True)
    items = gallery["value"]
    assert gallery["visible"] and len(items) == WHY_MAX
    for picture, caption in items:
        assert isinstance(picture, Image.Image) and picture.size == (64, 64)
        assert caption.split(":")[0] in labels and ("around x=" in caption or "flat" in caption)
    assert f"{WHY_MAX} of 6 labels" in note["value"] and f"at most {WHY_MAX}" in note["value"]
    gallery, note = show_why(ctx, path, "a red circle, a cat", False, "", True)
    assert len(gallery["value"]) == 2 and "at most" not in note["value"]


def test_classify_why_without_image_or_with_an_unknown_label_set_says_why(ctx):
    gallery, note = show_why(ctx, None, "a, b", False, "", True)
    assert gallery["visible"] is False and "upload an image" in note["value"]
    path = upload(ctx, "red.png", drawing("red"))
    with pytest.raises(gr.Error, match="no label set 'nope'"):  # a taught one: tests/test_explain_labelset.py
        bind(show_why, ctx)(path, "a, b", False, "nope", True)


def test_search_why_explains_the_top_hits_capped(ctx):
    trusted_add(ctx, [(f"item{i}", c, {}) for i, c in enumerate(["red", "blue", "green", "red", "blue"])])
    _, ids, _ = do_search(ctx, "a red circle", None, 0.5, "", "", 5, False)
    gallery, note = search_why(ctx, "a red circle", None, ids, True)
    items = gallery["value"]
    assert len(items) == WHY_HITS and [c.split(" ")[0] for _, c in items] == ids[:WHY_HITS]
    assert all(isinstance(p, Image.Image) for p, _ in items)
    assert f"top {WHY_HITS} of 5 results" in note["value"] and f"at most {WHY_HITS}" in note["value"]
    query = upload(ctx, "q.png", drawing("blue"))
    gallery, _ = search_why(ctx, None, query, ids[:2], True)  # an image query: its embedding is the target
    assert len(gallery["value"]) == 2 and all("(the query image)" in c for _, c in gallery["value"])


def test_search_why_off_empty_and_like_queries(ctx, monkeypatch):
    monkeypatch.setattr(search_tab, "hit_overlays", no_model_work)
    assert search_why(ctx, "red", None, ["a"])[0]["visible"] is False  # default: unticked
    assert "search first" in search_why(ctx, "red", None, [], True)[1]["value"]
    assert "not explained" in search_why(ctx, "", None, ["a"], True)[1]["value"]  # "more like this"
    gallery, note = search_tab.hide_why()
    assert gallery["visible"] is False and note["value"] == ""


def test_search_why_names_a_hit_whose_image_is_gone(ctx):
    trusted_add(ctx, [("red0", "red", {}), ("blue1", "blue", {})])
    gallery, note = search_why(ctx, "a red circle", None, ["red0", "gone"], True)
    assert len(gallery["value"]) == 1 and "gone: no item" in note["value"]


def test_api_events_keep_their_inputs_and_outputs(tiny_services, tmp_path):
    from demos.server import create_app
    from demos.web_config import WebConfig

    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))
    app = create_app(services, WebConfig(index=tmp_path / "idx", inspectors_dir=tmp_path / "insp"))
    fns = {fn.api_name: fn for fn in app.state.demo.fns.values()}
    assert (len(fns["classify"].inputs), len(fns["classify"].outputs)) == (4, 2)
    assert len(fns["search"].outputs) == 3 and "show_why" not in fns and "search_why" not in fns
    why = [b for b in app.state.demo.blocks.values() if getattr(b, "elem_id", None) == "classify-why"]
    assert len(why) == 1 and isinstance(why[0], gr.Checkbox) and why[0].value is False
    internal = [fn for fn in app.state.demo.fns.values() if fn.name in ("show_why", "search_why")]
    assert len(internal) == 4 and all(fn.api_visibility == "private" for fn in internal)


@pytest.mark.parametrize("fn", [show_why, search_why])
def test_why_inputs_default_to_unticked(fn):
    import inspect

    assert inspect.signature(fn).parameters["why"].default is False
