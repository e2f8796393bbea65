"""A bounded adversarial run against a real ``sceneqa serve`` process on loopback (issue 12, "done when"):
Gradio path reads, abandoned streams, 8 clients mixing heavy asks (some hanging up early) with cheap searches,
chunked oversize bodies and thousands of metadata keys — then /healthz stayed fast, searches answer soon
after the last deadline, no outside file was read, the schema did not grow and memory stayed flat."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from eval.rss import rss_mb
from tests.server_util import running_server

pytestmark = pytest.mark.slow
TIMEOUT_S = 3.0  # the server's --request-timeout in this run
LOAD_S = float(os.environ.get("SCENEQA_ADVERSARIAL_SECONDS", "30"))


def big_jpeg(seed: int, side: int = 2400) -> bytes:
    rng = random.Random(seed)
    img = Image.new("RGB", (side, side), (240, 240, 235))
    d = ImageDraw.Draw(img)
    for _ in range(40):
        x, y, r = rng.randrange(side), rng.randrange(side), rng.randrange(40, 300)
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def small_png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, "PNG")
    return buf.getvalue()


def raw_request(url: str, head: str, body: bytes = b"", read: bool = False, chunks=()) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head.encode() + body)
        for chunk in chunks:
            try:
                s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:
                break  # the server answered 413 and closed: what we want
        out = b""
        if read:
            s.settimeout(30)
            try:
                while part := s.recv(65536):
                    out += part
            except OSError:
                pass
        return out


class HealthProbe(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.latencies, self.failures = url, threading.Event(), [], 0

    def run(self) -> None:
        with httpx.Client(timeout=5) as c:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = c.get(f"{self.url}/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.latencies.append(time.perf_counter() - t0)
                self.failures += not ok
                time.sleep(0.05)


def columns(index: Path) -> list[str]:
    db = sqlite3.connect(f"file:{index / 'store.sqlite'}?mode=ro", uri=True)
    try:
        return [r[1] for r in db.execute("PRAGMA table_info(items)")]
    finally:
        db.close()


def test_adversarial_run(tmp_path):
    secret = tmp_path / "outside-secret.txt"
    secret.write_text("TOP-SECRET-LINE do not serve\n")
    index = tmp_path / "idx"
    args = ("--request-timeout", str(TIMEOUT_S), "--max-upload-mb", "8", "--queue-size", "8")
    with running_server(tmp_path / "cache", index, *args) as url:
        pid = _server_pid(url)
        probe = HealthProbe(url)
        probe.start()
        heavy = [base64.b64encode(big_jpeg(i)).decode() for i in range(8)]
        with httpx.Client(base_url=url, timeout=30) as c:
            # warm-up at the run's concurrency, then the memory baseline: the most the server held during the
            # warm-up (how far a heavy ask gets before its deadline varies from run to run, and so does the memory
            # in flight; a leak shows as memory beyond what the same load already needed)
            rss_start = rss_mb(pid)
            peak = RssPeak(pid)
            peak.start()
            _mixed_load(url, heavy, seconds=min(8.0, LOAD_S))
            _wait_idle(c)
            peak.stop.set()
            peak.join()
            rss_idle = rss_mb(pid)
            rss_before = max(peak.most, rss_idle)
            schema_before, columns_before = c.get("/v1/index").json()["schema"], columns(index)

            # S1: client-named server files through the Gradio call API
            for api in ("classify", "ask", "search", "add_items"):
                r = c.post(f"/gradio_api/call/{api}", json={"data": [_file_data(secret)] + [None] * 6})
                assert r.status_code in (400, 403, 404, 422) and "TOP-SECRET" not in r.text
            assert "TOP-SECRET" not in c.get(f"/gradio_api/file={secret}").text

            # H1: streams abandoned before their first event
            for _ in range(3):
                body = json.dumps({"question": "what is this?", "images": heavy[:1], "stream": True}).encode()
                head = (
                    f"POST /v1/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                )
                raw_request(url, head, body)  # closes at once
                t0 = time.perf_counter()
                r = c.post("/v1/search", json={"text": "a red circle", "k": 3})
                assert r.status_code == 200 and time.perf_counter() - t0 < 1.0

            # S3: chunked oversize bodies (no Content-Length), JSON and multipart
            part = b'--xx\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
            for ctype, first in (("application/json", b'{"images": ["'), ("multipart/form-data; boundary=xx", part)):
                head = (
                    f"POST /v1/items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"
                )
                body = (first if i == 0 else b"a" * 2**20 for i in range(41))
                reply = raw_request(url, head, read=True, chunks=body)
                assert b" 413 " in reply.split(b"\r\n", 1)[0]

            # S4: 3,000 random metadata keys from clients (60 per item, the cap is 64)
            keys = [f"k{random.Random(i).getrandbits(48):x}" for i in range(3000)]
            for n in range(50):
                meta = {k: "v" for k in keys[n * 60 : (n + 1) * 60]}
                files = {"image": (f"m{n}.png", small_png((n * 5, 100, 200)), "image/png")}
                r = c.post("/v1/items", files=files, data={"metadata": json.dumps(meta)})
                assert r.status_code == 200, r.text

            # the mixed load: 8 clients, heavy asks (some hang up early) and cheap searches
            last_deadline = _mixed_load(url, heavy, seconds=LOAD_S)
            time.sleep(max(0.0, last_deadline - time.monotonic()))
            t0 = time.perf_counter()
            for _ in range(5):
                assert c.post("/v1/search", json={"text": "blue", "k": 3}).status_code == 200
            after_deadline = (time.perf_counter() - t0) / 5
            _wait_idle(c)  # abandoned work stops by its deadline; memory compared at the same state as the baseline
            rss_after = rss_mb(pid)
            assert c.get("/v1/index").json()["schema"] == schema_before
            assert columns(index) == columns_before
        probe.stop.set()
        probe.join()
    p99 = float(np.percentile(probe.latencies, 99))
    print(
        f"healthz p99 {p99 * 1000:.0f} ms over {len(probe.latencies)} probes; search after the last deadline "
        f"{after_deadline * 1000:.0f} ms; RSS {rss_before:.0f} -> {rss_after:.0f} MB (start {rss_start:.0f}, warm-up "
        f"peak {peak.most:.0f}, idle after it {rss_idle:.0f})"
    )
    assert probe.failures == 0 and p99 <= 0.100
    assert after_deadline < 2.0
    # a leak shows as memory beyond what the same load already needed (the warm-up's peak) and beyond the idle
    # server after it: failed asks once left their decoded photos in a reference cycle (+12% in one run, -26% in
    # another, as the cycle collector happened to run); tests/test_memory_failed_calls.py pins the fix
    assert rss_after < rss_before * 1.10, f"RSS over the warm-up peak: {rss_before:.0f} -> {rss_after:.0f}"
    assert rss_after < rss_idle * 1.10, f"RSS over idle after warm-up: {rss_idle:.0f} -> {rss_after:.0f}"


class RssPeak(threading.Thread):
    """The largest resident size of ``pid`` seen every 0.2 s until ``stop`` is set."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.most, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.most = max(self.most, rss_mb(self.pid))


