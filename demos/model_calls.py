"""Model work for async routes: run a call through the :class:`ModelGate` in a thread of our own with the
request's deadline, answer 504 at the deadline and cancel the work (it stops at its next check, or is dropped
from its worker's queue unseen), refuse at once with 503 when a line is full, and stream a generator's items
without holding anything across an ``await`` of the client.

Threads come from a limiter of our own, so model work can never take the threads that health checks, logins
and file responses need; ``capacity`` requests at most are in flight (running or waiting) at once."""

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
    def __init__(self, gate: ModelGate, timeout_s: float, capacity: int | None = None) -> None:
        self.gate = gate
        self.timeout_s = timeout_s
        self.capacity = capacity or gate.slots + gate.queue
        self._limiter: anyio.CapacityLimiter | None = None
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created inside the running event loop
            self._limiter = anyio.CapacityLimiter(self.capacity + 2)
        return self._limiter

    @property
    def full(self) -> bool:
        """``capacity`` requests are running or waiting now (a new one would be refused)."""
        return self._pending >= self.capacity

    def _enter(self) -> None:
        with self._lock:
            if self._pending >= self.capacity:
                self.gate.engine.observer.rejected("requests")  # the in-flight cap, before any worker queue
                raise GateFullError(
                    f"the server is busy ({self._pending} model requests running or waiting); retry in a second"
                )
            self._pending += 1

    def _leave(self) -> None:
        with self._lock:
            self._pending -= 1

    def deadline(self, what: str = "the request") -> Deadline:
        return Deadline(self.timeout_s, what)

    async def run(
        self, fn: Callable[[], T], *, write: bool = False, what: str = "the request", receive=None, lane="generic"
    ) -> T:
        """``fn()`` on ``lane`` (see :class:`ModelGate`). Reads are cancelled at the deadline (504) or when the
        client hangs up (``receive``: the request's ASGI receive, read after the body for a disconnect); a
        write is cancelled only if it has not started, otherwise it finishes and its result is returned."""
        self._enter()
        deadline = self.deadline(what)

        def call():
            try:
                return self.gate.run(fn, deadline, write=write, lane=lane)
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

    def open_stream(
        self, make: Callable[[], Iterator[T]], what: str = "the request", lane: str = "answerer"
    ) -> CallStream:
        """Queue ``make()`` on ``lane`` now (503 at once when full, before any response starts) and return its
        items, read here. The deadline, a client that hangs up (the iterator closed or cancelled, or
        :meth:`CallStream.close`) or an error stops the producer."""
        self._enter()
        try:
            items = self.gate.stream(make, self.deadline(what), lane=lane)
        except BaseException:
            self._leave()
            raise
        return CallStream(self, items)

    async def stream(self, make: Callable[[], Iterator[T]], what: str = "the request") -> AsyncIterator[T]:
        """Like :meth:`open_stream`, queued when first iterated."""
        items = self.open_stream(make, what)
        try:
            async for item in items:
                yield item
        finally:
            items.close()


class CallStream:
    """Async iteration over a :class:`demos.gate.Stream`; :meth:`close` (idempotent) stops the producer and
    frees the request's place, also when the iteration never started (pass it as the response's background
    task: a client that hangs up before the first byte still frees it)."""

    def __init__(self, calls: ModelCalls, items) -> None:
        self._calls = calls
        self._items = items
        self._closed = False

    def __aiter__(self):
        return self._read()

    async def _read(self):
        try:
            while True:
                item = await anyio.to_thread.run_sync(
                    partial(next, self._items, _END), abandon_on_cancel=True, limiter=self._calls.limiter
                )
                if item is _END:
                    return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._items.close()
            self._calls._leave()


async def _disconnected(receive) -> None:
    """Returns when the client hangs up (the body was read already, so the next message is the disconnect)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
