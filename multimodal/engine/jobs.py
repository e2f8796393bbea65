"""What travels through a worker's queue: a :class:`Job` (its payload, the request's deadline, where its
queue and model time are added up), and the errors and hooks of the engine."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from multimodal.deadline import Deadline, DeadlineExceeded
from retrieval.errors import SceneQAError


class EngineBusyError(SceneQAError):
    """A worker's queue is full: refused at once (HTTP 503 with ``Retry-After``), nothing was queued."""

    retry_after_s = 1


class RequestTimings:
    """Seconds one request spent waiting in worker queues and running on models (all its jobs together)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.queue_s = 0.0
        self.model_s = 0.0

    def add(self, queue_s: float, model_s: float) -> None:
        with self._lock:
            self.queue_s += queue_s
            self.model_s += model_s


_timings: contextvars.ContextVar[RequestTimings | None] = contextvars.ContextVar("sceneqa_timings", default=None)


def current_timings() -> RequestTimings | None:
    return _timings.get()


@contextmanager
def timings_scope(timings: RequestTimings | None) -> Iterator[RequestTimings | None]:
    """Make ``timings`` the current request's (jobs submitted inside add their times to it)."""
    token = _timings.set(timings)
    try:
        yield timings
    finally:
        _timings.reset(token)


class EngineObserver(Protocol):
    """Where a worker reports what it did (the server's metrics); every method must return at once."""

    def batch(self, worker: str, size: int, seconds: float) -> None: ...

    def expired(self, worker: str) -> None: ...

    def rejected(self, worker: str) -> None: ...

    def overran(self, worker: str) -> None: ...


class NullObserver:
    def batch(self, worker: str, size: int, seconds: float) -> None:
        pass

    def expired(self, worker: str) -> None:
        pass

    def rejected(self, worker: str) -> None:
        pass

    def overran(self, worker: str) -> None:
        pass


class Job:
    """One request's work on one worker: ``payload`` (items to batch, or a callable), ``size`` (items it
    adds to a batch), ``deadline`` (None: none), ``write`` (once started it runs to the end)."""

    __slots__ = ("payload", "size", "deadline", "write", "timings", "enqueued", "started", "_done", "result", "error")

    def __init__(self, payload: object, size: int, deadline: Deadline | None, *, write: bool = False) -> None:
        self.payload = payload
        self.size = size
        self.deadline = deadline
        self.write = write
        self.timings = current_timings()
        self.enqueued = time.monotonic()
        self.started: float | None = None
        self._done = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def admit(self, needs_s: float = 0.0) -> bool:
        """Called by the worker before the model sees the job: False (and the job failed with
        :class:`DeadlineExceeded`) when its deadline passed or it was cancelled while it waited, or when less
        than ``needs_s`` (the worker's estimate of the pass about to run) is left: its answer would come after
        its client was told 504, so the pass is spared it."""
        deadline = self.deadline
        if deadline is not None:
            was_cancelled = deadline.cancelled
            if needs_s > 0 and not was_cancelled and 0 < deadline.remaining() < needs_s:
                left = deadline.remaining()
                deadline.cancel(unless_started=True)
                self.fail(
                    DeadlineExceeded(
                        f"{deadline.what} had {left:.2f} s left, less than the {needs_s:.2f} s its model pass "
                        "takes now; it was not started"
                    )
                )
                return False
            if not deadline.try_start():
                waited = time.monotonic() - self.enqueued
                why = "was cancelled" if was_cancelled else f"passed its {deadline.limit_s:g} s limit"
                self.fail(
                    DeadlineExceeded(f"{deadline.what} {why} after {waited:.2f} s in the queue; nothing was done")
                )
                return False
        self.started = time.monotonic()
        return True

    def finish(self, result: object, model_s: float) -> None:
        self.result = result
        self._record(model_s)
        self.payload = None  # a done job keeps no request data (decoded images...) alive
        self._done.set()

    def fail(self, error: BaseException, model_s: float = 0.0) -> None:
        self.error = error
        self._record(model_s)
        self.payload = None
        self._done.set()

    def _record(self, model_s: float) -> None:
        if self.timings is not None:
            queued = (self.started or time.monotonic()) - self.enqueued
            self.timings.add(queued, model_s)

    def wait(self) -> object:
        """The result (blocking). At the deadline a read is cancelled and :class:`DeadlineExceeded` raised: the
        worker drops it unseen if it has not started; if it is in a running batch, that pass is waited for (one
        forward pass) and its result dropped. A write that started is waited for to the end, one that did not is
        never started."""
        deadline = self.deadline
        while not self._done.wait(0.05 if deadline is None else max(0.001, min(0.05, deadline.remaining()))):
            if deadline is None or not deadline.expired:
                continue
            if self.write and not deadline.cancel(unless_started=True):
                self._done.wait()  # the write started in time: it is applied, so it is answered
                break
            was_cancelled = deadline.cancelled
            deadline.cancel()
            if self.started is not None:
                # already in a forward pass (bounded: one batch): wait for it, so that a 504 leaves no work
                # running and the caller's next request never overlaps this one's memory
                self._done.wait()
            if was_cancelled:
                done = "nothing was done" if self.started is None else "it was stopped"
                raise DeadlineExceeded(f"{deadline.what} was cancelled (its client gave up or was answered); {done}")
            if self.started is None:
                raise DeadlineExceeded(f"{deadline.what} waited {deadline.limit_s:g} s for a free model and gave up")
            raise DeadlineExceeded(f"{deadline.what} took longer than its {deadline.limit_s:g} s limit; it was stopped")
        if self.error is not None:
            # raised from here, the error's traceback holds this frame and so this job: a job still holding the
            # error would make a reference cycle that keeps every frame of the failed request (its decoded images)
            # alive until the cycle collector's next full pass
            error, self.error = self.error, None
            try:
                raise error
            finally:
                del error  # nor may this frame keep it (the same cycle, through the local)
        return self.result
