"""Device and precision resolution."""

from __future__ import annotations

import pytest

from multimodal import runtime as rt
from multimodal.errors import ConfigError
from multimodal.runtime import Runtime, resolve_runtime


def test_auto_on_a_cpu_with_fast_bf16(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(rt, "_cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    got = resolve_runtime("auto", "auto")
    assert (got.device, got.precision) == ("cpu", "bf16")
    assert "avx512_bf16" in got.reason and "no CUDA" in got.reason


def test_auto_on_a_plain_cpu_is_fp32(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(rt, "_cpu_flags", lambda: frozenset({"avx2"}))
    assert resolve_runtime().precision == "fp32"
    assert rt.fast_cpu_bf16_flag() is None


def test_explicit_choices_and_errors(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_runtime("cpu", "fp32") == Runtime("cpu", "fp32", "")
    with pytest.raises(ConfigError, match="--device cuda asked for, but torch sees no CUDA device"):
        resolve_runtime("cuda", "auto")
    with pytest.raises(ConfigError, match="--device 'tpu' is not one of auto, cpu, cuda"):
        resolve_runtime("tpu")
    with pytest.raises(ConfigError, match="--precision 'int4'"):
        resolve_runtime("cpu", "int4")
    with pytest.raises(ConfigError, match="fp16 is not supported on the CPU"):
        Runtime("cpu", "fp16")


def test_torch_dtype_and_description():
    import torch

    r = Runtime("cpu", "bf16", "CPU has amx_bf16")
    assert r.torch_dtype is torch.bfloat16
    assert r.describe() == "cpu, bf16 (CPU has amx_bf16)"


def test_blas_threads_are_capped_and_restored():
    from threadpoolctl import threadpool_info

    from multimodal.runtime import limit_blas_threads

    def blas_threads() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    assert before  # numpy's BLAS is loaded and seen
    limiter = limit_blas_threads(1)
    try:
        assert blas_threads() == [1] * len(before)
    finally:
        limiter.restore_original_limits()
    assert blas_threads() == before
    assert limit_blas_threads(0) is None and blas_threads() == before  # 0: numpy's own choice, nothing changed
    with pytest.raises(ConfigError, match="--blas-threads must be >= 0"):
        limit_blas_threads(-1)


def test_the_cli_caps_blas_at_one_thread_by_default():
    from sceneqa.cli import build_parser

    assert build_parser().parse_args(["models"]).blas_threads == 1
