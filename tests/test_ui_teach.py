"""The Teach tab's handlers and the Classify tab's label-set picker, called with plain inputs (tiny encoder, no
browser): examples added label by label into the session state, teaching with progress into the server's
label-set folder (the one the API lists), the per-label table and confusion figure, classify with the picked
label set, and the bad inputs (names, label counts, caps, files outside the upload folder, another encoder)."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import gradio as gr
import numpy as np
import pytest
from PIL import Image, ImageDraw

from demos.labelsets_api import labelsets_root, list_rows
from demos.ui import teach_tab
from demos.ui.classify_tab import do_classify, labelset_choices, verdict
from demos.ui.context import UiContext, bind
from demos.ui.teach_tab import add_label_images, clear_examples, teach_labelset

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 190, 30)}


def png(colour: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (64, 48), tuple(int(v) for v in rng.integers(200, 256, 3)))
    x = int(rng.integers(0, 30))
    ImageDraw.Draw(img).rectangle([x, 8, x + 30, 40], fill=COLOURS[colour])
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class Progress:
    """Records what a handler reports through ``gr.Progress``."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, value=None, desc=None, unit=None, **kwargs) -> None:
        self.calls.append((value, desc))


@pytest.fixture()
def tctx(tiny_services, tmp_path, monkeypatch):
    """The UI context over tiny services with a private cache dir (label sets of one test never meet another's)."""
    from demos.catalog_handle import CatalogHandle
    from demos.gate import ModelGate
    from multimodal.engine.config import EngineConfig
    from multimodal.engine.engine import Engine

    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))
    root = tmp_path / "uploads"
    root.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(root))
    handle = CatalogHandle(tmp_path / "idx", services)
    engine = Engine(EngineConfig(call_threads=1, queue_size=4))
    yield UiContext(services, handle, ModelGate(engine), root, request_timeout_s=60)
    engine.stop()
    handle.close()


def uploads(ctx: UiContext, colour: str, n: int, start: int = 0) -> list[str]:
    out = []
    for i in range(start, start + n):
        path = ctx.upload_root / f"u{colour}{i}" / f"{colour}-{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png(colour, 100 * len(colour) + i))
        out.append(str(path))
    return out


def chosen_three(ctx: UiContext, per_label: int = 4) -> dict:
    state: dict = {}
    for colour in COLOURS:
        state, table, cleared = add_label_images(ctx, f" {colour}  box ", uploads(ctx, colour, per_label), state)
        assert cleared is None
    return state


def test_images_are_added_label_by_label_into_a_fresh_state(tctx):
    first = add_label_images(tctx, "red box", uploads(tctx, "red", 2), None)[0]
    state, table, _ = add_label_images(tctx, "red box", uploads(tctx, "red", 3, start=1), first)
    assert first == {"red box": first["red box"]} and len(first["red box"]) == 2  # the input state is not mutated
    assert len(state["red box"]) == 4  # the repeated upload (red-1) is counted once
    state, table, _ = add_label_images(tctx, "blue box", uploads(tctx, "blue", 1), state)
    assert table == [["red box", 4], ["blue box", 1]]
    assert clear_examples(tctx) == ({}, [])


def test_adding_refuses_what_cannot_be_taught_naming_the_fix(tctx, monkeypatch, tmp_path):
    add = bind(add_label_images, tctx)
    with pytest.raises(gr.Error, match="type the label"):
        add("  ", uploads(tctx, "red", 1), {})
    with pytest.raises(gr.Error, match="choose 1 to 50 image files"):
        add("red", [], {})
    with pytest.raises(gr.Error, match="at most 200 characters|characters; at most"):
        add("x" * 1000, uploads(tctx, "red", 1), {})
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(png("red", 0))
    with pytest.raises(gr.Error, match="outside|upload"):
        add("red", [str(outside)], {})
    monkeypatch.setattr(teach_tab, "MAX_PER_LABEL", 3)
    with pytest.raises(gr.Error, match="'red' would have 4 images; at most 3 per label"):
        add("red", uploads(tctx, "red", 4), {})
    monkeypatch.setattr(teach_tab, "MAX_EXAMPLES", 5)
    state = add("red", uploads(tctx, "red", 3), {})[0]
    with pytest.raises(gr.Error, match="6 examples in all; the Teach tab takes at most 5"):
        add("blue", uploads(tctx, "blue", 3), state)


def test_teach_saves_in_the_server_folder_with_progress_table_and_confusion(tctx):
    state = chosen_three(tctx)
    progress = Progress()
    summary, rows, fig = teach_labelset(tctx, "colours", state, False, False, progress=progress)
    root = labelsets_root(tctx.services)
    assert (root / "colours" / "labelset.json").is_file()
    assert "label set `colours` saved" in summary and "3 labels, 12 examples (12 new)" in summary
    assert [r[0] for r in rows] == ["blue box", "green box", "red box"] and [r[1] for r in rows] == [4, 4, 4]
    assert all(isinstance(r[2], float) and 0.0 <= r[2] <= 1.0 for r in rows)
    assert progress.calls[0] == ((0, 12), "embedding examples")
    assert progress.calls[-1] == (None, "fitting the head (cross-validation)")
    meta = json.loads((root / "colours" / "labelset.json").read_text())
    conf = np.array(meta["cv"]["confusion"])
    assert conf.sum() == meta["cv"]["held_out"] == 12
    image = fig.axes[0].images[0].get_array()
    assert np.array_equal(np.asarray(image), conf)  # the figure shows the saved counts
    assert [r["name"] for r in list_rows(tctx.services, root)] == ["colours"]  # the API sees it
    assert ("colours", "colours") in labelset_choices(tctx)["choices"]


