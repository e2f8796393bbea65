"""Resident memory of a process, from ``/proc/PID/status`` (Linux), for benchmarks and tests."""

from __future__ import annotations

from pathlib import Path


def rss_mb(pid: int | None = None, *, peak: bool = False) -> float:
    """Resident set size of process ``pid`` (default: this one) in MB: now (``VmRSS``), or with ``peak`` the
    high-water mark of the process image (``VmHWM``; unlike ``ru_maxrss`` it does not carry a forking parent's
    over exec). NaN when the field is missing (a zombie); OSError when the process is gone."""
    field = "VmHWM:" if peak else "VmRSS:"
    for line in Path(f"/proc/{'self' if pid is None else pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")
