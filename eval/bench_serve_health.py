"""``python -m eval.bench_serve_health URL EVERY``: poll ``URL/healthz`` every ``EVERY`` seconds, one
connection kept open (a new one after a failure), until a line arrives on stdin; then print one JSON line,
``{"latencies_ms": [...], "failed": N}`` (a poll is failed when it raised or answered anything but 200).

A process of its own, started by :class:`eval.bench_serve_load.HealthPoller`, so that the bench's busy load
clients never delay a poll: what it measures is the server's answer time (plus loopback)."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def poll(url: str, every: float, stop: threading.Event) -> tuple[list[float], int]:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection | None = None
    latencies: list[float] = []
    failed = 0
    while not stop.is_set():
        t0 = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                latencies.append((time.perf_counter() - t0) * 1000)
            else:
                failed += 1
        except (OSError, http.client.HTTPException):
            failed += 1
            if conn is not None:
                conn.close()
            conn = None
        stop.wait(max(0.0, every - (time.perf_counter() - t0)))
    if conn is not None:
        conn.close()
    return latencies, failed


def main(argv: list[str]) -> int:
    url, every = argv[0], float(argv[1])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    latencies, failed = poll(url, every, stop)
    print(json.dumps({"latencies_ms": latencies, "failed": failed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