def _wait_idle(c: httpx.Client, limit_s: float = TIMEOUT_S + 2) -> None:
    """Abandoned work stops by its deadline at the latest: the model gate is free again soon after."""
    stop = time.monotonic() + limit_s
    while (m := c.get("/healthz").json()["models"])["busy"] or m["waiting"]:
        assert time.monotonic() < stop, f"model work still running {limit_s:.0f} s after the load: {m}"
        time.sleep(0.1)


def _file_data(path: Path) -> dict:
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}


def _server_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmd and port.encode() in cmd:
                return int(proc.name)
    raise AssertionError("server process not found")


def _mixed_load(url: str, heavy: list[str], seconds: float) -> float:
    """8 clients for ``seconds``: 3 send heavy asks (8 large photos and a 2 MB log; one client hangs up after
    0.5 s), 5 send cheap searches.
    Returns the monotonic time of the last heavy request's deadline."""
    stop_at = time.monotonic() + seconds
    last = [time.monotonic()]
    errors: list[str] = []
    seen: dict[str, int] = {}

    log = "\n".join(
        f"2026-03-01 08:{i % 60:02d} pump {i} pressure {i % 7}.1 bar, valve {i % 13} checked" for i in range(30_000)
    )
    body = {"question": "how many objects are there?", "images": heavy, "context_text": log}

    def heavy_client(hang_up: bool) -> None:
        with httpx.Client(base_url=url, timeout=0.5 if hang_up else 30) as c:
            while time.monotonic() < stop_at:
                last[0] = max(last[0], time.monotonic() + TIMEOUT_S)
                try:
                    r = c.post("/v1/ask", json=body)
                    seen[f"ask {r.status_code}"] = seen.get(f"ask {r.status_code}", 0) + 1
                    if r.status_code not in (200, 503, 504):
                        errors.append(f"ask {r.status_code} {r.text[:200]}")
                    if r.status_code == 503:  # a well-behaved client waits as told (bounded to keep the load up)
                        time.sleep(min(0.5, float(r.headers.get("retry-after", "1"))))
                except httpx.TimeoutException:
                    pass

    def search_client() -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            while time.monotonic() < stop_at:
                r = c.post("/v1/search", json={"text": "a green square", "k": 5})
                seen[f"search {r.status_code}"] = seen.get(f"search {r.status_code}", 0) + 1
                if r.status_code not in (200, 503, 504):
                    errors.append(f"search {r.status_code} {r.text[:200]}")
                time.sleep(0.05)

    threads = [threading.Thread(target=heavy_client, args=(i == 0,)) for i in range(3)]
    threads += [threading.Thread(target=search_client) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"mixed load {seconds:.0f} s: {dict(sorted(seen.items()))}")
    assert errors == []
    return last[0]
