"""The serving engine: named workers (``image`` and ``text`` embedding, batched; ``answerer`` and
``generic``, whole calls one at a time per thread) and the lanes requests reach them by.

- ``embed(kind, items)``: one request's images or texts, gathered with other requests' into one forward pass
  of the encoder (the image and text workers run in parallel);
- ``call(fn, deadline, lane=...)``: a whole model call (``ask`` on the answerer worker; inspectors, teaching
  and catalog writes on the generic one) run on the worker's thread under the request's deadline;
- work that needs no model (FAISS search, filters, decoding) runs in the request's own thread, never on a
  worker.

Every queue is bounded (a full one refuses at once: :class:`EngineBusyError`) and every job carries its
request's deadline: one that passes while the job waits drops the job before the model sees it. Nothing
starts before the first job (threads start on first use); :meth:`Engine.stop` ends them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from multimodal.deadline import Deadline, current_deadline, deadline_scope
from multimodal.engine.config import EngineConfig
from multimodal.engine.jobs import EngineObserver, Job, NullObserver
from multimodal.engine.worker import Worker
from multimodal.errors import ConfigError

T = TypeVar("T")
EMBED_KINDS = ("image", "text")
CALL_LANES = ("answerer", "generic")


class Engine:
    """``embed_images``/``embed_texts``: the encoder's batched forward passes (``encoder`` None: no embedding
    workers); ``call``: whole model calls on the answerer or generic worker."""

    def __init__(self, config: EngineConfig, encoder=None, observer: EngineObserver | None = None) -> None:
        self.config = config
        self.observer = observer or NullObserver()
        self.workers: dict[str, Worker] = {}
        for lane in CALL_LANES:
            self.workers[lane] = Worker(
                lane,
                _run_calls,
                queue_size=config.queue_size,
                threads=config.call_threads,
                observer=self.observer,
                nice=config.model_nice,
            )
        if encoder is not None:
            for kind, fn in (("image", encoder.embed_images), ("text", encoder.embed_texts)):
                self.workers[kind] = Worker(
                    kind,
                    _forward(fn),
                    max_batch=config.max_batch,
                    # the encoder's own most efficient pass where it says (lite on the CPU: 4 images)
                    pass_items=getattr(encoder, "images_per_pass", None) if kind == "image" else None,
                    max_wait_s=config.max_wait_s,
                    queue_size=config.queue_size,
                    observer=self.observer,
                    predict=True,
                    nice=config.model_nice,
                )
        self._dim = getattr(encoder, "dim", 0)

    def embed(self, kind: str, items: Sequence) -> np.ndarray:
        """``(len(items), dim)`` float32 unit rows, in input order, computed in one batch with other
        requests' items; under the current request's deadline (dropped unseen when it passes in the queue)."""
        if kind not in EMBED_KINDS or kind not in self.workers:
            raise ConfigError(f"no {kind!r} embedding worker; this engine has: {', '.join(self.workers)}")
        if not items:
            return np.zeros((0, self._dim), np.float32)
        job = self.workers[kind].submit(Job(list(items), len(items), current_deadline()))
        return job.wait()  # type: ignore[return-value]

    def call(self, fn: Callable[[], T], deadline: Deadline | None, *, lane: str = "generic", write: bool = False) -> T:
        """``fn()`` on the ``lane`` worker (blocking until it is done, or the deadline passes; see
        :meth:`Job.wait`). Inside, reads see ``deadline`` as the current one (``check_deadline``); a write
        sees none: once started it runs to the end."""
        return self.submit_call(fn, deadline, lane=lane, write=write).wait()  # type: ignore[return-value]

    def submit_call(self, fn: Callable[[], object], deadline: Deadline | None, *, lane: str, write: bool = False):
        """Queue ``fn`` on ``lane`` and return its :class:`Job` at once (streams read their items elsewhere)."""
        if lane not in CALL_LANES:
            raise ConfigError(f"unknown lane {lane!r}; use one of {', '.join(CALL_LANES)}")
        return self.workers[lane].submit(Job(fn, 1, deadline, write=write))

    def stats(self) -> dict[str, object]:
        """Never blocks: ``busy`` batches running and ``waiting`` jobs queued over all workers, and per worker."""
        per = {n: {"busy": w.busy, "waiting": w.depth, "queue": w.queue_size} for n, w in self.workers.items()}
        return {
            "busy": sum(w["busy"] for w in per.values()),
            "waiting": sum(w["waiting"] for w in per.values()),
            "slots": self.config.call_threads,
            "max_batch": self.config.max_batch,
            "workers": per,
        }

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()


def _run_calls(jobs: Sequence[Job]) -> list[object]:
    """A call worker's batch is one job: its callable, under its deadline (none for a write)."""
    (job,) = jobs
    with deadline_scope(None if job.write else job.deadline):
        return [job.payload()]  # type: ignore[operator]


def _forward(embed: Callable[[list], np.ndarray]) -> Callable[[Sequence[Job]], list[np.ndarray]]:
    """One forward pass over the items of all jobs, split back into each job's rows."""

    def run(jobs: Sequence[Job]) -> list[np.ndarray]:
        items = [item for job in jobs for item in job.payload]  # type: ignore[attr-defined]
        with deadline_scope(None):  # the batch is shared: no single request's deadline may stop it
            out = np.concatenate(
                [np.asarray(embed(items[a:b]), dtype=np.float32) for a, b in shape_buckets(len(items))]
            )
        bounds = np.cumsum([0, *(job.size for job in jobs)])
        return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    return run


def shape_buckets(n: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into runs whose lengths are powers of two, largest first (13 -> 8, 4, 1): a long-lived
    server's forward passes then take only log2(max batch) + 1 batch shapes. Every new shape keeps memory in
    oneDNN's primitive cache and the allocator (measured on the lite encoder: batches of random sizes 1..16 grew
    the process by ~300 MB, one size by nothing), so a server fed every size from 1 to --max-batch grows for
    long after its warm-up; the runs are computed in order, with no padding rows (no wasted work)."""
    out, start = [], 0
    while start < n:
        size = 1 << ((n - start).bit_length() - 1)
        out.append((start, start + size))
        start += size
    return out
