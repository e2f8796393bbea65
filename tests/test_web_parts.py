"""Pure parts of the web app and the server-side catalog operations (tiny encoder)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from demos.catalog_handle import CatalogHandle
from demos.render import evidence_html
from demos.ui.widgets import CHOICE_SLOTS, FilterLayout, FilterSpec, widget_filters
from demos.web_config import WebConfig
from multimodal.ask.answers import Answer, Evidence
from multimodal.errors import ConfigError


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buf, "PNG")
    return buf.getvalue()


def test_widget_values_become_filters():
    layout = FilterLayout(
        choices=(FilterSpec("colour", "choice", ("blue", "red")), FilterSpec("kind", "choice", ("a",))),
        ranges=(FilterSpec("price", "range"),),
    )
    pad = [[]] * (CHOICE_SLOTS - 2)
    assert widget_filters(layout, [["red", "blue"], [], *pad, "2.5", ""]) == ["colour in (red, blue)", "price>=2.5"]
    assert widget_filters(layout, [[], ["a"], *pad, None, " 10 "]) == ["kind in (a)", "price<=10"]
    assert widget_filters(layout, []) == [] and widget_filters(FilterLayout(), [["x"]] * 20) == []


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


# ---- the banner: plain words, never a raw resolver error ---------------------------------------------------

RESOLVER = "[Errno -2] Name or service not known"


@pytest.mark.parametrize(
    ("detail", "why"),
    [
        (f"https://huggingface.co unreachable (<urlopen error {RESOLVER}>)", "no internet: using the offline models"),
        ("https://huggingface.co unreachable ([Errno -3] Temporary failure in name resolution)", "no internet: "),
        ("https://huggingface.co unreachable (timed out)", "did not answer in time"),
        ("https://huggingface.co unreachable ([Errno 111] Connection refused)", "cannot be reached"),
        ("https://huggingface.co unreachable ([SSL: CERTIFICATE_VERIFY_FAILED] ...)", "certificate was refused"),
        ("offline mode (HF_HUB_OFFLINE / --offline)", "offline mode is on"),
        ("https://huggingface.co unreachable (something new)", "the model hub cannot be reached"),
    ],
)
def test_banner_reason_in_plain_words(detail, why):
    from multimodal.banner import plain_reason
    from multimodal.hub import Reachability
    from multimodal.tiers import resolve_tier

    choice = resolve_tier("auto", cached=lambda spec: False, probe=lambda: Reachability(False, detail))
    text = plain_reason(choice.tier, choice.reason)
    assert choice.tier == "lite" and why in text and text.endswith("using the offline models")
    assert "Errno" not in text and "huggingface.co" not in text and "(" + detail not in text


def test_banner_reasons_of_the_other_tiers():
    from multimodal.banner import plain_reason
    from multimodal.hub import Reachability
    from multimodal.tiers import resolve_tier

    cached = resolve_tier("auto", cached=lambda spec: True)
    assert plain_reason(cached.tier, cached.reason) == "the full models are on this machine"
    fetched = resolve_tier("auto", cached=lambda spec: False, probe=lambda: Reachability(True, "x answered"))
    assert "downloaded once" in plain_reason(fetched.tier, fetched.reason)
    assert plain_reason("lite", "--tier lite") == "you chose the lite tier (--tier lite): using the offline models"
    assert "random weights" in plain_reason("tiny", "--tier tiny")
    assert plain_reason("full", "encoder given with --encoder") == "you chose the encoder (--encoder)"
    assert plain_reason("lite", f"who knows {RESOLVER}") == "using the offline models"  # never the raw text


def test_banner_from_services_loads_no_model(tiny_services):
    """Built from specs and the loaded encoder's description: a stand-in with no answerer at all suffices."""
    from types import SimpleNamespace

    from demos.render import banner_markdown
    from multimodal.banner import build_banner
    from multimodal.tiers import TierChoice

    reason = f"full models are not cached and cannot be downloaded: https://huggingface.co unreachable ({RESOLVER})"
    services = SimpleNamespace(
        tier=TierChoice("lite", "lite", reason),
        encoder=tiny_services.encoder,
        answerer_spec="lite",
        runtime=tiny_services.runtime,
        config=SimpleNamespace(offline=False),
    )
    banner = build_banner(services)  # type: ignore[arg-type]
    assert banner.why == "no internet: using the offline models" and banner.detail == reason
    assert banner.random_weights and "RANDOM WEIGHTS" in banner.encoder_weights  # the tiny encoder
    assert banner.answerer_weights == "lite scene facts (no generative model)" and "--tier full" in banner.get_full
    shown = banner_markdown(banner) + banner.one_line()
    assert RESOLVER not in shown and "Errno" not in shown and "tier `lite`**: no internet" in shown
    real = build_banner(tiny_services)
    assert (
        real.tier == "tiny" and real.random_weights and "RANDOM WEIGHTS" in real.answerer_weights + real.encoder_weights
    )
