"""Pure parts of the web app and the server-side catalog operations (tiny encoder)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from demos.app import widget_filters
from demos.catalog_handle import CatalogHandle
from demos.render import evidence_html
from demos.web_config import WebConfig
from multimodal.answers import Answer, Evidence
from multimodal.errors import ConfigError


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buf, "PNG")
    return buf.getvalue()


def test_widget_values_become_filters():
    specs = [("colour", "choice", ["red", "blue"]), ("price", "range", []), ("kind", "choice", ["a"])]
    assert widget_filters(specs, [["red", "blue"], "2.5", "", []]) == ["colour in (red, blue)", "price>=2.5"]
    assert widget_filters(specs, [[], None, " 10 ", ["a"]]) == ["price<=10", "kind in (a)"]


def test_evidence_panel_highlights_cited_lines():
    a = Answer(
        "x",
        0.9,
        False,
        (Evidence("context", "inspection.log:L2-L3", "b | c"), Evidence("item", "item:SKU1", "brand: <Acme>")),
    )
    html = evidence_html(a, {"inspection.log": "a\nb\nc\nd\ne\nf"})
    assert html.count("background:#fff3b0") == 2 and "<code>   1</code> a" in html and "   6" not in html
    assert "&lt;Acme&gt;" in html  # text is escaped


def test_web_config_validates():
    with pytest.raises(ConfigError, match="--port 0 is not a TCP port"):
        WebConfig(index=None, port=0)  # type: ignore[arg-type]
    assert WebConfig(index=None, host="0.0.0.0").exposed_without_auth  # type: ignore[arg-type]
    assert not WebConfig(index=None).exposed_without_auth  # type: ignore[arg-type]


def test_catalog_file_upload_reads_only_uploaded_images(tiny_services, tmp_path):
    handle = CatalogHandle(tmp_path / "idx", tiny_services)
    catalog = (
        b"id,image,colour\n"
        b"r1,red.png,red\n"
        b"b1,blue.png,blue\n"
        b"x1,/etc/hostname,none\n"
        b"x2,../../secret.png,none\n"
        b"x3,https://example.com/a.png,none\n"
        b"x4,missing.png,none\n"
    )
    summary = handle.add_catalog_file(
        "items.csv",
        catalog,
        [("red.png", png((220, 0, 0))), ("blue.png", png((0, 0, 220))), ("notes.png", b"not an image")],
    )
    assert summary.added == 2
    reasons = " ".join(r for _, r in summary.failed)
    assert "notes.png: not an image" in reasons
    assert reasons.count("is not among the uploaded files") == 3 and "does not fetch URLs" in reasons
    assert handle.reader().store.count() == 2
    assert handle.image_path("r1").read_bytes() == png((220, 0, 0))
    handle.close()
