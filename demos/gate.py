"""The model gate: at most ``slots`` model calls at once for the whole server (UI and API together), a bounded
number waiting, and every wait and every call bounded by the request's :class:`Deadline`.

Rules that keep one bad client from locking everyone out:

- the gate is only ever held inside one worker thread, around one call, never across a ``yield`` to a
  client: streams are produced by a worker thread into a queue and the client side only reads the queue;
- waiting for a slot ends at the deadline, and work that was cancelled (504 sent, client gone) while it
  waited is never started;
- when ``queue`` requests are already waiting, the next one is refused at once (:class:`GateFullError`,
  HTTP 503 with ``Retry-After``) instead of piling up threads.
"""

from __future__ import annotations

import logging
import queue as queue_mod
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from multimodal.deadline import Deadline, DeadlineExceeded, deadline_scope
from retrieval.errors import SceneQAError

T = TypeVar("T")
log = logging.getLogger("sceneqa.serve")
_DONE = object()


class GateFullError(SceneQAError):
    """Too many requests are already waiting for a model; try again shortly."""

    retry_after_s = 2


class ModelGate:
    def __init__(self, slots: int = 1, queue: int = 32) -> None:
        self.slots = slots
        self.queue = queue
        self._sem = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0
        self._busy = 0

    def stats(self) -> dict[str, int]:
        """``{"busy": calls running, "waiting": calls waiting}`` (never blocks)."""
        return {"busy": self._busy, "waiting": self._waiting, "slots": self.slots}

    def _acquire(self, deadline: Deadline) -> None:
        with self._lock:
            if self._waiting >= self.queue:
                raise GateFullError(
                    f"the server is busy: {self._waiting} requests are waiting for a model; retry in a few seconds"
                )
            self._waiting += 1
        try:  # short slices: a waiter whose client gave up leaves the line at once instead of at its deadline
            got = False
            while not got and not deadline.expired:
                got = self._sem.acquire(timeout=min(0.05, max(0.001, deadline.remaining())))
        finally:
            with self._lock:
                self._waiting -= 1
        if not got:
            if deadline.cancelled:
                raise DeadlineExceeded(f"{deadline.what} was cancelled while it waited; nothing was done")
            deadline.cancel()
            raise DeadlineExceeded(f"{deadline.what} waited {deadline.limit_s:g} s for a free model and gave up")
        with self._lock:
            self._busy += 1

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1
        self._sem.release()

    def run(self, fn: Callable[[], T], deadline: Deadline, *, write: bool = False) -> T:
        """Run ``fn`` holding a slot (blocking; call from a worker thread). Reads check ``deadline`` inside
        (``check_deadline``) and stop when it passes; a write checks it once, when it starts, then runs to
        completion, so a write is either applied and answered or never applied."""
        self._acquire(deadline)
        try:
            if not deadline.try_start():
                raise DeadlineExceeded(f"{deadline.what} was cancelled before it started; nothing was done")
            with deadline_scope(None if write else deadline):
                return fn()
        finally:
            self._release()

    def stream(self, make: Callable[[], Iterator[T]], deadline: Deadline, *, buffer: int = 64) -> Iterator[T]:
        """Iterate ``make()`` in a worker thread holding a slot; yield its items here. Closing this generator
        (client gone) or the deadline passing cancels the worker, which stops at its next item or check and
        frees the slot; the slot is never held across this generator's ``yield``."""
        out: queue_mod.Queue = queue_mod.Queue(maxsize=buffer)

        def put(item) -> bool:
            while not deadline.expired:
                try:
                    out.put(item, timeout=0.1)
                    return True
                except queue_mod.Full:
                    continue
            return False

        def produce() -> None:
            try:

                def body() -> None:
                    items = make()
                    try:
                        for item in items:
                            deadline.check("streaming")
                            if not put(item):
                                return
                    finally:
                        close = getattr(items, "close", None)
                        if close is not None:
                            close()  # a generating VLM stops its generation thread here

                self.run(body, deadline)
                put(_DONE)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                if deadline.cancelled:
                    log.info("abandoned stream stopped: %s", exc)
                put(exc)

        worker = threading.Thread(target=produce, name="sceneqa-stream", daemon=True)
        worker.start()
        try:
            while True:
                try:  # short polls: a consumer thread abandoned by its client notices the cancel quickly
                    item = out.get(timeout=max(0.01, min(0.25, deadline.remaining())))
                except queue_mod.Empty:
                    if deadline.expired:
                        deadline.cancel()
                        raise DeadlineExceeded(
                            f"{deadline.what} took longer than its {deadline.limit_s:g} s limit"
                        ) from None
                    continue
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            deadline.cancel()
