"""One writer per index folder: an exclusive, non-blocking ``flock`` on ``write.lock``.

The lock dies with its process (even on SIGKILL), so a crashed writer never leaves a stale lock.
Readers take no lock: they read the last committed store and index file.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from retrieval.errors import IndexLockedError

LOCK_FILE = "write.lock"


class WriterLock:
    """Context manager holding the folder's writer lock; raises :class:`IndexLockedError` if taken."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> WriterLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise IndexLockedError(
                f"{self.path.parent}: another process (pid {holder}) is writing to this index; wait for it to "
                "finish (searches keep working meanwhile)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
