"""The model gate: the server's one door to model work, for the UI and the API alike, over the serving engine
(:mod:`multimodal.engine`): the same workers, queues and limits for both.

Lanes: ``direct`` runs the handler's own code in the calling thread (decoding, FAISS search, post-processing)
and only its embedding calls go to the batching workers; ``answerer`` and ``generic`` run the whole call on
that worker's thread. Rules that keep one bad client from locking everyone out:

- a worker is only ever held around one call, never across a ``yield`` to a client: streams are produced on
  the answerer worker into a queue and the client side only reads the queue;
- a job whose deadline passes (504 sent, client gone) while it waits is dropped before any model runs;
- a full queue refuses at once (:class:`GateFullError`, HTTP 503 with ``Retry-After``).
"""

from __future__ import annotations

import logging
import queue as queue_mod
from collections.abc import Callable, Iterator
from typing import TypeVar

from multimodal.deadline import Deadline, DeadlineExceeded, deadline_scope
from multimodal.engine.engine import Engine
from multimodal.engine.jobs import EngineBusyError

T = TypeVar("T")
log = logging.getLogger("sceneqa.serve")
_DONE = object()
LANES = ("direct", "answerer", "generic")

#: the one "busy" error: answered 503 with ``Retry-After`` (demos/api_errors.py)
GateFullError = EngineBusyError


class ModelGate:
    """``run(fn, deadline, lane=...)`` and ``stream(make, deadline)`` over ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.slots = self.engine.config.call_threads
        self.queue = self.engine.config.queue_size

    @classmethod
    def sized(cls, slots: int = 1, queue: int = 4) -> ModelGate:
        """A gate over a new engine with ``slots`` call threads and ``queue`` waiting jobs per worker (tests,
        embedding the UI without ``sceneqa serve``)."""
        from multimodal.engine.config import EngineConfig

        return cls(Engine(EngineConfig(call_threads=slots, queue_size=queue)))

    def stats(self) -> dict[str, object]:
        """``{"busy": batches running, "waiting": jobs queued, "workers": {...}}`` (never blocks)."""
        return self.engine.stats()

    def run(self, fn: Callable[[], T], deadline: Deadline, *, write: bool = False, lane: str = "generic") -> T:
        """``fn()`` on ``lane`` (blocking). Reads check ``deadline`` inside (``check_deadline``) and stop when it
        passes; a write checks it once, when it starts, then runs to completion, so it is either applied and
        answered or never applied."""
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}; use one of {', '.join(LANES)}")
        if lane != "direct":
            return self.engine.call(fn, deadline, lane=lane, write=write)
        if not deadline.try_start():
            raise DeadlineExceeded(f"{deadline.what} was cancelled before it started; nothing was done")
        with deadline_scope(None if write else deadline):
            return fn()

    def stream(self, make: Callable[[], Iterator[T]], deadline: Deadline, *, lane: str = "answerer") -> Stream:
        """Queue ``make()``'s iteration on ``lane`` now (:class:`GateFullError` at once when the queue is full)
        and return its items as a :class:`Stream`; closing it (client gone) or the deadline passing stops the
        producer at its next item or deadline check (a VLM at its next token)."""
        return Stream(self.engine, make, deadline, lane)


class Stream:
    """An iterator over items produced on a worker; :meth:`close` cancels the producer (also when never
    iterated)."""

    def __init__(self, engine: Engine, make: Callable[[], Iterator], deadline: Deadline, lane: str, buffer=64):
        self.deadline = deadline
        self._out: queue_mod.Queue = queue_mod.Queue(maxsize=buffer)
        self._finished = False
        self._job = engine.submit_call(self._produce(make), deadline, lane=lane)

    def _put(self, item) -> bool:
        while not self.deadline.expired:
            try:
                self._out.put(item, timeout=0.1)
                return True
            except queue_mod.Full:
                continue
        return False

    def _produce(self, make: Callable[[], Iterator]) -> Callable[[], None]:
        def body() -> None:
            items = make()
            try:
                for item in items:
                    self.deadline.check("streaming")
                    if not self._put(item):
                        return
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # a generating VLM stops its generation thread here
            self._put(_DONE)

        return body

    def __iter__(self) -> Stream:
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        deadline = self.deadline
        while True:
            try:  # short polls: a consumer abandoned by its client notices the cancel quickly
                item = self._out.get(timeout=max(0.01, min(0.1, deadline.remaining())))
            except queue_mod.Empty:
                if self._job.done and self._job.error is not None:
                    self.close()
                    error, self._job.error = self._job.error, None  # no cycle keeps this frame (see Job.wait)
                    try:
                        raise error from None
                    finally:
                        del error
                if deadline.expired:
                    why = (
                        "was cancelled" if deadline.cancelled else f"took longer than its {deadline.limit_s:g} s limit"
                    )
                    self.close()
                    raise DeadlineExceeded(f"{deadline.what} {why}") from None
                continue
            if item is _DONE:
                self.close()
                raise StopIteration
            return item

    def close(self) -> None:
        """Stop the producer (at its next item or check); the worker is free again soon after."""
        self._finished = True
        self.deadline.cancel()
