"""The web app as users reach it: a real ``sceneqa serve`` on loopback, driven through ``gradio_client`` and
through headless Chromium (Playwright). Screenshots of each tab go to ``$SCENEQA_TEST_OUTPUT/browser``
(default ``test-output/browser``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.server_util import running_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUTPUT = Path(os.environ.get("SCENEQA_TEST_OUTPUT", "test-output")) / "browser"


@pytest.fixture(scope="module")
def server(tmp_path_factory, cache_dir):
    root = tmp_path_factory.mktemp("web")
    with running_server(cache_dir, root / "idx") as url:
        yield url


@pytest.fixture()
def red_circle(tmp_path) -> Path:
    img = Image.new("RGB", (160, 120), (246, 246, 240))
    ImageDraw.Draw(img).ellipse((40, 20, 120, 100), fill=(220, 30, 30))
    path = tmp_path / "red-circle.png"
    img.save(path)
    return path


@pytest.mark.slow
def test_gradio_client_endpoints(server, red_circle):
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False)
    plot, verdict = client.predict(handle_file(str(red_circle)), "a circle, a square", False, api_name="/classify")
    assert verdict == "**none of these** (no label is supported by the image)"  # random weights support nothing
    gallery, records = client.predict("a red circle", None, 0.5, "", "", 4, False, api_name="/search")
    assert len(gallery) == 4 and len(records) == 4  # (the per-session id list is gr.State, not returned)
    assert set(records[0]) == {"id", "score", "metadata"}  # no server file paths reach clients
    answer, evidence, items, ocr = client.predict(
        [handle_file(str(red_circle))], "what color is the circle?", [], "", False, api_name="/ask"
    )
    assert "red" in answer and "image:1#object1" in evidence


@pytest.mark.slow
def test_browser_ask_search_classify(server, red_circle):
    if CHROMIUM is None:
        if os.environ.get("SCENEQA_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here (SCENEQA_REQUIRE_BROWSER=1): apt-get install chromium")
        pytest.skip("no Chromium on this machine (apt-get install chromium); CI installs it and runs this test")
    from playwright.sync_api import expect, sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(server, wait_until="domcontentloaded")
        expect(page.locator("#banner")).to_contain_text("tier")

        page.locator("#ask-images input[type=file]").set_input_files(str(red_circle))
        page.locator("#ask-question textarea, #ask-question input").first.fill("what color is the circle?")
        page.locator("#ask-button").click()
        expect(page.locator("#answer")).to_contain_text("red")
        expect(page.locator("#evidence")).to_contain_text("image:1#object1")
        page.screenshot(path=str(OUTPUT / "ask.png"), full_page=True)

        page.get_by_role("tab", name="Search").click()
        page.locator("#search-text textarea, #search-text input").first.fill("a red circle")
        page.locator("#search-button").click()
        expect(page.locator("#results img").first).to_be_visible()
        assert page.locator("#results img").count() >= 4
        page.screenshot(path=str(OUTPUT / "search.png"), full_page=True)

        page.get_by_role("tab", name="Classify").click()
        page.locator("#classify-image input[type=file]").set_input_files(str(red_circle))
        page.locator("#classify-labels textarea").fill("a circle, a square, a cat")
        page.locator("#classify-button").click()
        expect(page.locator("#verdict")).not_to_be_empty()
        chart = page.locator("#scores .vega-embed canvas, #scores .vega-embed svg")  # the chart, not the spinner
        expect(chart.first).to_be_visible()
        page.screenshot(path=str(OUTPUT / "classify.png"), full_page=True)

        page.get_by_role("tab", name="Catalog").click()
        expect(page.locator("#catalog-info")).to_contain_text("items")
        page.screenshot(path=str(OUTPUT / "catalog.png"), full_page=True)
        browser.close()
    for name in ("ask", "search", "classify", "catalog"):
        assert (OUTPUT / f"{name}.png").stat().st_size > 10_000