def test_teach_add_and_existing_names(tctx):
    state = chosen_three(tctx, per_label=3)
    teach_labelset(tctx, "colours", state, False, False, progress=Progress())
    go = bind(teach_labelset, tctx)
    with pytest.raises(gr.Error, match="already exists.*--add.*--replace"):
        go("colours", state, False, False)
    with pytest.raises(gr.Error, match="either 'add to the existing label set' or 'replace it'"):
        go("colours", state, True, True)
    more = add_label_images(tctx, "red box", uploads(tctx, "red", 2, start=10), {})[0]
    summary, rows, _ = teach_labelset(tctx, "colours", more, True, False, progress=Progress())
    assert "11 examples (2 new)" in summary and dict((r[0], r[1]) for r in rows)["red box"] == 5
    summary, rows, _ = teach_labelset(tctx, "colours", chosen_three(tctx, 2), False, True, progress=Progress())
    assert "6 examples (6 new)" in summary


@pytest.mark.parametrize(
    "name, message",
    [("a/b", "'/'"), ("my labels", "outside letters"), ("x" * 1000, "1000 characters"), ("", "empty")],
)
def test_bad_names_are_refused_before_anything_is_embedded(tctx, name, message):
    with pytest.raises(gr.Error, match=message):
        bind(teach_labelset, tctx)(name, chosen_three(tctx, 1), False, False)
    assert not labelsets_root(tctx.services).exists()


def test_one_label_or_unreadable_examples(tctx):
    go = bind(teach_labelset, tctx)
    one = add_label_images(tctx, "red", uploads(tctx, "red", 3), {})[0]
    with pytest.raises(gr.Error, match="at least 2 labels first \\(now: 1\\)"):
        go("reds", one, False, False)
    broken = tctx.upload_root / "bad" / "broken.png"
    broken.parent.mkdir()
    broken.write_bytes(b"\x89PNG not really")
    state = add_label_images(tctx, "blue", [*uploads(tctx, "blue", 2), str(broken)], one)[0]
    summary, rows, _ = go("rb", state, False, False)
    assert "broken.png" in summary and "skipped" in summary  # reported by file, the rest used
    assert dict((r[0], r[1]) for r in rows) == {"blue": 2, "red": 3}


def test_classify_with_a_picked_label_set_uses_its_head(tctx):
    from multimodal.teach.store import load_labelset
    from multimodal.teach.teach import classify_with_labelset
    from multimodal.zeroshot import ZeroShotOptions

    teach_labelset(tctx, "colours", chosen_three(tctx), False, False, progress=Progress())
    (query,) = uploads(tctx, "green", 1, start=50)
    plot, shown = do_classify(tctx, query, "ignored, labels", False, "colours")
    ls = load_labelset(labelsets_root(tctx.services), "colours")
    expected = classify_with_labelset(tctx.services, ls, [query], ZeroShotOptions(top_k=20))[0].result
    assert shown == verdict(expected)
    assert set(plot.value["data"][i][0] for i in range(3)) == {"red box", "green box", "blue box"}
    probs = [row[1] for row in plot.value["data"]]
    assert sum(probs) == pytest.approx(1.0, abs=1e-5)  # the head's probabilities, not the text labels' scores
    _, text_only = do_classify(tctx, query, "a red box, a blue box", False, "")
    assert "green box" not in text_only


def test_classify_label_set_errors_name_the_fix(tctx):
    classify = bind(do_classify, tctx)
    (query,) = uploads(tctx, "red", 1)
    with pytest.raises(gr.Error, match="no label set 'nope'.*known: none.*sceneqa teach"):
        classify(query, "a, b", False, "nope")
    teach_labelset(tctx, "colours", chosen_three(tctx, 2), False, False, progress=Progress())
    meta_path = labelsets_root(tctx.services) / "colours" / "labelset.json"
    meta = json.loads(meta_path.read_text())
    meta["encoder"]["spec"] = "lite"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(gr.Error, match="taught with encoder 'lite'.*running encoder is 'tiny"):
        classify(query, "a, b", False, "colours")
    meta_path.write_text("{broken")
    with pytest.raises(gr.Error, match="damaged.*remove it"):
        classify(query, "a, b", False, "colours")
    assert str(labelsets_root(tctx.services)) not in str(labelset_choices(tctx))


def test_the_tab_and_the_picker_are_in_the_app(tiny_services, tmp_path):
    from demos.server import create_app
    from demos.web_config import WebConfig

    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))
    app = create_app(services, WebConfig(index=tmp_path / "idx", inspectors_dir=tmp_path / "insp"))
    fns = {fn.api_name: fn for fn in app.state.demo.fns.values()}
    assert {"teach_add", "teach", "classify"} <= set(fns)
    picker = [b for b in fns["classify"].inputs if getattr(b, "elem_id", None) == "classify-labelset"]
    assert len(picker) == 1 and picker[0].value == ""  # default: the typed labels, as before


def test_ask_tab_label_set_answers_which_label(tctx):
    """The Ask tab's label-set picker: the label set's evidence answers "which of my labels is this?"."""
    from demos.ui.ask_tab import do_ask

    teach_labelset(tctx, "colours", chosen_three(tctx), False, False, progress=Progress())
    (query,) = uploads(tctx, "green", 1, start=60)
    *_, last = do_ask(tctx, [query], "Which of my labels is this?", None, None, False, "colours")
    answer_md, evidence, *_ = last
    assert "labelset:colours" in evidence and "top label" in evidence
    with pytest.raises(gr.Error, match="no label set 'nope'"):
        list(bind(do_ask, tctx)([query], "which label?", None, None, False, "nope"))
