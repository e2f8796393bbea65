"""A model worker: threads that own one kind of model call, pull :class:`~multimodal.engine.jobs.Job` s from
a bounded queue and run them, gathering several into one call when the worker batches.

Batching (``max_batch`` > 1): the first job taken starts a batch; more are taken while the batch holds fewer than
``max_batch`` items, waiting at most ``max_wait_s`` after the first for them (Triton's dynamic batcher,
TorchServe's max batch delay) when the previous batch had company. A job that would overflow the batch opens the
next one. A batch runs as one or more passes of at most ``pass_items`` items (the model's most efficient size),
earliest deadline first. Right before each pass its jobs are admitted: one whose deadline passed (or was cancelled)
while it waited is dropped (``DeadlineExceeded``, counted as expired) and costs no model time, and so is one with
less time left than the pass is predicted to take (``predict``); a full queue first drops the jobs whose clients
already gave up. A pass that outlasts a job's deadline (it started in time) is counted (``overran``): short passes,
each admitted against its own predicted time, keep that rare and bound it to one short pass.
"""

from __future__ import annotations

import logging
import os
import queue as queue_mod
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence

from multimodal.deadline import DeadlineExceeded
from multimodal.engine.jobs import EngineBusyError, EngineObserver, Job, NullObserver

log = logging.getLogger("sceneqa.serve")

#: a job is started only if at least its pass's predicted time is left before its deadline (else its answer would
#: come after its client was told 504, and the pass would run on past the deadline). Workers made with ``predict``
#: predict a pass as (items in it) x (the second-slowest seconds per item of their last PREDICT_FROM passes, once
#: PREDICT_MIN are known): an upper estimate, as passes on a saturated machine vary ~2x, yet one odd pass cannot
#: move it. Measured (``sceneqa bench serve``'s deadline scenario, lite, 64 clients, 1 s deadlines): with 0.75 x
#: the median and whole batches as one pass, 32-50 items per 10 s were in passes that outlasted their deadline
PREDICT_FROM = 9
PREDICT_MIN = 3
#: run(list of admitted jobs) -> one result per job, in order (raising fails every job of the batch)
BatchFn = Callable[[Sequence[Job]], Sequence[object]]


