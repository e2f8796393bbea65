"""The engine's deadline rules beyond the queue (issue 18): abandoned jobs free their queue places, a job too
short of time for the pass about to run is not started, a pass that outlasts a job's deadline is counted, and
forward passes take only power-of-two batch shapes (each new shape keeps memory in a long-lived server).
Stand-in models block on Events: assertions are about order of events, not time."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from multimodal.deadline import Deadline, DeadlineExceeded, deadline_scope
from multimodal.engine.config import EngineConfig
from multimodal.engine.engine import Engine, shape_buckets
from multimodal.engine.jobs import Job
from multimodal.engine.worker import Worker, passes
from multimodal.errors import ConfigError
from tests.test_engine import Recorder, StandInEncoder, in_threads, wait_until


@pytest.mark.parametrize("n", [*range(0, 40), 64, 100, 1023])
def test_shape_buckets_cover_the_batch_in_order_with_power_of_two_runs(n):
    runs = shape_buckets(n)
    assert [a for a, _ in runs] == [0, *[b for _, b in runs]][: len(runs)]  # contiguous, in order
    assert (runs[-1][1] if runs else 0) == n
    sizes = [b - a for a, b in runs]
    assert all(s & (s - 1) == 0 for s in sizes) and sizes == sorted(sizes, reverse=True)
    assert len(sizes) == bin(n).count("1")  # as few passes as power-of-two shapes allow


def _job(name: str, size: int = 1, deadline_s: float | None = None) -> Job:
    return Job(name, size, None if deadline_s is None else Deadline(deadline_s, name))


def test_passes_are_earliest_deadline_first_and_never_split_a_job():
    a, b, c = _job("a", deadline_s=30), _job("b", deadline_s=5), _job("c")
    d, e, big = _job("d", deadline_s=5), _job("e", 2, deadline_s=1), _job("big", 9, deadline_s=10)
    got = passes([a, b, c, d, e, big], 4)
    # e (1 s) first; b and d (5 s, arrival order kept); big (10 s) alone, over the size; a (30 s); c (none) last
    assert [[j.payload for j in p] for p in got] == [["e", "b", "d"], ["big"], ["a", "c"]]
    assert [[j.payload for j in p] for p in passes([a, c], 1)] == [["a"], ["c"]]
    assert passes([], 4) == []


def test_a_job_whose_deadline_passes_during_an_earlier_pass_of_its_batch_is_dropped_unrun():
    seen: list[list[str]] = []
    blocker_in, release = threading.Event(), threading.Event()
    late = _job("late", deadline_s=1.2)

    def run(jobs):
        seen.append([j.payload for j in jobs])
        if jobs[0].payload == "blocker":
            blocker_in.set()
            release.wait(10)
        elif jobs[0].payload == "soon":
            wait_until(lambda: late.deadline.expired)  # this pass lasts past the later job's deadline
        return [j.payload for j in jobs]

    obs = Recorder()
    worker = Worker("image", run, max_batch=8, pass_items=2, observer=obs)
    worker.submit(_job("blocker"))
    blocker_in.wait(10)
    jobs = [_job("free"), late, _job("soon", deadline_s=1.0), _job("soon2", deadline_s=1.1)]
    for job in jobs:
        worker.submit(job)
    wait_until(lambda: worker.depth == 4)
    release.set()
    wait_until(lambda: all(job.done for job in jobs))
    # earliest deadlines first, 2 items a pass; "late" was due before its pass began: dropped, "free" ran alone
    assert seen == [["blocker"], ["soon", "soon2"], ["free"]]
    assert isinstance(late.error, DeadlineExceeded) and obs.expired_n == 1
    assert [jobs[i].result for i in (0, 2, 3)] == ["free", "soon", "soon2"]
    assert obs.overran_n == 2  # the long pass outlasted its own two jobs' deadlines, and is counted
    worker.stop()


def test_a_full_queue_first_drops_jobs_whose_clients_gave_up():
    enc, obs = StandInEncoder(), Recorder()
    engine = Engine(EngineConfig(max_batch=1, queue_size=2), enc, observer=obs)
    first, _ = in_threads(engine, [100])
    enc.entered.wait(10)
    gone, out = in_threads(engine, [1, 2], deadline_s=0.05)
    for t in gone:
        t.join()  # both answered "gave up"; their jobs still hold the queue's 2 places
    assert all(isinstance(out[x], DeadlineExceeded) for x in (1, 2))
    assert engine.workers["image"].depth == 2
    live, out3 = in_threads(engine, [3])  # not refused: the abandoned jobs are dropped for it
    wait_until(lambda: obs.expired_n == 2)
    assert obs.rejected_n == 0
    enc.release.set()
    for t in [*first, *live]:
        t.join()
    assert enc.seen == [[100], [3]] and out3[3].shape == (1, 2)
    engine.stop()


def test_a_job_with_less_time_left_than_the_pass_needs_is_not_started():
    enc, obs = StandInEncoder(hold=False), Recorder()
    engine = Engine(EngineConfig(max_batch=4, max_wait_ms=0), enc, observer=obs)
    engine.embed("image", [0])  # starts the worker
    engine.workers["image"]._per_item.extend([5.0, 5.0, 5.0])  # as if each item had taken 5 s lately
    with deadline_scope(Deadline(1.0, "request 1")):
        with pytest.raises(DeadlineExceeded, match="less than the 5.00 s its model pass takes now"):
            engine.embed("image", [1])
    assert enc.seen == [[0]] and obs.expired_n == 1  # never reached the model
    with deadline_scope(Deadline(30.0, "request 2")):
        assert engine.embed("image", [2]).shape == (1, 2)  # enough time: runs
    assert enc.seen == [[0], [2]]
    engine.stop()


def test_one_slow_pass_does_not_make_the_worker_drop_jobs():
    enc = StandInEncoder(hold=False)
    engine = Engine(EngineConfig(max_batch=4, max_wait_ms=0), enc)
    engine.embed("image", [0])
    engine.workers["image"]._per_item.extend([0.001, 0.001, 9.0])  # one odd pass among fast ones
    with deadline_scope(Deadline(1.0, "request 1")):
        assert engine.embed("image", [1]).shape == (1, 2)
    engine.stop()


def test_a_pass_that_outlasts_a_deadline_is_counted_as_overran():
    enc, obs = StandInEncoder(), Recorder()
    engine = Engine(EngineConfig(max_batch=1), enc, observer=obs)
    threads, out = in_threads(engine, [1], deadline_s=0.2)
    enc.entered.wait(10)  # started in time
    deadline = Deadline(0.3)
    wait_until(lambda: deadline.expired)  # the request's 0.2 s passed during its pass
    assert obs.overran_n == 0
    enc.release.set()
    threads[0].join()
    wait_until(lambda: obs.overran_n == 1)
    assert isinstance(out[1], DeadlineExceeded) and "was stopped" in str(out[1])
    engine.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_model_workers_run_at_a_lower_cpu_priority_than_the_request_threads():
    seen: dict[str, int] = {}

    def nice_of_this_thread():
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return 1

    engine = Engine(EngineConfig(model_nice=5))
    assert engine.call(nice_of_this_thread, None) == 1
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert seen["worker"] == min(19, here + 5)
    engine.stop()
    same = Engine(EngineConfig(model_nice=0))
    same.call(nice_of_this_thread, None)
    assert seen["worker"] == here
    same.stop()
    with pytest.raises(ConfigError, match="--model-nice must be in 0..19, got 20"):
        EngineConfig(model_nice=20)


def test_the_image_worker_runs_its_batches_in_the_encoders_passes():
    enc = StandInEncoder()
    enc.images_per_pass = 2  # as lite says on the CPU (4 there)
    engine = Engine(EngineConfig(max_batch=16, max_wait_ms=0), enc)
    assert engine.workers["image"].pass_items == 2 and engine.workers["text"].pass_items == 16
    first, _ = in_threads(engine, [100])
    enc.entered.wait(10)
    threads, out = in_threads(engine, [1, 2, 3, 4, 5])
    wait_until(lambda: engine.workers["image"].depth == 5)
    enc.release.set()
    for t in [*first, *threads]:
        t.join()
    assert [len(p) for p in enc.seen] == [1, 2, 2, 1]  # one batch of 5, run as passes of 2, 2 and 1
    assert sorted(x for p in enc.seen[1:] for x in p) == [1, 2, 3, 4, 5]
    assert all(out[x][0, 0] > 0 for x in (1, 2, 3, 4, 5))
    engine.stop()


def test_a_lone_job_does_not_wait_for_company_but_a_batch_after_company_does():
    seen: list[list[str]] = []
    worker = Worker("image", lambda jobs: seen.append([j.payload for j in jobs]) or [1] * len(jobs), max_batch=4)
    worker.max_wait_s = 30.0  # were it to wait for company, the job would not be done for 30 s
    lone = worker.submit(_job("lone"))
    wait_until(lambda: lone.done)
    assert seen == [["lone"]] and not worker._company
    hold = threading.Event()
    blocked = Worker("image", lambda jobs: hold.wait(10) and [1] * len(jobs), max_batch=4, max_wait_s=30.0)
    first = blocked.submit(_job("first"))
    a, b = blocked.submit(_job("a")), blocked.submit(_job("b"))  # queued together behind the first pass
    hold.set()
    wait_until(lambda: first.done and a.done and b.done)
    assert blocked._company  # a and b were gathered together: the next lone job would wait for company
    worker.stop()
    blocked.stop()
