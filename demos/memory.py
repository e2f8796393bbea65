"""Process memory settings for the long-running server, applied once in ``sceneqa serve``'s main.

glibc gives every thread that allocates its own malloc arena (up to 8 per core); a server whose worker
threads decode large images then keeps each arena's high-water mark: in the adversarial run RSS grew 56%
over 30 s with default arenas and 4% with two. ``mallopt(M_ARENA_MAX, n)`` is what the ``MALLOC_ARENA_MAX``
environment variable sets, but it also works after start-up, before the worker threads exist.

glibc also raises its mmap threshold each time a large block is freed (up to 32 MB), so that later buffers of
a few MB (a decoded photo, a base64 upload) come from the heap, whose high-water mark is rarely given back.
With the batching workers (several requests' images in flight at once) the adversarial run grew 28-33% that
way even with two arenas; a fixed threshold (``mallopt(M_MMAP_THRESHOLD, 128 KiB)``, glibc's default starting
value, which also turns the adjustment off) gives such buffers back to the OS when freed: +0.3% in one such run,
but other runs still grew 15-35%.

That rest is not the allocator (issue 18, measured with glibc's ``mallinfo2`` every 0.25 s in the served
process): at idle after a run the heap is flat (230 MB, 8-15 MB of it free) and ``malloc_trim(0)`` gives back
only ~10 MB (in 1-2 ms), so the server does not call it. What swings is memory still in use: the mmapped
blocks of decoded photos of asks that failed (504) are kept by a reference cycle (the exception's traceback
holds the model worker's frame, whose job holds the exception) until the cycle collector's next full pass,
which on a server with a million long-lived objects can be minutes away. At the end of one run
``gc.collect()`` freed 356 MB of them (RSS 1433 -> 1075 MB). Fixed where the cycles are made
(:mod:`multimodal.engine`: the worker clears a failed call's frames, a done job drops its payload, a waiter
takes the error out of its job before raising it; the same in :mod:`demos.gate`'s streams), pinned by
``tests/test_memory_failed_calls.py``. Adversarial runs since (four with the fix patched in for the measurement,
then one with it in the engine): 1,069-1,079 MB at the end, +0.4-1% over the idle server after the warm-up."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (no-op elsewhere, or when ``MALLOC_ARENA_MAX`` is already set).
    Returns whether the cap was applied."""
    if os.environ.get("MALLOC_ARENA_MAX") or not ctypes.util.find_library("c"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold (no-op elsewhere, or when ``MALLOC_MMAP_THRESHOLD_`` is already set), so that
    freed large buffers go back to the OS. Returns whether it was applied."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or not ctypes.util.find_library("c"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False


def freeze_startup_objects() -> int:
    """Move every object alive now (models, the app, imported modules) into the cycle collector's permanent
    generation, so that its full passes on a running server scan only what requests made since, not the
    ~500k objects of start-up (a full pass over those took ~300 ms with the lite services loaded, during which
    no other thread runs Python: a /healthz answer waits it out). Returns the objects frozen."""
    import gc

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
