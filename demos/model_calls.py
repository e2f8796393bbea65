"""Model work for async routes: run a call through the :class:`ModelGate` in a worker thread with the request's
deadline, answer 504 at the deadline and cancel the work (it stops at its next check, or is never started),
refuse at once with 503 when the line is full, and stream a generator's items without holding anything
across an ``await`` of the client.

Worker threads come from a limiter of our own, so model work can never take the threads that health checks,
logins and file responses need."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import TypeVar

import anyio
import anyio.to_thread

from demos.gate import GateFullError, ModelGate
from multimodal.deadline import Deadline, DeadlineExceeded

T = TypeVar("T")
log = logging.getLogger("sceneqa.serve")
_END = object()


class ModelCalls:
    def __init__(self, gate: ModelGate, timeout_s: float) -> None:
        self.gate = gate
        self.timeout_s = timeout_s
        self.capacity = gate.slots + gate.queue
        self._limiter: anyio.CapacityLimiter | None = None
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created inside the running event loop
            self._limiter = anyio.CapacityLimiter(self.capacity + 2)
        return self._limiter

    def _enter(self) -> None:
        with self._lock:
            if self._pending >= self.capacity:
                raise GateFullError(
                    f"the server is busy ({self._pending} model requests running or waiting); retry in a few seconds"
                )
            self._pending += 1

    def _leave(self) -> None:
        with self._lock:
            self._pending -= 1

    def deadline(self, what: str = "the request") -> Deadline:
        return Deadline(self.timeout_s, what)

    async def run(self, fn: Callable[[], T], *, write: bool = False, what: str = "the request", receive=None) -> T:
        """``fn()`` in a worker thread holding a model slot. Reads are cancelled at the deadline (504) or when
        the client hangs up (``receive``: the request's ASGI receive, read after the body for a disconnect); a
        write is cancelled only if it has not started, otherwise it finishes and its result is returned."""
        self._enter()
        deadline = self.deadline(what)

        def call():
            try:
                return self.gate.run(fn, deadline, write=write)
            except Exception as exc:
                if deadline.cancelled and not isinstance(exc, DeadlineExceeded):
                    log.warning("abandoned %s failed after its client was answered: %s", what, exc)
                raise
            finally:
                self._leave()

        task = asyncio.ensure_future(anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=self.limiter))
        watcher = asyncio.ensure_future(_disconnected(receive)) if receive is not None else None
        try:
            waiting = {task} if watcher is None else {task, watcher}
            done, _ = await asyncio.wait(waiting, timeout=deadline.remaining() + 0.05, return_when="FIRST_COMPLETED")
            if task not in done and write and not deadline.cancel(unless_started=True):
                return await task  # the write started in time: it is applied, so it is answered
            if task not in done:
                deadline.cancel()
                task.cancel()
                if watcher is not None and watcher in done:
                    raise DeadlineExceeded(f"{what} was stopped: its client hung up")
                raise DeadlineExceeded(f"{what} took longer than its {self.timeout_s:g} s limit; it was stopped")
            return task.result()
        except asyncio.CancelledError:
            deadline.cancel(unless_started=write)
            raise
        finally:
            if watcher is not None:
                watcher.cancel()

    async def stream(self, make: Callable[[], Iterator[T]], what: str = "the request") -> AsyncIterator[T]:
        """Items of ``make()`` produced in a worker thread (holding a slot) and read here. The deadline, a
        client that hangs up (this generator closed or cancelled) or an error stops the producer."""
        self._enter()
        deadline = self.deadline(what)
        items = self.gate.stream(make, deadline)
        try:
            while True:
                item = await anyio.to_thread.run_sync(
                    partial(next, items, _END), abandon_on_cancel=True, limiter=self.limiter
                )
                if item is _END:
                    return
                yield item
        finally:
            deadline.cancel()
            self._leave()


async def _disconnected(receive) -> None:
    """Returns when the client hangs up (the body was read already, so the next message is the disconnect)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