class Worker:
    def __init__(
        self,
        name: str,
        run: BatchFn,
        *,
        max_batch: int = 1,
        pass_items: int | None = None,
        max_wait_s: float = 0.0,
        queue_size: int = 32,
        threads: int = 1,
        observer: EngineObserver | None = None,
        predict: bool = False,
        nice: int = 0,
    ) -> None:
        self.name = name
        self.max_batch = max_batch
        self.pass_items = max(1, pass_items or max_batch)
        self.max_wait_s = max_wait_s
        self.queue_size = queue_size
        self.threads = threads
        self._run = run
        self._observer = observer or NullObserver()
        self._queue: queue_mod.Queue[Job] = queue_mod.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._busy = 0
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._predict = predict
        self.nice = nice
        self._per_item: deque[float] = deque(maxlen=PREDICT_FROM)  # seconds per item of the last passes
        self._company = False  # whether the last batch gathered more than one job

    @property
    def depth(self) -> int:
        """Jobs waiting (not counting those running)."""
        return self._queue.qsize()

    @property
    def busy(self) -> int:
        """Batches running now."""
        return self._busy

    def submit(self, job: Job) -> Job:
        """Queue ``job`` (returns at once); :class:`EngineBusyError` when the queue is full."""
        self._start()
        try:
            self._queue.put_nowait(job)
        except queue_mod.Full:
            if self._drop_abandoned():
                return self.submit(job)
            self._observer.rejected(self.name)
            raise EngineBusyError(
                f"the server is busy: {self.queue_size} requests already wait for the {self.name} model; "
                "retry in a second"
            ) from None
        return job

    def stop(self) -> None:
        self._stop.set()

    def _start(self) -> None:
        if self._threads:  # started on first use: building an app starts no thread
            return
        with self._lock:
            if self._threads or self._stop.is_set():
                return
            for i in range(self.threads):
                t = threading.Thread(target=self._loop, name=f"sceneqa-{self.name}-{i}", daemon=True)
                t.start()
                self._threads.append(t)

    def _loop(self) -> None:
        lower_priority(self.nice)
        carry: Job | None = None
        while not self._stop.is_set():
            if carry is None:
                try:
                    carry = self._queue.get(timeout=0.2)
                except queue_mod.Empty:
                    continue
            batch, carry = self._gather(carry)
            for run in passes(batch, self.pass_items):
                needs = self._predict_s(sum(job.size for job in run))
                live = [job for job in run if self._admitted(job, needs)]
                if live:
                    self._execute(live)

    def _gather(self, first: Job) -> tuple[list[Job], Job | None]:
        """``(batch starting with first, a job taken that did not fit or None)``. The queued jobs are taken
        at once; waiting up to ``max_wait_s`` for more happens only when the previous batch had company: a lone
        client is not kept waiting for others who are not there (under load, jobs queue during each pass)."""
        batch, items = [first], first.size
        if self.max_batch <= 1:
            return batch, None
        until = time.monotonic() + (self.max_wait_s if self._company else 0.0)
        carry = None
        while items < self.max_batch:
            try:
                left = until - time.monotonic()
                job = self._queue.get_nowait() if left <= 0 else self._queue.get(timeout=left)
            except queue_mod.Empty:
                break
            if items + job.size > self.max_batch:
                carry = job
                break
            batch.append(job)
            items += job.size
        self._company = len(batch) > 1 or carry is not None
        return batch, carry

    def _predict_s(self, items: int) -> float:
        """Seconds a pass of ``items`` is predicted to take (0: no prediction yet); see :data:`PREDICT_FROM`."""
        if not self._predict or len(self._per_item) < PREDICT_MIN:
            return 0.0
        return sorted(self._per_item)[-2] * items

    def _admitted(self, job: Job, needs_s: float) -> bool:
        if job.admit(needs_s):
            return True
        self._observer.expired(self.name)
        return False

    def _drop_abandoned(self) -> bool:
        """Fail (504, counted as expired) the queued jobs whose deadline passed or whose client went away, so
        that they stop holding places a live request could have; True when any place was freed."""
        q = self._queue
        with q.mutex:
            gone = [job for job in q.queue if job.deadline is not None and job.deadline.expired]
            if not gone:
                return False
            for job in gone:
                q.queue.remove(job)
            q.not_full.notify(len(gone))
        for job in gone:
            job.admit()  # past its deadline: fails the job with the reason, nothing runs
            self._observer.expired(self.name)
        return True

    def _execute(self, jobs: list[Job]) -> None:
        with self._lock:
            self._busy += 1
        t0 = time.perf_counter()
        try:
            results = self._run(jobs)
        except BaseException as exc:  # every job of the batch gets the error; the worker goes on
            seconds = time.perf_counter() - t0
            # the failed call's frames (finished; kept by the traceback the jobs' waiters will raise) drop their
            # locals now: else an ask's decoded photos live on until the cycle collector's next full pass
            # (measured: 180-360 MB at the end of the adversarial run; tests/test_memory_failed_calls.py)
            traceback.clear_frames(exc.__traceback__)
            for job in jobs:
                if job.deadline is not None and job.deadline.cancelled and not isinstance(exc, DeadlineExceeded):
                    log.warning("abandoned %s failed after its client was answered: %s", job.deadline.what, exc)
                job.fail(exc, seconds)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            with self._lock:
                self._busy -= 1
        seconds = time.perf_counter() - t0
        items = sum(j.size for j in jobs)
        self._observer.batch(self.name, items, seconds)
        if self._predict:
            self._per_item.append(seconds / max(1, items))
        now = time.monotonic()
        for job in jobs:
            if job.deadline is not None and not job.write and job.deadline.at < now:
                self._observer.overran(self.name)
        for job, result in zip(jobs, results, strict=True):
            job.finish(result, seconds)


def passes(jobs: Sequence[Job], pass_items: int) -> list[list[Job]]:
    """``jobs`` earliest deadline first (no deadline: last; ties keep arrival order), cut into passes of at most
    ``pass_items`` items; a job is never split (one bigger than ``pass_items`` is a pass of its own)."""
    order = sorted(jobs, key=lambda job: job.deadline.at if job.deadline is not None else float("inf"))
    out: list[list[Job]] = []
    items = 0
    for job in order:
        if not out or items + job.size > pass_items:
            out.append([])
            items = 0
        out[-1].append(job)
        items += job.size
    return out


def lower_priority(nice: int) -> None:
    """Raise the calling thread's nice value by ``nice`` (Linux: per thread; the threads a model library starts
    from it later, e.g. its OpenMP team, inherit it). Model work then yields the CPU to the server's event loop,
    so health checks and refusals stay prompt while the cores are saturated. Elsewhere (one value per process),
    or when refused, nothing changes."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as exc:
        log.debug("could not lower the priority of %s: %s", threading.current_thread().name, exc)
