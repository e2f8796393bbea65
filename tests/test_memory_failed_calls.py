"""Issue 18: what a failed model call leaves behind. A call that raises (a 504's ``DeadlineExceeded`` above all)
hands its exception to its :class:`~multimodal.engine.jobs.Job`; the exception's traceback holds the worker's
``_execute`` frame, whose ``jobs`` hold the job, which holds the exception: a reference cycle. Until the
cycle collector's next full pass (minutes on a server with a million long-lived objects) it keeps alive every
local of the failed call's frames: in the adversarial run, an ask's 8 decoded 2400-px photos (~140 MB each
time, 180-360 MB at the end of a run) -- the whole of the run-to-run RSS swing (see demos/memory.py). The
worker clears the failed call's frames and a waiter takes the error out of its job before raising it."""

from __future__ import annotations

import gc
import weakref

import pytest

from multimodal.deadline import DeadlineExceeded
from multimodal.engine.jobs import Job
from multimodal.engine.worker import Worker


class Photos:
    """Stands for a request's decoded images (weak-referenceable)."""


def test_a_failed_call_frees_its_locals_without_the_cycle_collector():
    seen: list[weakref.ref] = []

    def ask() -> None:
        photos = Photos()  # a local of a frame in the traceback, as the pipeline's images are
        seen.append(weakref.ref(photos))
        raise DeadlineExceeded("ask was cancelled (its client gave up or was answered) (at image facts: objects)")

    gc.disable()  # what a busy server amounts to: the cycle sits in the oldest generation
    worker = Worker("calls", lambda jobs: [job.payload() for job in jobs], queue_size=2)
    try:
        job = worker.submit(Job(ask, 1, None))
        with pytest.raises(DeadlineExceeded, match="image facts"):
            job.wait()
        del job
        assert seen[0]() is None, "the failed call's locals are still alive (held by a reference cycle)"
    finally:
        worker.stop()
        gc.enable()


def test_a_request_that_raises_its_jobs_error_is_freed_without_the_cycle_collector():
    seen: list[weakref.ref] = []

    def fail() -> None:
        raise DeadlineExceeded("ask took longer than its 3 s limit; it was stopped")

    def handler(worker: Worker) -> None:
        photos = Photos()  # the request's own decoded images, a local of a frame the error passes through
        seen.append(weakref.ref(photos))
        worker.submit(Job(fail, 1, None)).wait()

    worker = Worker("calls", lambda jobs: [job.payload() for job in jobs], queue_size=2)
    try:
        assert _freed_after_error(lambda: handler(worker), seen), "the request's frames are kept by a cycle"
    finally:
        worker.stop()


def test_a_done_job_keeps_no_payload():
    worker = Worker("calls", lambda jobs: [job.payload() for job in jobs], queue_size=2)
    try:
        job = worker.submit(Job(lambda: 7, 1, None))
        assert job.wait() == 7 and job.payload is None
    finally:
        worker.stop()


def test_a_stream_that_raises_its_producers_error_is_freed_without_the_cycle_collector():
    from demos.gate import Stream
    from multimodal.deadline import Deadline
    from multimodal.engine.config import EngineConfig
    from multimodal.engine.engine import Engine

    seen: list[weakref.ref] = []

    def make():
        yield "first token"
        raise DeadlineExceeded("ask took longer than its 3 s limit; it was stopped")

    def consumer(engine: Engine) -> None:
        photos = Photos()
        seen.append(weakref.ref(photos))
        for _ in Stream(engine, make, Deadline(30.0, "ask"), "answerer"):
            pass

    engine = Engine(EngineConfig())
    try:
        assert _freed_after_error(lambda: consumer(engine), seen), "the stream's frames are kept by a cycle"
    finally:
        engine.stop()


def _freed_after_error(call, seen: list[weakref.ref]) -> bool:
    """Whether what ``seen`` refers to is gone once ``call()`` raised ``DeadlineExceeded`` (the error must come;
    the cycle collector is off meanwhile: only reference counts free anything)."""
    gc.disable()
    try:
        try:
            call()
        except DeadlineExceeded:
            pass
        else:
            raise AssertionError("the error was not raised")
        return seen[0]() is None
    finally:
        gc.enable()
