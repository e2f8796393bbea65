"""A real ``sceneqa serve`` for tests (tiny encoder, scene-facts answerer) on a free loopback port."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from eval.server_process import running_server as _running_server
from tests.cli_util import tiny_argv


@contextmanager
def running_server(cache_dir: Path, index: Path, *extra: str, timeout: float = 180.0):
    with _running_server([*tiny_argv(cache_dir), "--answerer", "lite"], index, *extra, timeout=timeout) as (url, _):
        yield url
