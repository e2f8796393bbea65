"""Global CLI options every in-process CLI test uses: the tiny tier, CPU fp32, offline, a private cache."""

from __future__ import annotations


def tiny_argv(cache_dir, *, quiet: bool = True) -> list[str]:
    argv = ["--tier", "tiny", "--device", "cpu", "--precision", "fp32", "--offline", "--cache-dir", str(cache_dir)]
    return argv + (["-q"] if quiet else [])
