"""Device, precision and thread choice, resolved once and passed down.

``resolve_runtime("auto", "auto")`` picks CUDA when present, else the CPU; bf16 on CPUs whose bf16 matrix
path is fast (AMX or AVX512-BF16: about 3-6x fp32 for ViT-sized matmuls), fp32 on other CPUs, bf16 or
fp16 on GPUs. The :class:`Runtime` carries a ``reason`` the CLI and UI print.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from multimodal.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_FAST_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class Runtime:
    """Where and in which precision models run. ``device`` is ``"cpu"`` or ``"cuda"`` (or ``"cuda:N"``)."""

    device: str = "cpu"
    precision: str = "fp32"
    reason: str = ""

    def __post_init__(self) -> None:
        if not (self.device in ("cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device {self.device!r} is not one of cpu, cuda, cuda:N")
        if self.precision not in PRECISIONS[1:]:
            raise ConfigError(f"precision {self.precision!r} is not one of {', '.join(PRECISIONS[1:])}")
        if self.device == "cpu" and self.precision == "fp16":
            raise ConfigError("precision fp16 is not supported on the CPU; use bf16 or fp32")

    @property
    def torch_dtype(self):  # -> torch.dtype; torch is imported lazily to keep import light
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]

    def describe(self) -> str:
        return f"{self.device}, {self.precision}" + (f" ({self.reason})" if self.reason else "")


def resolve_runtime(device: str = "auto", precision: str = "auto") -> Runtime:
    """Resolve ``auto`` choices against the machine. Raises :class:`ConfigError` for bad values."""
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ConfigError(f"--device {device!r} is not one of {', '.join(DEVICES)} (or cuda:N)")
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    import torch

    reasons: list[str] = []
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
        reasons.append("CUDA available" if device == "cuda" else "no CUDA device")
    elif device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} asked for, but torch sees no CUDA device; use --device cpu")
    if precision == "auto":
        if device.startswith("cuda"):
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            reasons.append(f"GPU {'supports' if precision == 'bf16' else 'lacks'} bf16")
        else:
            flag = fast_cpu_bf16_flag()
            precision = "bf16" if flag else "fp32"
            reasons.append(f"CPU has {flag}" if flag else "CPU lacks a fast bf16 path (AMX/AVX512-BF16)")
    return Runtime(device=device, precision=precision, reason="; ".join(reasons))


def limit_blas_threads(threads: int):
    """Cap the BLAS libraries loaded now (numpy's OpenBLAS) at ``threads`` for the rest of the process (0: leave
    them). Our numpy matmuls are small (label and concept scores next to a forward pass), and OpenBLAS threads
    woken while torch's OpenMP threads hold the cores wait for them: measured on 2 cores (lite, bf16),
    ``embed_texts`` of 2 texts took 22 ms with numpy's default threads and 8 ms with one; a ``sceneqa serve``
    under 16 clients spent 86 ms of CPU per request with the default and 47 ms with one. Returns the
    ``threadpoolctl`` limiter (its ``restore_original_limits()`` undoes it), or None when nothing changed."""
    if threads < 0:
        raise ConfigError(f"--blas-threads must be >= 0 (0: numpy's own choice), got {threads}")
    if threads == 0:
        return None
    import numpy  # noqa: F401  (loads its BLAS, so that the limit reaches it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def fast_cpu_bf16_flag() -> str | None:
    """The CPU flag that makes bf16 matmuls fast here (``amx_bf16``, ``avx512_bf16``), or ``None``."""
    flags = _cpu_flags()
    return next((f for f in _FAST_BF16_FLAGS if f in flags), None)


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_model_name() -> str:
    """The CPU model string, for benchmark headers."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()
