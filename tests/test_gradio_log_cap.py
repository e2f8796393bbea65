"""Long user input never floods the server log (demos/gradio_log_cap.py): Gradio prints a failed event's error
to stderr with every input value in it; through our app a 500 KB input leaves a few KB, and log records of the
capped loggers are cut too. The call itself still fails as before (Gradio's error event)."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from demos.gradio_log_cap import LOG_CAP, CapLongRecords, cut, install_log_caps
from demos.server import create_app
from demos.web_config import WebConfig


@pytest.fixture()
def client(tiny_services, tmp_path):
    services = replace(tiny_services, config=replace(tiny_services.config, cache_dir=tmp_path / "cache"))
    app = create_app(services, WebConfig(index=tmp_path / "idx", inspectors_dir=tmp_path / "insp"))
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        yield c


def test_a_huge_input_with_the_wrong_arity_leaves_a_short_log(client, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    capfd.readouterr()
    r = client.post("/gradio_api/call/classify", json={"data": [None, "x" * 500_000, False]})  # 3 of 4 inputs
    assert r.status_code == 200, r.text
    stream = client.get(f"/gradio_api/call/classify/{r.json()['event_id']}")
    assert stream.status_code == 200 and "event: error" in stream.text and "xxxxxxxxxx" not in stream.text
    captured = capfd.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert len(logged) < 10_000, logged[:500]
    assert "didn't receive enough input values (needed: 4, got: 3)" in logged  # the reason is still said
    assert "more characters cut: long input is not logged" in logged


def test_the_right_arity_still_runs(client):
    info = client.get("/gradio_api/info").json()
    params = info["named_endpoints"]["/classify"]["parameters"]
    data = [None, "cat", False] + [p.get("parameter_default") for p in params[3:]]
    r = client.post("/gradio_api/call/classify", json={"data": data})
    stream = client.get(f"/gradio_api/call/classify/{r.json()['event_id']}")
    assert stream.status_code == 200 and "upload an image first" in stream.text  # our gr.Error, not cut


def test_long_log_records_and_tracebacks_are_cut(caplog):
    install_log_caps()
    install_log_caps()  # idempotent
    logger = logging.getLogger("uvicorn.error")
    assert sum(isinstance(f, CapLongRecords) for f in logger.filters) == 1
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    try:
        raise ValueError("y" * 300_000)
    except ValueError:
        logger.error("Exception in ASGI application: %s", "z" * 300_000, exc_info=True)
    (record,) = [r for r in caplog.records if r.name == "uvicorn.error"]
    assert len(record.getMessage()) < LOG_CAP + 100 and len(record.exc_text) < LOG_CAP + 100
    assert len(caplog.text) < 10_000 and "ValueError" in caplog.text
    assert cut("short") == "short" and cut("a" * 10, 4) == "aaaa... [6 more characters cut: long input is not logged]"
