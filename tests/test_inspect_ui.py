"""The Inspect tab's handlers called with plain inputs (tiny tier, tiny backbone), no Blocks, no browser:
fit with progress, inspect (table, heatmap gallery, annotated regions), ask with the inspector, bad input,
and the tab inside the real app."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr
import pytest

from demos.ui.context import bind
from demos.ui.inspect_tab import (
    InspectContext,
    ask_inspector,
    fit_uploaded,
    inspect_uploaded,
    list_inspectors,
    results_markdown,
)
from multimodal.inspect.config import FitConfig
from multimodal.inspect.errors import InspectorExistsError
from multimodal.inspect.shelf import InspectorShelf
from tests.inspect_data import texture


def upload(ctx, name: str, img) -> str:
    path = ctx.upload_root / "up" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path) if not isinstance(img, bytes) else path.write_bytes(img)
    return str(path)


@pytest.fixture()
def ictx(ctx, tmp_path):
    return InspectContext(ctx, InspectorShelf(tmp_path / "inspectors", default_backbone="tiny"))


@pytest.fixture()
def fitted(ictx):
    files = [upload(ictx.ui, f"g{i}.png", texture(i)) for i in range(12)]
    ictx.shelf.fit("tex", [texture(i) for i in range(12)], FitConfig(image_size=128))
    return files


def test_fit_reports_progress_and_updates_the_choice(ictx):
    files = [upload(ictx.ui, f"g{i}.png", texture(i)) for i in range(10)] + [upload(ictx.ui, "x.png", b"no")]
    ticks = []
    summary, choice = fit_uploaded(ictx, " tiles ", files, False, progress=lambda *a, **k: ticks.append((a, k)))
    assert "inspector `tiles` saved" in summary and "1 skipped: x.png" in summary
    assert choice["choices"] == ["tiles"] and choice["value"] == "tiles"
    assert ticks and ticks[-1][0][0] == (10, 10) and "fitting" in ticks[-1][1]["desc"]
    with pytest.raises(InspectorExistsError, match="already exists"):
        fit_uploaded(ictx, "tiles", files, False, progress=lambda *a, **k: None)
    assert list_inspectors(ictx)["choices"] == ["tiles"]


@pytest.mark.parametrize(
    ("name", "count", "message"),
    [("../x", 3, "is not allowed"), ("ok-name", 1, "at least 2"), ("ok-name", 0, "at least 2")],
)
def test_fit_bad_input(ictx, name, count, message):
    files = [upload(ictx.ui, f"g{i}.png", texture(i)) for i in range(count)]
    handler = bind(fit_uploaded, ictx)  # errors become gr.Error, as the app shows them
    with pytest.raises(gr.Error, match=message):
        handler(name, files, False, progress=lambda *a, **k: None)


def test_inspect_shows_verdicts_heatmaps_and_regions(ictx, fitted):
    ok = upload(ictx.ui, "ok.png", texture(400))
    bad = upload(ictx.ui, "bad.png", texture(401, blob=(60, 50, 16)))
    table, gallery, first = inspect_uploaded(ictx, "tex", [bad, ok], 0.5, "")
    assert "| bad.png | **defect** |" in table and "| ok.png | **ok** |" in table
    assert "defect of unknown type" in table
    assert len(gallery) == 2 and gallery[0][1].startswith("bad.png: defect")
    image, boxes = first
    expected = ictx.shelf.open("tex").inspect([texture(401, blob=(60, 50, 16))])[0]
    assert image.size == (128, 128) and [b for b, _ in boxes] == [(r.x0, r.y0, r.x1, r.y1) for r in expected.boxes]
    assert boxes and boxes[0][1].startswith("region 1")


def test_inspect_bad_input(ictx, fitted):
    handler = bind(inspect_uploaded, ictx)
    img = upload(ictx.ui, "ok.png", texture(400))
    with pytest.raises(gr.Error, match="pick an inspector"):
        handler(None, [img], 0.5, "")
    with pytest.raises(gr.Error, match="no inspector 'nope'"):
        handler("nope", [img], 0.5, "")
    with pytest.raises(gr.Error, match="drop one or more images"):
        handler("tex", [], 0.5, "")
    with pytest.raises(gr.Error, match="no label set 'missing'"):
        handler("tex", [img], 0.5, "missing")
    table, gallery, first = handler("tex", [upload(ictx.ui, "junk.png", b"junk"), img], 0.5, "")
    assert "_skipped junk.png" in table and len(gallery) == 1


def test_ask_with_the_inspector(ictx, fitted):
    bad = upload(ictx.ui, "bad.png", texture(401, blob=(60, 50, 16)))
    text, (image, boxes) = ask_inspector(ictx, "tex", "is this part defective?", [bad])
    assert text.startswith("**yes**") and "image:1#inspector:tex" in text
    assert boxes and all(label.startswith("inspector tex") for _, label in boxes)
    with pytest.raises(gr.Error, match="type a question"):
        bind(ask_inspector, ictx)("tex", "", [bad])


def test_the_ask_tab_takes_an_inspector(ictx, fitted):
    from demos.ui.ask_tab import do_ask

    bad = upload(ictx.ui, "bad2.png", texture(401, blob=(60, 50, 16)))
    ui = replace(ictx.ui, inspectors=ictx.shelf)
    *_, last = do_ask(ui, [bad], "is this part defective?", None, None, False, "", "tex")
    answer_md, evidence, *_ = last
    assert answer_md.startswith("### yes") and "image:1#inspector:tex" in evidence
    with pytest.raises(gr.Error, match="nope"):
        list(bind(do_ask, ui)([bad], "is it ok?", None, None, False, "", "nope"))


def test_results_markdown_escapes_cells():
    assert "a/b" in results_markdown("t", [], ["a|b"])


def test_the_tab_is_in_the_app(tiny_services, tmp_path):
    from demos.server import create_app
    from demos.web_config import WebConfig

    app = create_app(tiny_services, WebConfig(index=tmp_path / "idx", inspectors_dir=tmp_path / "insp"))
    names = {fn.api_name for fn in app.state.demo.fns.values()}
    assert {"inspect_fit", "inspect", "inspect_ask"} <= names


def test_handlers_read_only_uploads(ictx, fitted, tmp_path):
    secret = tmp_path / "secret.png"
    texture(5).save(secret)
    for bad in ("/etc/hostname", str(secret), f"{ictx.ui.upload_root}/../secret.png"):
        calls = [
            (bind(fit_uploaded, ictx), "x", [bad, bad], False),
            (bind(inspect_uploaded, ictx), "tex", [bad], 0.5, ""),
            (bind(ask_inspector, ictx), "tex", "is it defective?", [bad]),
        ]
        for fn, *args in calls:
            with pytest.raises(gr.Error, match="was not uploaded") as info:
                fn(*args)
            assert str(tmp_path) not in str(info.value)
    assert ictx.shelf.names() == ["tex"]
