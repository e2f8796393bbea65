"""demos/memory.py: the server's glibc malloc settings (applied on glibc, skipped when the environment sets them)."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from demos.memory import fix_mmap_threshold, limit_malloc_arenas

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc" and ctypes.util.find_library("c")


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_settings_apply_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert fix_mmap_threshold() is True
    assert limit_malloc_arenas(8) is True  # 8: this test process's own threads keep their arenas' cap


def test_the_environment_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert limit_malloc_arenas() is False and fix_mmap_threshold() is False


def test_start_up_objects_leave_the_cycle_collectors_full_passes():
    import gc

    from demos.memory import freeze_startup_objects

    before = gc.get_freeze_count()
    try:
        frozen = freeze_startup_objects()
        # the objects alive now leave every later pass (the count falls as other threads free some of them)
        assert frozen > before and gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
