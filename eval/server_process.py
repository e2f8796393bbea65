"""Start a real ``sceneqa serve`` process on a free loopback port (benchmarks and tests), and stop it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_path(index: Path, url: str) -> Path:
    """Where :func:`running_server` writes the output of the server at ``url`` serving ``index``."""
    return index.parent / f"serve-{urlsplit(url).port}.log"


@contextmanager
def running_server(global_args: list[str], index: Path, *serve_args: str, timeout: float = 180.0):
    """Yields ``(url, process)`` once /healthz answers; the server's output goes to ``INDEX-serve-PORT.log``."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "sceneqa.cli",
        *global_args,
        "serve",
        "--port",
        str(port),
        "--index",
        str(index),
        *serve_args,
    ]
    index.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    log = log_path(index, url)
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sceneqa serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sceneqa serve did not come up in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
