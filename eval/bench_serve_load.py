"""The load of ``sceneqa bench serve``: request bodies, concurrent clients, sequential probes, RSS samples,
``/metrics`` scrapes and the ``/healthz`` poller (a process of its own, :mod:`eval.bench_serve_health`, so
that the load's own event loop never delays a poll). Traffic goes only to the loopback URL it is given."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import subprocess
import sys
import time
import urllib.request

from eval.bench_serve_report import parse_metrics
from eval.requires import require
from eval.rss import rss_mb

#: a client that got 503 (a full queue, refused at once) waits this long before its next request
BUSY_PAUSE_S = 0.2
HEALTH_EVERY_S = 0.1


def payloads(kinds) -> dict[str, list[dict]]:
    """Request bodies per route (``search``, ``classify``, ``ask``) for the routes in ``kinds``."""
    from PIL import Image
    from skimage import data

    def b64(arr) -> str:
        buf = io.BytesIO()
        Image.fromarray(arr).convert("RGB").save(buf, "JPEG", quality=85)
        return base64.b64encode(buf.getvalue()).decode()

    photos = [b64(data.chelsea()), b64(data.coffee()), b64(data.astronaut())]
    log = "\n".join(f"2026-03-01 09:{i:02d} valve {i} inspected: seal intact" for i in range(40))
    every = {
        "search": [{"text": t, "k": 8} for t in ("a red mug", "a cat", "a triangle sticker", "galaxies")],
        "classify": [{"image": p, "labels": ["a cat", "a cup of coffee", "a person", "a rocket"]} for p in photos],
        "ask": [
            {"question": "what is this?", "images": [photos[0]]},
            {"question": "was valve 12 inspected?", "contexts": [{"name": "inspection.log", "text": log}]},
            {"question": "how many people are there?", "images": [photos[2]]},
        ],
    }
    return {k: every[k] for k in kinds}


async def load(url: str, clients: int, seconds: float, mix: dict[str, list[dict]]) -> dict[str, dict]:
    """``clients`` clients, each sending one request after the other (a random route of ``mix``) until
    ``seconds`` have passed, then waiting for its last answer. Per route: ``latencies`` (ms, the 200s),
    ``busy`` (503s), ``timeouts`` (504s), ``errors`` (any other status, or no answer); and
    ``other_statuses``: ``{"ROUTE STATUS": count}`` of the errors (the exception's name when no answer came)."""
    httpx = require("httpx", purpose="`sceneqa bench serve`")
    out: dict[str, dict] = {key: {k: ([] if key == "latencies" else 0) for k in mix} for key in _KEYS}
    deadline = time.monotonic() + seconds
    kinds = list(mix)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)

    async def client(n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=url, timeout=180, limits=limits) as http:
            while time.monotonic() < deadline:
                kind = rng.choice(kinds)
                t0 = time.perf_counter()
                try:
                    status = (await http.post(f"/v1/{kind}", json=rng.choice(mix[kind]))).status_code
                    why = str(status)
                except httpx.HTTPError as exc:
                    status, why = 0, type(exc).__name__
                if status == 200:
                    out["latencies"][kind].append((time.perf_counter() - t0) * 1000)
                elif status == 503:
                    out["busy"][kind] += 1
                    await asyncio.sleep(BUSY_PAUSE_S)
                elif status == 504:
                    out["timeouts"][kind] += 1
                else:
                    out["errors"][kind] += 1
                    other[f"{kind} {why}"] = other.get(f"{kind} {why}", 0) + 1

    other: dict[str, int] = {}
    await asyncio.gather(*(client(i) for i in range(clients)))
    return out | {"other_statuses": other}


_KEYS = ("latencies", "busy", "timeouts", "errors")


def probe(url: str, kind: str, bodies: list[dict], n: int) -> list[tuple[float, int]]:
    """``n`` requests to ``/v1/kind`` one after the other: ``(ms, status)`` of each (status 0: no answer)."""
    httpx = require("httpx", purpose="`sceneqa bench serve`")
    out = []
    with httpx.Client(base_url=url, timeout=180) as http:
        for i in range(n):
            t0 = time.perf_counter()
            try:
                status = http.post(f"/v1/{kind}", json=bodies[i % len(bodies)]).status_code
            except httpx.HTTPError:
                status = 0
            out.append(((time.perf_counter() - t0) * 1000, status))
    return out


def scrape(url: str) -> dict[str, float]:
    """The server's ``/metrics`` samples (see :func:`eval.bench_serve_report.parse_metrics`)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as r:
        return parse_metrics(r.read().decode())


async def sample_rss(pid: int, seconds: float, every: float, into: list[tuple[float, float]]) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        into.append((time.monotonic() - t0, rss_mb(pid)))
        await asyncio.sleep(every)


class HealthPoller:
    """``/healthz`` polled every ``every`` s by a separate process (its own connection, its own interpreter)
    while the ``with`` block runs; ``latencies_ms`` and ``failed`` once it has exited."""

    def __init__(self, url: str, every: float = HEALTH_EVERY_S) -> None:
        self.url = url
        self.every = every
        self.latencies_ms: list[float] = []
        self.failed = 0
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> HealthPoller:
        cmd = [sys.executable, "-m", "eval.bench_serve_health", self.url, str(self.every)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._proc is None:
            return
        out, _ = self._proc.communicate("stop\n", timeout=60)  # the poller stops when its stdin says so
        report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"latencies_ms": [], "failed": 0}
        self.latencies_ms, self.failed = report["latencies_ms"], report["failed"]


async def load_cell(url: str, pid: int, clients: int, seconds: float, mix: dict[str, list[dict]]):
    """:func:`load` with RSS sampled through it and ``/healthz`` polled throughout:
    ``(out, wall seconds, rss samples, poller)``."""
    samples: list[tuple[float, float]] = []
    every = max(1.0, seconds / 12)
    with HealthPoller(url) as poller:
        t0 = time.perf_counter()
        out, _ = await asyncio.gather(load(url, clients, seconds, mix), sample_rss(pid, seconds, every, samples))
        wall = time.perf_counter() - t0
    return out, wall, samples, poller
