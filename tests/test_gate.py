"""The model gate (over the serving engine's call workers) and deadlines: never held across a yield, released
on disconnect and error, waits bounded, cancelled work never started, a full line refused at once (issue 12:
H1, H2, D2; issue 18)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from demos.gate import GateFullError, ModelGate
from demos.model_calls import ModelCalls
from multimodal.deadline import Deadline, DeadlineExceeded, check_deadline, deadline_scope
from multimodal.engine.config import EngineConfig
from multimodal.engine.engine import Engine


def make_gate(slots: int, queue: int) -> ModelGate:
    """A gate over call workers only (``slots`` threads each, ``queue`` waiting)."""
    return ModelGate(Engine(EngineConfig(call_threads=slots, queue_size=queue)))


def test_deadline_check_and_scope():
    d = Deadline(0.05, "the probe")
    with deadline_scope(d):
        check_deadline("start")
        time.sleep(0.06)
        with pytest.raises(DeadlineExceeded, match="the probe took longer than its 0.05 s limit .at work."):
            check_deadline("work")
    check_deadline("outside")  # no deadline outside a request
    c = Deadline(10)
    assert c.try_start() and not c.cancel(unless_started=True) and not c.cancelled
    c2 = Deadline(10)
    assert c2.cancel(unless_started=True) and not c2.try_start()


def test_stream_closed_before_first_item_frees_the_gate():
    gate = make_gate(1, 4)
    produced = []

    def slow_items():
        for i in range(1000):
            check_deadline("item")
            time.sleep(0.01)
            produced.append(i)
            yield i

    items = gate.stream(slow_items, Deadline(30))
    assert next(items) == 0
    items.close()  # the client hung up
    t0 = time.monotonic()
    gate.run(lambda: None, Deadline(1.0), lane="answerer")  # the next request gets the worker at once
    assert time.monotonic() - t0 < 0.5
    time.sleep(0.1)
    n = len(produced)
    time.sleep(0.1)
    assert len(produced) == n < 1000  # the producer stopped


def test_stream_closed_without_being_iterated_frees_the_gate():
    gate = make_gate(1, 4)
    produced = []

    def endless():
        while True:
            check_deadline("item")
            time.sleep(0.005)
            produced.append(1)
            yield 1

    gate.stream(endless, Deadline(30)).close()  # queued, then its client went away before reading
    gate.run(lambda: None, Deadline(2.0), lane="answerer")  # the worker is free again
    n = len(produced)
    time.sleep(0.1)
    assert len(produced) == n  # the producer stopped


def test_wait_for_the_gate_has_a_deadline_and_cancelled_work_never_starts():
    gate = make_gate(1, 4)
    release = threading.Event()
    holder = threading.Thread(target=gate.run, args=(release.wait, Deadline(30)))
    holder.start()
    time.sleep(0.05)
    ran = []
    t0 = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="waited"):
        gate.run(lambda: ran.append(1), Deadline(0.2))
    assert 0.15 < time.monotonic() - t0 < 1.0
    cancelled = Deadline(30)
    cancelled.cancel()
    release.set()
    holder.join()
    with pytest.raises(DeadlineExceeded, match="nothing was done"):
        gate.run(lambda: ran.append(2), cancelled)
    assert ran == []


def test_full_line_is_refused_at_once():
    gate = make_gate(1, 1)
    release = threading.Event()
    threading.Thread(target=gate.run, args=(release.wait, Deadline(30)), daemon=True).start()
    time.sleep(0.05)
    waiter = threading.Thread(target=gate.run, args=(lambda: None, Deadline(30)), daemon=True)
    waiter.start()
    time.sleep(0.05)
    t0 = time.monotonic()
    with pytest.raises(GateFullError, match="busy"):
        gate.run(lambda: None, Deadline(30))
    assert time.monotonic() - t0 < 0.1
    release.set()
    waiter.join()


def test_error_releases_the_gate():
    gate = make_gate(1, 2)

    def boom():
        raise ValueError("bad")

    with pytest.raises(ValueError):
        gate.run(boom, Deadline(5))
    gate.run(lambda: None, Deadline(0.2))
    assert gate.stats()["busy"] == 0


def test_model_calls_timeout_stops_reads_and_never_applies_late_writes():
    async def scenario():
        calls = ModelCalls(make_gate(1, 8), timeout_s=0.3)
        steps = []

        def long_read():
            for i in range(100):
                check_deadline("read")
                steps.append(i)
                time.sleep(0.02)

        with pytest.raises(DeadlineExceeded):
            await calls.run(long_read)
        await asyncio.sleep(0.1)
        n = len(steps)
        await asyncio.sleep(0.1)
        assert len(steps) == n < 100  # stopped at its next check, not run to the end

        # a write queued behind a busy gate past its deadline is never applied
        applied = []
        blocker = asyncio.ensure_future(calls.run(lambda: time.sleep(0.25), write=True))
        await asyncio.sleep(0.02)
        calls2 = calls
        calls2.timeout_s = 0.1
        with pytest.raises(DeadlineExceeded):
            await calls2.run(lambda: applied.append(1), write=True)
        await blocker
        await asyncio.sleep(0.1)
        assert applied == []

        # a write that started in time finishes and is answered even past the deadline
        calls.timeout_s = 0.1
        assert await calls.run(lambda: (time.sleep(0.3), "done")[1], write=True) == "done"

    asyncio.run(scenario())


def test_model_calls_stream_cancel_frees_the_gate():
    async def scenario():
        gate = make_gate(1, 8)
        calls = ModelCalls(gate, timeout_s=30)

        def items():
            for i in range(10_000):
                check_deadline("item")
                time.sleep(0.005)
                yield i

        agen = calls.stream(items)
        assert await agen.__anext__() == 0
        await agen.aclose()
        t0 = time.monotonic()
        await calls.run(lambda: None, lane="answerer")  # the worker the stream ran on
        assert time.monotonic() - t0 < 0.5 and gate.stats()["busy"] == 0

    asyncio.run(scenario())


def test_failures_of_abandoned_work_are_logged(caplog):
    async def scenario():
        calls = ModelCalls(make_gate(1, 4), timeout_s=0.1)

        def fails_late():
            time.sleep(0.3)
            raise RuntimeError("disk full")

        with pytest.raises(DeadlineExceeded):
            await calls.run(fails_late, write=False)
        await asyncio.sleep(0.4)

    with caplog.at_level("WARNING", logger="sceneqa.serve"):
        asyncio.run(scenario())
    assert any("abandoned" in r.message and "disk full" in r.message for r in caplog.records)
