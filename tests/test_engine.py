"""The serving engine's workers (issue 18): concurrent requests share one forward pass, results come back to
their own requests in order and equal single calls, a request whose deadline passes while queued never
reaches the model, a full queue is refused at once. Stand-in models record what they were given and block on
an Event, so every assertion is about order of events, never about time."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from multimodal.deadline import Deadline, DeadlineExceeded, deadline_scope
from multimodal.engine.config import EngineConfig
from multimodal.engine.engine import Engine
from multimodal.engine.jobs import EngineBusyError
from multimodal.errors import ConfigError


class Recorder:
    """Engine observer that counts."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, int]] = []
        self.expired_n = 0
        self.rejected_n = 0
        self.overran_n = 0

    def batch(self, worker, size, seconds):
        self.batches.append((worker, size))

    def expired(self, worker):
        self.expired_n += 1

    def rejected(self, worker):
        self.rejected_n += 1

    def overran(self, worker):
        self.overran_n += 1


class StandInEncoder:
    """``embed_images(items)`` -> rows ``[item, 1]`` normalised; records every batch; the first call waits for
    ``release`` when ``hold`` is set (so later requests pile up in the queue)."""

    dim = 2

    def __init__(self, hold: bool = True) -> None:
        self.seen: list[list] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        if not hold:
            self.release.set()

    def embed_images(self, items):
        self.seen.append(list(items))
        self.entered.set()
        self.release.wait(30)
        v = np.array([[float(x), 1.0] for x in items], np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    embed_texts = embed_images


def wait_until(cond, limit_s: float = 10.0) -> None:
    stop = time.monotonic() + limit_s
    while not cond():
        assert time.monotonic() < stop, "condition not reached"
        time.sleep(0.005)


def in_threads(engine: Engine, items: list[int], deadline_s: float = 30.0) -> tuple[list[threading.Thread], dict]:
    """One thread per item, each embedding ``[item]`` under its own deadline; results/errors by item."""
    out: dict = {}

    def one(x: int) -> None:
        with deadline_scope(Deadline(deadline_s, f"request {x}")):
            try:
                out[x] = engine.embed("image", [x])
            except Exception as exc:  # recorded for the assertions
                out[x] = exc

    threads = [threading.Thread(target=one, args=(x,)) for x in items]
    for t in threads:
        t.start()
    return threads, out


def test_requests_that_arrive_together_share_one_forward_pass_and_get_their_own_rows():
    enc, obs = StandInEncoder(), Recorder()
    engine = Engine(EngineConfig(max_batch=16, max_wait_ms=0), enc, observer=obs)
    first, _ = in_threads(engine, [100])
    enc.entered.wait(10)  # the worker is inside the model with request 100
    threads, out = in_threads(engine, list(range(1, 9)))
    wait_until(lambda: engine.workers["image"].depth == 8)
    enc.release.set()
    for t in [*first, *threads]:
        t.join()
    assert enc.seen == [[100], [1, 2, 3, 4, 5, 6, 7, 8]]  # 8 requests, one forward pass
    assert ("image", 8) in obs.batches
    for x in range(1, 9):
        expected = np.array([x, 1.0], np.float32) / np.hypot(x, 1.0)
        np.testing.assert_allclose(out[x][0], expected, rtol=1e-6)  # each request got its own row
    engine.stop()


def test_batches_are_capped_at_max_batch_and_a_large_request_runs_alone():
    enc = StandInEncoder()
    engine = Engine(EngineConfig(max_batch=4, max_wait_ms=0), enc)
    first, _ = in_threads(engine, [100])
    enc.entered.wait(10)
    threads, out = in_threads(engine, list(range(1, 11)))
    wait_until(lambda: engine.workers["image"].depth == 10)
    enc.release.set()
    for t in [*first, *threads]:
        t.join()
    assert [len(b) for b in enc.seen] == [1, 4, 4, 2]
    assert sorted(x for b in enc.seen[1:] for x in b) == list(range(1, 11))
    big = engine.embed("image", list(range(6)))  # more than max_batch in one request: passes of its own
    assert big.shape == (6, 2) and enc.seen[-2:] == [[0, 1, 2, 3], [4, 5]]  # cut into power-of-two shapes
    engine.stop()


def test_a_request_whose_deadline_passes_in_the_queue_never_reaches_the_model():
    enc, obs = StandInEncoder(), Recorder()
    engine = Engine(EngineConfig(max_batch=8, max_wait_ms=0), enc, observer=obs)
    first, _ = in_threads(engine, [100])
    enc.entered.wait(10)
    late, out = in_threads(engine, [7], deadline_s=0.05)
    late[0].join()  # it gave up while the model was busy with request 100
    assert isinstance(out[7], DeadlineExceeded) and "gave up" in str(out[7])
    wait_until(lambda: engine.workers["image"].depth == 1)  # still queued: nobody took it out yet
    enc.release.set()
    for t in first:
        t.join()
    wait_until(lambda: engine.workers["image"].depth == 0 and obs.expired_n == 1)
    after, out2 = in_threads(engine, [8])  # the next request is served normally
    after[0].join()
    assert enc.seen == [[100], [8]]  # 7 never reached the model
    assert out2[8].shape == (1, 2)
    engine.stop()


def test_a_full_queue_is_refused_at_once_and_counted():
    enc, obs = StandInEncoder(), Recorder()
    engine = Engine(EngineConfig(max_batch=1, queue_size=2), enc, observer=obs)
    first, _ = in_threads(engine, [100])
    enc.entered.wait(10)
    queued, _ = in_threads(engine, [1, 2])
    wait_until(lambda: engine.workers["image"].depth == 2)
    with pytest.raises(EngineBusyError, match="the server is busy: 2 requests already wait for the image model"):
        engine.embed("image", [3])
    assert obs.rejected_n == 1
    enc.release.set()
    for t in [*first, *queued]:
        t.join()
    engine.stop()


def test_call_lanes_run_whole_calls_under_the_deadline_and_reject_unknown_lanes():
    engine = Engine(EngineConfig())
    seen = []
    with pytest.raises(ConfigError, match="unknown lane 'gpu'; use one of answerer, generic"):
        engine.call(lambda: None, Deadline(5), lane="gpu")
    d = Deadline(5, "probe")
    assert engine.call(lambda: seen.append(1) or "ok", d, lane="answerer") == "ok" and seen == [1]
    with pytest.raises(ConfigError, match="no 'image' embedding worker"):
        engine.embed("image", [1])  # built without an encoder
    engine.stop()


@pytest.mark.parametrize("bad", [{"max_batch": 0}, {"max_wait_ms": -1}, {"queue_size": 0}, {"call_threads": 0}])
def test_config_names_the_bad_setting(bad):
    flag = {"max_batch": "--max-batch", "max_wait_ms": "--max-wait-ms", "queue_size": "--queue-size"}
    with pytest.raises(ConfigError, match=flag.get(next(iter(bad)), "--concurrency")):
        EngineConfig(**bad)


class HeldEncoder:
    """A real encoder whose first forward pass waits for ``release`` (so the next ones pile up)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.sizes: list[int] = []
        self.release = threading.Event()
        self.entered = threading.Event()

    def embed_images(self, images):
        self.sizes.append(len(images))
        self.entered.set()
        self.release.wait(30)
        return self.inner.embed_images(images)

    def embed_texts(self, texts):
        self.sizes.append(len(texts))
        self.entered.set()
        self.release.wait(30)
        return self.inner.embed_texts(texts)


@pytest.mark.parametrize("kind", ["image", "text"])
def test_batched_embeddings_equal_single_calls(tiny_services, kind):
    from PIL import Image

    rng = np.random.default_rng(0)
    if kind == "image":
        items = [Image.fromarray(rng.integers(0, 255, (40 + 8 * i, 48, 3), dtype=np.uint8)) for i in range(6)]
        single = [tiny_services.encoder.embed_images([x])[0] for x in items]
    else:
        items = ["a red mug", "a cat on a mat", "galaxies", "x", "a very long caption " * 5, "tag 7"]
        single = [tiny_services.encoder.embed_texts([x])[0] for x in items]
    held = HeldEncoder(tiny_services.encoder)
    engine = Engine(EngineConfig(max_batch=16, max_wait_ms=0), held)
    out: dict[int, np.ndarray] = {}

    def one(i: int) -> None:
        out[i] = engine.embed(kind, [items[i]])[0]

    threads = [threading.Thread(target=one, args=(0,))]
    threads[0].start()
    held.entered.wait(10)
    threads += [threading.Thread(target=one, args=(i,)) for i in range(1, 6)]
    for t in threads[1:]:
        t.start()
    wait_until(lambda: engine.workers[kind].depth == 5)
    held.release.set()
    for t in threads:
        t.join()
    assert held.sizes == [1, 4, 1]  # really batched: 5 requests in one batch, run as power-of-two shapes
    for i in range(6):
        np.testing.assert_allclose(out[i], single[i], atol=1e-6, rtol=0)
    engine.stop()
