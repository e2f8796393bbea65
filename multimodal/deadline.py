"""Deadlines that stop work: a request's time limit travels with it (a context variable, copied into the
worker thread that runs it) and long pipelines check it between stages, so work whose client was already
answered 504 (or hung up) stops at the next stage instead of running on.

``Deadline.check`` raises :class:`DeadlineExceeded`. Writes use ``try_start`` / ``try_cancel`` so that a
write is either started before its deadline and then finished (and answered), or never applied.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from retrieval.errors import SceneQAError


class DeadlineExceeded(SceneQAError, TimeoutError):
    """The request's time limit passed, or its client went away, before the work finished."""


class Deadline:
    """A point in time (``time.monotonic()`` seconds) plus a cancel flag. Thread-safe."""

    def __init__(self, seconds: float, what: str = "the request") -> None:
        self.limit_s = float(seconds)
        self.at = time.monotonic() + self.limit_s
        self.what = what
        self._lock = threading.Lock()
        self._cancelled = False
        self._started = False

    def remaining(self) -> float:
        """Seconds left (0 when passed or cancelled)."""
        if self._cancelled:
            return 0.0
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return self._cancelled or time.monotonic() >= self.at

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def check(self, stage: str = "") -> None:
        """Raise :class:`DeadlineExceeded` when the deadline passed or the work was cancelled."""
        if self._cancelled:
            raise DeadlineExceeded(f"{self.what} was cancelled (its client gave up or was answered){_at(stage)}")
        if time.monotonic() >= self.at:
            raise DeadlineExceeded(f"{self.what} took longer than its {self.limit_s:g} s limit{_at(stage)}")

    def try_start(self) -> bool:
        """Mark the work started; False (and nothing marked) when already cancelled or past the deadline."""
        with self._lock:
            if self._cancelled or time.monotonic() >= self.at:
                self._cancelled = True
                return False
            self._started = True
            return True

    def cancel(self, *, unless_started: bool = False) -> bool:
        """Cancel; with ``unless_started`` only when the work has not started (returns whether cancelled)."""
        with self._lock:
            if unless_started and self._started:
                return False
            self._cancelled = True
            return True


_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("sceneqa_deadline", default=None)


def current_deadline() -> Deadline | None:
    return _current.get()


def check_deadline(stage: str = "") -> None:
    """Check the deadline of the request this code runs for (a no-op outside a request)."""
    deadline = _current.get()
    if deadline is not None:
        deadline.check(stage)


@contextmanager
def deadline_scope(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make ``deadline`` the current one for the code inside (and threads started with a copied context)."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)


def _at(stage: str) -> str:
    return f" (at {stage})" if stage else ""
