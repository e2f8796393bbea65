"""The machine and package versions, for benchmark headers and report provenance."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def machine_info() -> dict[str, object]:
    from multimodal.runtime import cpu_model_name, fast_cpu_bf16_flag

    return {
        "cpu": cpu_model_name(),
        "cores": os.cpu_count(),
        "fast_bf16": fast_cpu_bf16_flag() or "none",
        "python": platform.python_version(),
        "packages": {
            name: _version(name)
            for name in ("torch", "open_clip_torch", "transformers", "pillow", "numpy", "timm", "faiss-cpu")
        },
    }


def header_line(info: dict[str, object] | None = None) -> str:
    info = info or machine_info()
    pk = info["packages"]
    return (
        f"machine: {info['cpu']}, {info['cores']} cores, fast bf16: {info['fast_bf16']}; "
        f"torch {pk['torch']}, open_clip {pk['open_clip_torch']}, python {info['python']}"
    )  # type: ignore[index]


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
